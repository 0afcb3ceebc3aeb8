'use strict';
// SIP message metrics of the embedded engine, scraped from /metrics after a
// sipp call through the SBC and a rate-limited burst: messages by direction,
// transport, method and status; rejections by reason; engine state gauges.
const test = require('node:test');
const assert = require('node:assert');
const { startTestSbc } = require('../helpers/sbc');
const { runSipp, startSipp } = require('../helpers/sipp');
const raw = require('../hardening/sip-raw');

/** Every sample of `name` as { labels, value }. */
function samples(text, name) {
  const out = [];
  for (const line of text.split('\n')) {
    const m = new RegExp(`^${name}(?:\\{(.*)\\})? (\\S+)$`).exec(line);
    if (!m) continue;
    const labels = Object.fromEntries([...(m[1] || '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    out.push({ labels, value: Number(m[2]) });
  }
  return out;
}

/** The value of the one sample of `name` whose labels include `want`. */
function value(text, name, want = {}) {
  const hits = samples(text, name).filter((s) => Object.entries(want).every(([k, v]) => s.labels[k] === v));
  assert.ok(hits.length <= 1, `${name} ${JSON.stringify(want)}: ${hits.length} samples`);
  return hits[0]?.value;
}

test('esbc_sip_* metrics after a sipp call and a rate-limited burst', async (t) => {
  const uas = await startSipp({ builtin: 'uas', calls: 10, timeoutSec: 60 });
  t.after(() => uas.stop());
  const sbc = await startTestSbc({
    realms: [
      { name: 'in', security: 'rtp' },
      { name: 'out', security: 'rtp', nextHop: `sip:127.0.0.1:${uas.port}` },
    ],
    media: { portMin: 51500, portMax: 51599 },
    sip: { embedded: { limits: { perSourceRate: 1, perSourceBurst: 1, trustedSources: ['127.0.0.1'] } } },
    extra: { metrics: { address: '127.0.0.1', port: 0 } },
  });
  t.after(() => sbc.stop());
  const scrape = async () => (await fetch(`http://127.0.0.1:${sbc.opsPort}/metrics`)).text();

  const call = await runSipp({ builtin: 'uac', remote: `127.0.0.1:${sbc.port('in')}`, service: 'bob', calls: 1, timeoutSec: 20 });
  assert.equal(call.code, 0, call.errors);
  // Three OPTIONS from an untrusted source at once: one admitted, two 503.
  const target = { host: '127.0.0.1', port: sbc.port('in') };
  const answers = [];
  for (let i = 0; i < 3; i++) {
    answers.push(...(await raw.udpExchange((p) => raw.request({ method: 'OPTIONS', port: target.port, src: '127.0.0.7', srcPort: p }), target, { src: '127.0.0.7', waitMs: 150 })));
  }
  assert.equal(answers.filter((a) => raw.statusOf(a) === 503 && /per source/.test(a)).length, 2, answers.join('\n'));

  const m = await scrape();
  const msg = (direction, method, status = '') => value(m, 'esbc_sip_messages_total', { direction, transport: 'udp', method, status });
  // The call: caller -> SBC -> callee and back, each leg once.
  assert.equal(msg('in', 'INVITE'), 1, 'INVITE from the caller');
  assert.equal(msg('out', 'INVITE'), 1, 'INVITE to the callee');
  assert.equal(msg('in', 'INVITE', '200'), 1, '200 from the callee');
  assert.ok(msg('out', 'INVITE', '200') >= 1, '200 to the caller');
  assert.equal(msg('out', 'INVITE', '100'), 1, '100 Trying to the caller');
  assert.equal(msg('in', 'ACK'), 1);
  assert.equal(msg('out', 'ACK'), 1);
  assert.equal(msg('in', 'BYE'), 1);
  assert.equal(msg('out', 'BYE'), 1);
  assert.equal(msg('in', 'BYE', '200'), 1);
  assert.equal(msg('out', 'BYE', '200'), 1);
  // The burst.
  assert.equal(msg('in', 'OPTIONS'), 3);
  assert.equal(msg('out', 'OPTIONS', '503'), 3, 'two rate-limited plus one with no app routing OPTIONS');
  assert.equal(value(m, 'esbc_sip_rejections_total', { reason: 'rate_limited' }), 2);
  assert.equal(value(m, 'esbc_sip_rejections_total', { reason: 'malformed_400' }), 0);
  assert.equal(value(m, 'esbc_sip_engine_up'), 1);
  assert.equal(value(m, 'esbc_sip_active', { kind: 'apps' }), 1);
  assert.equal(value(m, 'esbc_sip_active', { kind: 'dialogs' }), 0, 'call ended: no dialog left');
  assert.ok(m.includes('# TYPE esbc_sip_messages_total gauge'));

  // A malformed request is answered 400 and shows up on the next scrape.
  const bad = await raw.udpExchange((p) => raw.request({ method: 'OPTIONS', port: target.port, src: '127.0.0.1', srcPort: p }).replace('CSeq: 1 OPTIONS', 'CSeq: x OPTIONS'), target);
  assert.equal(raw.statusOf(bad[0] || ''), 400, bad.join('\n'));
  assert.equal(value(await scrape(), 'esbc_sip_rejections_total', { reason: 'malformed_400' }), 1);
});
