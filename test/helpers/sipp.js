'use strict';
// Run sipp 3.6 on loopback and capture exactly what went over the wire.
//   const r = await runSipp({ builtin: 'uac', remote: '127.0.0.1:5060' });
//   r.code === 0; r.messages.filter(m => !m.sent)  // what the peer answered
// sipp gotchas (3.6.1): every ereg variable must be used twice; a message that
// arrives while the scenario sits in <nop> aborts the call; -sd exits 99; it
// matches calls by Call-ID (a transferee's new INVITE needs another instance);
// no TLS in this build ('t1' is TCP); the control socket binds 0.0.0.0:8888
// unless -ci/-cp are given (we always give them).
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { freePort, freePortRange, releasePorts } = require('./ports');
const { spawnTracked, stopChild, trackTempDir, removeTempDir } = require('./procs');

const SIPP = process.env.SIPP_BIN || '/usr/bin/sipp';
const FIXTURES = path.join(__dirname, '..', 'fixtures', 'sipp');

/** Parse a -trace_msg log into [{ sent, transport, time, firstLine, text }]. */
function parseMessageLog(log) {
  const out = [];
  for (const block of log.split(/^-{20,} (\S+ \S+)\n/m).slice(1).reduce((acc, x, i, arr) => {
    if (i % 2 === 0) acc.push([x, arr[i + 1] || '']);
    return acc;
  }, [])) {
    const [time, body] = block;
    const m = /^(\w+) message (sent|received)[^\n]*\n\n([\s\S]*)$/.exec(body);
    if (!m) continue;
    const text = m[3].replace(/\r\n/g, '\n').replace(/\n+$/, '\n');
    out.push({ sent: m[2] === 'sent', transport: m[1], time, firstLine: text.split('\n')[0], text });
  }
  return out;
}

/**
 * Render a scenario template (test/fixtures/sipp/NAME.xml or a path) with
 * {{KEY}} (or {{KEY=default}}) placeholders into `dir`. Needed because sipp reads some attributes
 * (rtp_stream file, pause milliseconds) at load time, not from -set variables.
 */
function renderScenario(name, vars, dir) {
  const src = fs.readFileSync(name.includes('/') ? name : scenario(name), 'utf8');
  // {{KEY}} or {{KEY=default}}.
  const out = src.replace(/\{\{(\w+)(?:=([^}]*))?\}\}/g, (_, k, dflt) => {
    if (!(k in vars) && dflt === undefined) throw new Error(`scenario ${name}: template variable ${k} missing`);
    return String(k in vars ? vars[k] : dflt);
  });
  const file = path.join(dir, path.basename(name.endsWith('.xml') ? name : `${name}.xml`));
  fs.writeFileSync(file, out);
  return file;
}

/**
 * m= section for uac-offer.xml: a DTLS-SRTP offer ([media_port] is sipp's).
 * The fingerprint is syntactically valid but belongs to no key: fine for SDP
 * negotiation checks, a real handshake needs a real DTLS peer.
 */
function dtlsOfferMedia({ setup = 'actpass', hash = 'sha-256', fingerprint, proto = 'UDP/TLS/RTP/SAVPF' } = {}) {
  const len = { 'sha-1': 20, 'sha-256': 32, 'sha-384': 48, 'sha-512': 64 }[hash.toLowerCase()] || 32;
  const fp = fingerprint || Array.from({ length: len }, (_, i) => ((i * 37 + 11) & 0xff).toString(16).padStart(2, '0').toUpperCase()).join(':');
  return [
    `m=audio [media_port] ${proto} 0 8 101`,
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:8 PCMA/8000',
    'a=rtpmap:101 telephone-event/8000',
    'a=fmtp:101 0-15',
    'a=rtcp-mux',
    `a=setup:${setup}`,
    `a=fingerprint:${hash} ${fp}`,
    'a=sendrecv',
  ].map((l) => `      ${l}`).join('\n');
}

/** Resolve a fixture scenario name ('uac-rtp-tone') to its path. */
function scenario(name) {
  return path.join(FIXTURES, name.endsWith('.xml') ? name : `${name}.xml`);
}

