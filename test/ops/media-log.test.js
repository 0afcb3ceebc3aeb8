'use strict';
// The native engine's log records reach JavaScript (and the SBC's pino log):
// a warning logged by Rust code on the engine's side arrives as a 'log'
// event with its level, module and text.
const test = require('node:test');
const assert = require('node:assert');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

// A child process: the warning is logged once per process, when SRTP is set
// up with ESBC_SRTP_CRYPTO=libsrtp.
const child = `
const { MediaEngine } = require(${JSON.stringify(path.resolve(__dirname, '../../dist'))});
const engine = new MediaEngine({ portMin: 57500, portMax: 57519, workers: 1 });
const got = [];
engine.on('log', (r) => got.push(r));
MediaEngine.versions();
setTimeout(() => { console.log(JSON.stringify({ got, counters: engine.counters() })); engine.shutdown(); }, 500);
`;

function run(env) {
  const r = spawnSync(process.execPath, ['-e', child], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 10000 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

test('a native warning arrives as a log event with level, module and message', () => {
  const { got, counters } = run({ ESBC_SRTP_CRYPTO: 'libsrtp' });
  const warn = got.find((r) => r.message.includes("libsrtp's own OpenSSL binding"));
  assert.ok(warn, `the SRTP warning among ${JSON.stringify(got)}`);
  assert.equal(warn.level, 'warn');
  assert.equal(warn.target, 'esbc_media::srtp');
  assert.equal(counters.droppedLogRecords, 0);
});

test('without the condition there is no such record', () => {
  const { got } = run({ ESBC_SRTP_CRYPTO: '' });
  assert.equal(got.filter((r) => r.message.includes("libsrtp's own OpenSSL binding")).length, 0);
});
