'use strict';
// Log level at run time: `PUT /log-level` on the ops endpoint (in-process
// SBC, logger writing to a stream this test reads), and SIGUSR2 to the CLI
// (which also logs JSON lines when stdout is not a terminal).
const test = require('node:test');
const assert = require('node:assert');
const dgram = require('node:dgram');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { createLogger } = require('../../dist');
const { startTestSbc } = require('../helpers/sbc');
const { waitUntil } = require('../helpers/udp');
const { spawnTracked, stopChild, trackTempDir } = require('../helpers/procs');

function lineCollector() {
  const lines = [];
  return { lines, stream: { write: (s) => lines.push(JSON.parse(s)) } };
}

async function setLevel(port, level, method = 'PUT') {
  const res = await fetch(`http://127.0.0.1:${port}/log-level`, method === 'GET' ? {} : { method, body: level });
  return { status: res.status, body: (await res.text()).trim() };
}

const getLevel = (port) => setLevel(port, '', 'GET');

/** An OPTIONS the SIP engine answers; at debug it logs what it sends ("sip out"). */
function sendOptions(port) {
  const branch = `z9hG4bK${Date.now()}`;
  const msg = [
    `OPTIONS sip:ping@127.0.0.1:${port} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:9;branch=${branch}`,
    'Max-Forwards: 70',
    `From: <sip:test@127.0.0.1>;tag=${branch}`,
    `To: <sip:ping@127.0.0.1:${port}>`,
    `Call-ID: ${branch}@log-level-test`,
    'CSeq: 1 OPTIONS',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
  const s = dgram.createSocket('udp4');
  return new Promise((resolve) => s.send(msg, port, '127.0.0.1', () => (s.close(), resolve())));
}

test('PUT /log-level changes the level of the SBC, its live child loggers and the SIP engine', async (t) => {
  const { lines, stream } = lineCollector();
  const log = createLogger('info', stream);
  const sbc = await startTestSbc({
    realms: [
      { name: 'in', security: 'dtls-srtp' },
      { name: 'out', security: 'rtp', nextHop: 'sip:127.0.0.1:9' },
    ],
    media: { portMin: 36000, portMax: 36099 },
    logLevel: 'info',
    log,
    extra: { metrics: { address: '127.0.0.1', port: 0 } },
  });
  t.after(() => sbc.stop());
  const port = sbc.opsPort;
  // A logger created before the change (like a call's) must follow it too.
  const callLog = log.child({ callId: 'before-the-change' });

  assert.deepEqual(await getLevel(port), { status: 200, body: 'info' });
  assert.ok(!lines.some((l) => l.level === 20), 'no debug lines at info');
  await sendOptions(sbc.port('in'));
  await new Promise((r) => setTimeout(r, 300));
  assert.ok(!lines.some((l) => l.level === 20), 'still no debug lines at info');

  assert.deepEqual(await setLevel(port, 'debug'), { status: 200, body: 'debug' });
  assert.equal(log.level, 'debug');
  assert.equal(sbc.logLevel, 'debug');
  assert.equal(callLog.level, 'debug', 'existing child loggers follow');
  assert.deepEqual(await getLevel(port), { status: 200, body: 'debug' });
  assert.ok(lines.some((l) => l.msg === 'log level changed' && l.level === 30 && l.from === 'info' && l.to === 'debug'));

  // A real debug line from the SBC: the embedded SIP engine logs the
  // response it sends (its level was passed on through its stdin).
  await sendOptions(sbc.port('in'));
  await waitUntil(() => lines.some((l) => l.level === 20 && l.component === 'sip-engine'), 5000, 'a debug line from the SIP engine');
  callLog.debug('debug from a call logger');
  assert.ok(lines.some((l) => l.level === 20 && l.callId === 'before-the-change'));

  // JSON body accepted; unknown level refused and nothing changes.
  assert.deepEqual(await setLevel(port, '{"level":"warn"}'), { status: 200, body: 'warn' });
  const bad = await setLevel(port, 'loud');
  assert.equal(bad.status, 400);
  assert.match(bad.body, /unknown log level 'loud'/);
  assert.equal(log.level, 'warn');
  assert.equal((await fetch(`http://127.0.0.1:${port}/log-level`, { method: 'DELETE' })).status, 405);

  // SIGUSR2's cycle (configured level -> debug -> trace -> configured).
  assert.equal(sbc.cycleLogLevel(), 'info', 'from a level outside the cycle: back to the configured one');
  assert.equal(sbc.cycleLogLevel(), 'debug');
  assert.equal(sbc.cycleLogLevel(), 'trace');
  assert.equal(callLog.level, 'trace');
  assert.equal(sbc.cycleLogLevel(), 'info');
});

test('the CLI logs JSON lines when stdout is not a terminal, and SIGUSR2 steps the level', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'esbc-loglevel-'));
  trackTempDir(dir);
  const cfg = path.join(dir, 'sbc.yaml');
  fs.writeFileSync(
    cfg,
    [
      'media: { bindAddress: 127.0.0.1, portMin: 36100, portMax: 36199 }',
      'metrics: { address: 127.0.0.1, port: 0 }',
      'realms:',
      '  - { name: a, sip: { listen: [{ transport: udp, address: 127.0.0.1, port: 0 }], nextHop: "sip:127.0.0.1:9" } }',
      '  - { name: b, sip: { listen: [{ transport: udp, address: 127.0.0.1, port: 0 }], nextHop: "sip:127.0.0.1:9" } }',
      'routes: [{ from: a, to: b }]',
      '',
    ].join('\n'),
  );
  const child = spawnTracked(process.execPath, [path.join(__dirname, '../../dist/cli.js'), '--config', cfg]);
  t.after(() => stopChild(child, 0));
  await waitUntil(() => /"msg":"SBC ready"/.test(child.log), 10000, 'SBC ready');
  const json = child.log.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
  const listening = json.find((l) => l.metrics);
  assert.ok(listening, 'JSON log lines on a pipe');
  const port = new URL(listening.metrics).port;

  assert.equal((await getLevel(port)).body, 'info');
  child.kill('SIGUSR2');
  await waitUntil(() => /"from":"info","to":"debug","msg":"log level changed"/.test(child.log), 5000, 'level change logged');
  assert.equal((await getLevel(port)).body, 'debug');
  child.kill('SIGUSR2');
  await waitUntil(() => /"from":"debug","to":"trace","msg":"log level changed"/.test(child.log), 5000, 'trace');
  child.kill('SIGUSR2');
  await waitUntil(() => /"from":"trace","to":"info"/.test(child.log), 5000, 'back to info');
  assert.equal((await getLevel(port)).body, 'info');

  child.kill('SIGINT');
  const { code } = await child.exited;
  assert.equal(code, 0);
});
