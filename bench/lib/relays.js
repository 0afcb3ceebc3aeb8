'use strict';
// The three relays under test, each set up for N calls and described the same
// way: { name, pid, watchThreads, rssBefore, sessions, stop() }. The relay's
// packet thread(s) run pinned to `cpu`; the generator gets the other core.
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const readline = require('node:readline');
const { bin } = require('./loadgen');
const rtpengine = require('./rtpengine');

function firstLine(child) {
  return new Promise((resolve, reject) => {
    const rl = readline.createInterface({ input: child.stdout });
    rl.once('line', (l) => (rl.close(), resolve(JSON.parse(l))));
    child.once('exit', (code) => reject(new Error(`exited ${code} before reporting`)));
  });
}

function stopper(child) {
  const exited = new Promise((r) => child.once('exit', r));
  return async () => {
    child.stdin.end();
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(t);
  };
}

/** `nice -n N` prefix (the machine is shared: a niced run keeps others' load off the measured cores). */
const niced = (nice, argv) => (nice ? ['nice', '-n', String(nice), ...argv] : argv);
const launch = (argv, opts) => spawn(argv[0], argv.slice(1), opts);

/** Pins the threads of `pid` whose name starts with `prefix` to `cpu`. */
function pinThreads(pid, prefix, cpu) {
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    const comm = fs.readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
    if (comm.startsWith(prefix)) spawnSync('taskset', ['-pc', String(cpu), tid], { stdio: 'ignore' });
  }
}

/** This engine, on the I/O it selects by itself (io_uring here) or on `io` (ESBC_IO_BACKEND). */
async function esbcOn(name, io, { calls, suite, locals, cpu, portMin, portMax, nice }) {
  // A small young generation: V8's semispaces (16 MB by default) would swamp RSS per call.
  const child = launch(niced(nice, [process.execPath, '--expose-gc', '--max-semi-space-size=1', path.join(__dirname, 'esbc-relay.js'),
    JSON.stringify({ calls, profile: suite, locals, portMin, portMax })]), { stdio: ['pipe', 'pipe', 'inherit'], env: io ? { ...process.env, ESBC_IO_BACKEND: io } : process.env });
  const r = await firstLine(child);
  if (cpu !== undefined) pinThreads(child.pid, 'esbc-media-', cpu);
  return { name, pid: child.pid, watchThreads: 'esbc-media-', rssBefore: r.rssBefore, sessions: r.sessions, io: r.io, stop: stopper(child) };
}

const esbc = (opts) => esbcOn('esbc', undefined, opts);
/** The engine on its epoll fallback (not in the default set): what a machine without io_uring gets. */
const esbcEpoll = (opts) => esbcOn('esbc-epoll', 'epoll', opts);

/** A baseline relay binary (plain RTP both ways): `uring-relay` or `trivial-relay`. */
async function baseline(name, binary, { calls, locals, cpu, portMin, portMax, nice }) {
  const args = [bin(binary), '--calls', String(calls), '--port-min', String(portMin), '--port-max', String(portMax)];
  const child = launch(niced(nice, cpu === undefined ? args : ['taskset', '-c', String(cpu), ...args]), { stdio: ['pipe', 'pipe', 'inherit'] });
  const r = await firstLine(child);
  const { localFor } = require('./sessions');
  const sessions = {
    calls: r.ports.map(([a, b], i) => ({
      legs: [{ local: localFor(locals, i, 0), remote: `127.0.0.1:${a}` }, { local: localFor(locals, i, 1), remote: `127.0.0.1:${b}` }],
    })),
  };
  return { name, pid: child.pid, watchThreads: '', rssBefore: r.rssBefore, sessions, stop: stopper(child) };
}

/** Receive and send, nothing else, on the engine's default I/O (io_uring, connected twins). */
const trivial = (opts) => baseline('trivial', 'uring-relay', opts);
/** The same on epoll + recvmmsg + sendto (not in the default set): the engine's fallback I/O. */
const trivialEpoll = (opts) => baseline('trivial-epoll', 'trivial-relay', opts);

/** A fresh rtpengine per step, so memory per call starts from a clean process. */
async function rtpe({ calls, suite, locals, cpu, portMin, portMax, nice }) {
  const r = await rtpengine.startRtpengine({ portMin, portMax, threads: 1, cpu, nice });
  try {
    await new Promise((res) => setTimeout(res, 200));
    const rssBefore = rssOf(r.pid);
    const made = [];
    for (let i = 0; i < calls; i++) made.push(await rtpengine.bridge(r.ng, i, { locals, suite }));
    return {
      name: 'rtpengine', pid: r.pid, watchThreads: '', rssBefore, sessions: { calls: made.map((m) => m.call) },
      async stop() {
        await r.stop(); // deleting every call first would only add time: the process goes
      },
    };
  } catch (e) {
    await r.stop();
    throw e;
  }
}

function rssOf(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

module.exports = { esbc, 'esbc-epoll': esbcEpoll, trivial, 'trivial-epoll': trivialEpoll, rtpengine: rtpe, rtpengineVersion: rtpengine.version };
