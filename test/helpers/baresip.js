'use strict';
// Run a real baresip 1.0 on loopback as a test peer, driven over ctrl_tcp.
//   const a = await startBaresip({ name: 'alice', toneHz: 440, mediaenc: 'dtls_srtp' });
//   await a.dial('sip:bob@127.0.0.1:' + b.sipPort); await a.waitEvent('CALL_ESTABLISHED');
//   ... await a.stop(); toneReport(a.heardFiles()[0], 880, [440]); a.cleanup();
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { EventEmitter } = require('node:events');
const { CtrlClient } = require('./baresip-ctrl');
const { readWav } = require('./wav');
const { writeBaresipDir } = require('./baresip-config');
const { freePort, freePortRange, releasePorts } = require('./ports');
const { spawnTracked, stopChild, trackTempDir, removeTempDir } = require('./procs');

const BARESIP = process.env.BARESIP_BIN || '/usr/bin/baresip';

class Baresip extends EventEmitter {
  constructor(o, dir, child, ctrl, paths) {
    super();
    Object.assign(this, { opts: o, name: o.name, dir, child, ctrlClient: ctrl, ...paths });
    this.sipPort = o.sipPort;
    this.rtpPorts = o.rtpPorts;
    this.ctrlPort = o.ctrlPort;
    this.transport = o.transport;
    // TLS listener is on the SIP port + 1 (libre convention).
    this.uri =
      o.transport === 'tls'
        ? `sip:${o.name}@127.0.0.1:${o.sipPort + 1};transport=tls`
        : `sip:${o.name}@127.0.0.1:${o.sipPort}`;
    ctrl.on('event', (e) => this.emit('event', e));
    this.stopped = false;
  }

  /** Raw ctrl_tcp command; resolves with { ok, data, token }. */
  ctrl(command, params, timeoutMs) {
    return this.ctrlClient.command(command, params, timeoutMs);
  }

  /** Wait for a ctrl_tcp event of `type` (or predicate); `since` = index into events. */
  waitEvent(type, timeoutMs = 10000, since) {
    return this.ctrlClient.waitEvent(type, timeoutMs, since);
  }

  get events() {
    return this.ctrlClient.events;
  }

  /** Index to pass as `since` to waitEvent: "events from now on". */
  mark() {
    return this.ctrlClient.events.length;
  }

  async cmdOk(command, params) {
    const r = await this.ctrlClient.command(command, params);
    if (!r.ok) throw new Error(`baresip ${this.name}: ${command} ${params || ''} failed: ${r.data}`);
    return r;
  }

  dial(uri) {
    // A TLS account appends ";transport=tls" itself; don't end up with it twice.
    if (this.transport === 'tls') uri = uri.replace(/;transport=tls/i, '');
    return this.cmdOk('dial', uri);
  }
  hangup() {
    return this.cmdOk('hangup');
  }
  hold() {
    return this.cmdOk('hold');
  }
  resume() {
    return this.cmdOk('resume');
  }
  transfer(uri) {
    return this.cmdOk('transfer', uri);
  }
  accept() {
    return this.cmdOk('accept');
  }
  callstat() {
    return this.ctrlClient.command('callstat');
  }

  get log() {
    return this.child.log;
  }

  /** What this peer HEARD: sndfile "-dec" dumps, oldest first (one per media (re)start with holdSafeRecording). */
  heardFiles() {
    return this.recordings().filter((f) => f.endsWith('-dec.wav'));
  }

  /** What it SENT ("-enc" dumps); empty with holdSafeRecording (see baresip-config.js). */
  sentFiles() {
    return this.recordings().filter((f) => f.endsWith('-enc.wav'));
  }

  /** Seconds of audio heard so far (all "-dec" dumps; sndfile writes as packets arrive). */
  heardSeconds() {
    let sec = 0;
    for (const f of this.heardFiles()) {
      try {
        sec += readWav(f).durationSec;
      } catch {} // just opened, header not written yet
    }
    return sec;
  }

