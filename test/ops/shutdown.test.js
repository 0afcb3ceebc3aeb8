'use strict';
// SIGTERM during an active call: new INVITEs get 503, the active call goes on
// until it ends by itself (within the drain time), the process exits 0 and
// no port stays bound.
const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');
const { spawn } = require('node:child_process');
const { freePort } = require('../helpers/ports');
const { portIsFree, waitUntil } = require('../helpers/udp');
const h = require('../helpers/b2bua');

test('SIGTERM drains: 503 for new calls, the active call finishes, exit 0, ports released', async (t) => {
  const callee = await h.startScenario('uas-answer', { SDP: h.sdpBody(h.answers.rtp({ codecs: '0' })), RTP: '' });
  t.after(() => callee.cleanup());
  const sipIn = await freePort();
  const sipOut = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'esbc-shutdown-'));
  const config = path.join(dir, 'sbc.yaml');
  fs.writeFileSync(config, [
    'media: { bindAddress: 127.0.0.1, portMin: 37000, portMax: 37499, mediaTimeoutSecs: 0 }',
    'metrics: { address: 127.0.0.1, port: 0 }',
    'shutdown: { drainSeconds: 15 }',
    'realms:',
    `  - { name: in, sip: { listen: [{ address: 127.0.0.1, port: ${sipIn} }] }, media: { security: rtp } }`,
    `  - { name: out, sip: { listen: [{ address: 127.0.0.1, port: ${sipOut} }], nextHop: "sip:127.0.0.1:${callee.port}" }, media: { security: rtp } }`,
    'routes: [{ from: in, to: out }]',
  ].join('\n'));
  const child = spawn(process.execPath, [path.join(__dirname, '..', '..', 'dist', 'cli.js'), '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => child.exitCode === null && child.kill('SIGKILL'));
  const logs = [];
  readline.createInterface({ input: child.stdout }).on('line', (l) => {
    try {
      logs.push(JSON.parse(l));
    } catch {
      /* not a log line */
    }
  });
  const exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  await waitUntil(() => logs.some((l) => l.msg === 'SBC ready'), 15000, 'SBC ready');
  await waitUntil(() => logs.some((l) => l.metrics), 5000, 'metrics endpoint');
  const metricsUrl = logs.find((l) => l.metrics).metrics;
  const health = (p) => fetch(metricsUrl.replace('/metrics', p)).then((r) => r.status);
  assert.equal(await health('/health/ready'), 200);

  const active = await h.startScenario('uac-bye', { SDP: h.sdpBody(h.offers.rtp('0')), TALK_MS: 4000 }, { remote: `127.0.0.1:${sipIn}`, service: 'bob' });
  t.after(() => active.cleanup());
  for (let i = 0; !/^esbc_calls_active 1$/m.test(await (await fetch(metricsUrl)).text()); i++) {
    assert.ok(i < 80, 'call up within 8 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  const termAt = Date.now();
  child.kill('SIGTERM');
  await waitUntil(() => logs.some((l) => l.msg && /draining/.test(l.msg)), 5000, 'draining');
  assert.equal(await health('/health/ready'), 503, 'not ready while draining');

  const refused = await h.startScenario('uac-reject', { SDP: h.sdpBody(h.offers.rtp('0')), CODE: 503 }, { remote: `127.0.0.1:${sipIn}`, service: 'bob' });
  t.after(() => refused.cleanup());
  const r = await refused.done;
  assert.equal(r.code, 0, 'a new INVITE gets 503');
  const reason = h.reasonOf(h.findMessage(r.messages, { sent: false, first: /^SIP\/2\.0 503/ }), '503');
  assert.match(reason.text, /shutting down/);

  const a = await active.done;
  assert.equal(a.code, 0, 'the active call ran to its own BYE');
  const code = await exited;
  const tookMs = Date.now() - termAt;
  assert.equal(code, 0);
  assert.ok(tookMs < 14000, `exited once the call ended, not at the drain deadline (${tookMs} ms)`);
  assert.ok(!logs.some((l) => l.msg === 'releasing remaining calls'), 'no call had to be cut');
  for (const p of [sipIn, sipOut, 37000, 37001, 37002, 37003]) assert.ok(await portIsFree(p), `port ${p} released`);
});
