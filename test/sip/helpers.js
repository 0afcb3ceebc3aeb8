'use strict';
// Shared helpers for the SIP engine integration tests: build and load the
// TypeScript wrapper, start the engine on OS-chosen loopback ports, connect
// an unmodified drachtio-srf, and run sipp scenarios.
const { spawn } = require('node:child_process');
const dgram = require('node:dgram');
const net = require('node:net');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..', '..');
let sipModule;

/** Bundle ts/sip with esbuild (from tsup) so the tests run the real TS. */
function loadSipModule() {
  if (sipModule) return sipModule;
  const out = path.join(os.tmpdir(), `esbc-sip-ts-${process.pid}`, 'index.js');
  require('esbuild').buildSync({
    entryPoints: [path.join(root, 'ts', 'sip', 'index.ts')],
    bundle: true, platform: 'node', format: 'cjs', target: 'node20', outfile: out, logLevel: 'error',
  });
  sipModule = require(out);
  return sipModule;
}

function binaryPath() {
  if (process.env.ESBC_SIP_BIN) return process.env.ESBC_SIP_BIN;
  return path.join(root, 'target', 'release', 'esbc-sip');
}

async function startEngine(opts = {}) {
  const { startEmbeddedSipEngine } = loadSipModule();
  const logs = [];
  const engine = await startEmbeddedSipEngine({
    listen: opts.listen || [{ transport: 'udp', address: '127.0.0.1', port: 0 }],
    secret: opts.secret || 'test-secret',
    binaryPath: binaryPath(),
    timers: opts.timers,
    limits: opts.limits,
    tls: opts.tls,
    sessionTimerSecs: opts.sessionTimerSecs,
    sessionTimerMinSecs: opts.sessionTimerMinSecs,
    logLevel: opts.logLevel || process.env.ESBC_SIP_LOG || 'warn',
    onLog: (e) => {
      logs.push(e);
      if (process.env.ESBC_SIP_LOG) process.stderr.write(JSON.stringify(e) + '\n');
    },
  });
  engine.logs = logs;
  engine.port = (transport) => engine.sipListen.find((l) => l.transport === transport).port;
  return engine;
}

/** Connect a fresh, unmodified drachtio-srf to the engine. */
function connectSrf(engine, secret) {
  const Srf = require('drachtio-srf');
  const srf = new Srf();
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('srf connect timeout')), 5000);
    srf.connect({ host: engine.controlHost, port: engine.controlPort, secret: secret || engine.secret });
    srf.on('connect', (err) => {
      clearTimeout(t);
      if (err) reject(err); else resolve(srf);
    });
    srf.on('error', () => {});
  });
}

/** A free loopback port for a peer (UDP and TCP both free). */
async function freePort() {
  for (;;) {
    const port = await new Promise((resolve) => {
      const s = dgram.createSocket('udp4');
      s.bind(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
    });
    const ok = await new Promise((resolve) => {
      const srv = net.createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
    if (ok) return port;
  }
}

function closeSrf(srf) {
  try { srf.disconnect(); } catch { /* already gone */ }
}

/** Engine + connected srf, torn down in the right order (srf first, or it reconnects forever). */
async function setup(t, opts = {}) {
  const engine = await startEngine(opts);
  let srf;
  try {
    srf = await connectSrf(engine);
  } catch (err) {
    await engine.stop();
    throw err;
  }
  t.after(async () => {
    closeSrf(srf);
    await engine.stop();
  });
  return { engine, srf };
}

function tmpDir(prefix) {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/**
 * Run sipp; resolves {code, stdout, stderr, messages} where messages is the
 * -trace_msg log (what sipp put on and took off the wire).
 */
function sipp(args, { timeoutMs = 30000 } = {}) {
  const dir = tmpDir('esbc-sipp-');
  const msgFile = path.join(dir, 'messages.log');
  const full = ['-nostdin', '-trace_msg', '-message_file', msgFile, '-trace_err', '-error_file', path.join(dir, 'err.log'), ...args];
  const child = spawn('sipp', full, { cwd: dir });
  let stdout = '', stderr = '';
  child.stdout.on('data', (d) => { stdout += d; });
  child.stderr.on('data', (d) => { stderr += d; });
  const done = new Promise((resolve) => {
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(t);
      let messages = '';
      try { messages = fs.readFileSync(msgFile, 'utf8'); } catch { /* none */ }
      let errors = '';
      try { errors = fs.readFileSync(path.join(dir, 'err.log'), 'utf8'); } catch { /* none */ }
      resolve({ code, stdout, stderr, messages, errors });
    });
  });
  done.child = child;
  return done;
}

function scenario(name) {
  return path.join(__dirname, 'scenarios', name);
}

function once(emitter, event, timeoutMs = 10000) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timeout waiting for ${event}`)), timeoutMs);
    emitter.once(event, (...args) => { clearTimeout(t); resolve(args); });
  });
}

const delay = (ms) => new Promise((r) => setTimeout(r, ms));

const SDP = (port) => [
  'v=0', 'o=esbc 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0',
  `m=audio ${port} RTP/AVP 0`, 'a=rtpmap:0 PCMU/8000', 'a=sendrecv', '',
].join('\r\n');

module.exports = { setup, closeSrf, loadSipModule, startEngine, connectSrf, freePort, sipp, scenario, once, delay, SDP, tmpDir, root };