/**
 * Start sipp in the background. Options:
 *  scenarioFile | scenarioTemplate + templateVars (see renderScenario) | builtin ('uac'|'uas'), remote ('127.0.0.1:5060'; omit for UAS),
 *  localPort (free port), transport ('u1'|'t1'), vars {k: v} (-set), keys {k: v} (-key),
 *  calls (-m, 1), rate (-r), limit (-l), service (-s, request-URI user),
 *  mediaPort (-mp, free even port: sipp binds mp and mp+2), timeoutSec (-timeout, 30),
 *  extraArgs [].
 * Returns { port, dir, child, done: Promise<result>, stop() }.
 */
async function startSipp(o = {}) {
  const transport = o.transport || 'u1';
  const localPort = o.localPort || (await freePort());
  const mediaPort = o.mediaPort || (await freePortRange(4, { tcp: false }));
  const ctrlPort = await freePort({ tcp: false });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'esbc-sipp-'));
  trackTempDir(dir);
  const files = {
    messages: path.join(dir, 'messages.log'),
    errors: path.join(dir, 'errors.log'),
    screen: path.join(dir, 'screen.log'),
    logs: path.join(dir, 'logs.log'),
  };
  const args = [];
  if (o.remote) args.push(o.remote);
  if (o.scenarioTemplate) args.push('-sf', renderScenario(o.scenarioTemplate, o.templateVars || {}, dir));
  else if (o.scenarioFile) args.push('-sf', o.scenarioFile);
  else args.push('-sn', o.builtin || 'uac');
  args.push('-i', '127.0.0.1', '-p', String(localPort), '-t', transport);
  args.push('-mi', '127.0.0.1', '-mp', String(mediaPort), '-ci', '127.0.0.1', '-cp', String(ctrlPort));
  args.push('-m', String(o.calls ?? 1), '-nostdin');
  if (o.rate) args.push('-r', String(o.rate));
  if (o.limit) args.push('-l', String(o.limit));
  if (o.service) args.push('-s', o.service);
  // Self-destruct even if node dies; -timeout_error makes a hang a failure.
  args.push('-timeout', `${o.timeoutSec ?? 30}s`, '-timeout_error');
  args.push('-trace_msg', '-message_file', files.messages, '-trace_err', '-error_file', files.errors);
  args.push('-trace_screen', '-screen_file', files.screen, '-trace_logs', '-log_file', files.logs);
  for (const [k, v] of Object.entries(o.vars || {})) args.push('-set', k, String(v));
  for (const [k, v] of Object.entries(o.keys || {})) args.push('-key', k, String(v));
  args.push(...(o.extraArgs || []));

  const child = spawnTracked(SIPP, args, { cwd: dir });
  const read = (f) => (fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : '');
  const done = child.exited.then(({ code, signal, error }) => {
    releasePorts(localPort);
    releasePorts(mediaPort, 4);
    releasePorts(ctrlPort);
    const messagesLog = read(files.messages);
    return {
      code,
      signal,
      error,
      args,
      stdout: child.log, // sipp writes its screen to stdout; stderr is merged in
      stderr: child.log,
      screen: read(files.screen),
      errors: read(files.errors),
      logs: read(files.logs),
      messagesLog,
      messages: parseMessageLog(messagesLog),
    };
  });
  return {
    port: localPort,
    mediaPort,
    dir,
    child,
    done,
    /** Soft stop (SIGUSR1: finish calls), then SIGTERM/SIGKILL after graceMs. */
    async stop(graceMs = 2000) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGUSR1');
      await stopChild(child, graceMs);
      return done;
    },
    async cleanup() {
      await this.stop(0);
      removeTempDir(dir);
    },
  };
}

/**
 * Run sipp to completion: resolves { code, stdout, stderr, messages, messagesLog,
 * errors, screen, logs }. code 0 = all calls succeeded, 1 = some failed,
 * 99 = exited without processing calls, -1/255 = fatal (e.g. bad scenario).
 * The temp dir is removed afterwards unless keepDir or ESBC_KEEP_TMP is set.
 */
async function runSipp(o = {}) {
  const s = await startSipp(o);
  try {
    return await s.done;
  } finally {
    await s.stop(0);
    if (!o.keepDir) removeTempDir(s.dir);
  }
}

module.exports = { runSipp, startSipp, parseMessageLog, renderScenario, dtlsOfferMedia, scenario, FIXTURES };