  /** Resolve once at least `sec` more seconds of audio than at call time have been heard. */
  async waitHeard(sec, timeoutMs = 10000) {
    const target = this.heardSeconds() + sec;
    const deadline = Date.now() + timeoutMs;
    while (this.heardSeconds() < target) {
      if (Date.now() > deadline) throw new Error(`baresip ${this.name}: heard ${this.heardSeconds().toFixed(2)} s < ${target} s after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  recordings() {
    return fs
      .readdirSync(this.recDir, { withFileTypes: true })
      .filter((d) => d.isFile() && d.name.endsWith('.wav'))
      .map((d) => path.join(this.recDir, d.name))
      .sort();
  }

  /**
   * SIP messages from the -s trace in the log: [{ sent, transport, src, dst,
   * firstLine, text }], optionally only those whose text matches `re`.
   * Trace blocks look like "ESC[36;1m#\nUDP 127.0.0.1:A -> 127.0.0.1:B\n<msg>ESC[;m".
   */
  sipMessages(re) {
    const out = [];
    // sent: from our listener (or from a connection we opened, whose first
    // message is necessarily ours); received: to one of our ports.
    const ours = new Set([this.sipPort, this.sipPort + 1]);
    const pairs = new Set();
    for (const block of this.log.split('\x1b[36;1m#\n').slice(1)) {
      const m = /^(\w+) (\S+) -> (\S+)\r?\n([\s\S]*?)(?:\x1b\[;m|$)/.exec(block);
      if (!m) continue;
      const [sp, dp] = [m[2], m[3]].map((a) => Number(a.split(':').pop()));
      const key = [m[1], ...[sp, dp].sort()].join();
      if (!ours.has(sp) && !ours.has(dp) && !pairs.has(key)) ours.add(sp);
      pairs.add(key);
      const sent = ours.has(sp);
      const text = m[4].replace(/\r\n/g, '\n');
      if (!re || re.test(text)) out.push({ sent, transport: m[1], src: m[2], dst: m[3], firstLine: text.split('\n')[0], text });
    }
    return out;
  }

  /** Quit cleanly (finalises WAV headers), then make sure the process is gone. */
  async stop(graceMs = 3000) {
    if (this.stopped) return this.child.exited;
    this.stopped = true;
    if (this.child.exitCode === null && this.child.signalCode === null) {
      try {
        await this.ctrlClient.command('quit', undefined, 1000);
      } catch {}
    }
    const res = await stopChild(this.child, graceMs);
    this.ctrlClient.close();
    releasePorts(this.sipPort, this.opts.transport === 'tls' ? 2 : 1);
    releasePorts(this.rtpPorts[0], this.rtpPorts[1] - this.rtpPorts[0] + 1);
    releasePorts(this.ctrlPort);
    return res;
  }

  /** stop() and delete the temp dir (kept if ESBC_KEEP_TMP is set). */
  async cleanup() {
    await this.stop();
    removeTempDir(this.dir);
  }
}

/**
 * Start baresip. Options (all optional):
 *  name ('alice'), sipPort, rtpPorts [lo,hi] (10 ports), ctrlPort,
 *  toneHz (440) | audioFile (8 kHz mono S16 WAV, must outlast the test),
 *  mediaenc: 'dtls_srtp'|'srtp'|'srtp-mand'|'srtp-mandf'|null,
 *  transport: 'udp'|'tls', outboundProxy ('127.0.0.1:5060' or sip URI),
 *  answerMode ('auto'|'manual'|'early'), codecs ('pcmu,pcma'),
 *  accountParams (';key=value...'), extraConfig (string or {key: value}),
 *  holdSafeRecording (true), lifetimeSec (300: baresip -t self-destruct),
 *  sipTrace (true: -s, SIP messages in the log), startTimeoutMs (8000).
 */
async function startBaresip(opts = {}) {
  // A port verified free can still be taken by another process before
  // baresip binds it (exit code 98 = EADDRINUSE): retry with fresh ports.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(opts);
    } catch (err) {
      const autoPorts = !opts.sipPort && !opts.rtpPorts && !opts.ctrlPort;
      if (!autoPorts || attempt >= 3 || !/"code":98|Address already in use|answers for another baresip/.test(err.message)) throw err;
    }
  }
}

/**
 * The usual two-party set-up: a callee and a caller baresip (each stopped
 * when the test ends), and the callee's SIP port for the route toward it.
 */
async function startCallerAndCallee(t, callerOpts, calleeOpts) {
  const callee = await startBaresip(calleeOpts);
  t.after(() => callee.cleanup());
  const caller = await startBaresip(callerOpts);
  t.after(() => caller.cleanup());
  return { caller, callee, calleePort: new URL(callee.uri.replace('sip:', 'http://')).port };
}

async function startOnce(opts) {
  const o = {
    name: 'alice',
    toneHz: 440,
    toneAmplitude: 0.5,
    mediaenc: null,
    transport: 'udp',
    answerMode: 'auto',
    codecs: 'pcmu,pcma',
    holdSafeRecording: true,
    lifetimeSec: 300,
    sipTrace: true,
    startTimeoutMs: 8000,
    ...opts,
  };
  if (!o.sipPort) o.sipPort = await freePortRange(o.transport === 'tls' ? 2 : 1);
  if (!o.rtpPorts) {
    const lo = await freePortRange(10, { tcp: false });
    o.rtpPorts = [lo, lo + 9];
  }
  if (!o.ctrlPort) o.ctrlPort = await freePort({ udp: false });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `esbc-baresip-${o.name}-`));
  trackTempDir(dir);
  const paths = writeBaresipDir(dir, o);
  const args = ['-f', dir, '-t', String(o.lifetimeSec)];
  if (o.sipTrace) args.push('-s');
  const child = spawnTracked(BARESIP, args, { cwd: dir, env: { TZ: 'UTC' }, logFile: path.join(dir, 'baresip.log') });
  const ctrl = new CtrlClient(o.ctrlPort);
  try {
    await Promise.race([
      (async () => {
        await waitLog(child, /baresip is ready/, o.startTimeoutMs);
        await ctrl.connect(o.startTimeoutMs);
        // Make sure the ctrl_tcp connection reaches THIS baresip: twice in CI a
        // peer's event stream stayed empty ("events: none") while its call
        // worked, as if the connection went to another process.
        const who = await ctrl.command('reginfo', undefined, 3000);
        const aor = String(who.data);
        if (!aor.includes(`@127.0.0.1:${o.sipPort}`) && !aor.includes(`@127.0.0.1:${o.sipPort + 1}`)) {
          throw new Error(`ctrl_tcp ${o.ctrlPort} answers for another baresip: ${String(who.data).trim()}`);
        }
      })(),
      child.exited.then((r) => {
        throw new Error(`baresip ${o.name} exited during start (${JSON.stringify(r)})`);
      }),
    ]);
  } catch (err) {
    await stopChild(child, 0);
    ctrl.close();
    removeTempDir(dir);
    throw new Error(`${err.message}\n--- baresip log ---\n${child.log}`);
  }
  return new Baresip(o, dir, child, ctrl, paths);
}

function waitLog(child, re, timeoutMs) {
  if (re.test(child.log)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      child.off('log', on);
      reject(new Error(`timeout waiting for ${re} in baresip log`));
    }, timeoutMs);
    const on = () => {
      if (!re.test(child.log)) return;
      clearTimeout(t);
      child.off('log', on);
      resolve();
    };
    child.on('log', on);
  });
}

module.exports = { startBaresip, startCallerAndCallee, Baresip };
