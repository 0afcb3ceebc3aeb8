'use strict';
// Floods against the running SBC (embedded SIP engine, in-process app) while
// a legitimate sipp call stream goes through it to a sipp UAS: the stream
// must lose no call, flood requests get 503 with Retry-After and a Reason
// (or are dropped far over the rate), and the engine's counters show it.
// Sources: 127.0.0.1 legitimate, 127.0.0.2-50 attackers (loopback /8).
const test = require('node:test');
const assert = require('node:assert');
const { startTestSbc } = require('../helpers/sbc');
const { runSipp, startSipp } = require('../helpers/sipp');
const raw = require('./sip-raw');

/** sipp UAS callee, the SBC in front of it, and a legitimate call stream. */
async function setup(t, { media, inTransport = 'udp', limits = {} }) {
  const uas = await startSipp({ builtin: 'uas', calls: 100000, timeoutSec: 120 });
  t.after(() => uas.stop());
  const sbc = await startTestSbc({
    realms: [
      { name: 'in', security: 'rtp', transport: inTransport },
      { name: 'out', security: 'rtp', nextHop: `sip:127.0.0.1:${uas.port}` },
    ],
    media,
    sip: { embedded: { limits } },
  });
  t.after(() => sbc.stop());
  const target = { host: '127.0.0.1', port: sbc.port('in') };
  return { sbc, target, uas };
}

/** The legitimate stream: `calls` calls at `rate` cps from 127.0.0.1 via sipp's builtin uac. */
function legitimateStream(target, { calls = 30, rate = 5, transport = 'u1' } = {}) {
  return runSipp({ builtin: 'uac', remote: `127.0.0.1:${target.port}`, service: 'legit', calls, rate, transport, timeoutSec: 60 });
}

function assertStreamOk(r) {
  const failed = /Failed call\s*\|\s*\S+\s*\|\s*(\d+)/.exec(r.screen);
  assert.equal(r.code, 0, `legitimate stream failed calls:\n${r.screen.slice(-1500)}\n${r.errors.slice(0, 1500)}`);
  if (failed) assert.equal(Number(failed[1]), 0);
}

/** INVITEs the engine received over `transport` (the kernel may drop some of a flood before that). */
function invitesIn(s, transport = 'udp') {
  return s.messages.find((m) => m.direction === 'in' && m.transport === transport && m.method === 'INVITE' && m.status === '')?.count ?? 0;
}

function assert503s(flood, text) {
  const samples = flood.samples[503] || [];
  assert.ok(samples.length > 0, `no 503 seen: ${JSON.stringify(flood.counts)}`);
  for (const s of samples.slice(0, 10)) {
    assert.match(raw.headerOf(s, 'Retry-After') || '', /^\d+$/, s);
    assert.equal(raw.headerOf(s, 'Reason'), `SIP;cause=503;text="${text}"`, s);
  }
}

test('UDP INVITE flood from one source: per-source 503, then silent drops; legitimate calls unaffected', async (t) => {
  const { sbc, target } = await setup(t, { media: { portMin: 50000, portMax: 50399 } });
  const legit = legitimateStream(target, { calls: 30, rate: 5 });
  await new Promise((r) => setTimeout(r, 1000));
  const flood = await raw.udpFlood({ sources: ['127.0.0.2'], target, rate: 1000, durationMs: 3000 });
  assertStreamOk(await legit);
  const s = await sbc.sipEngine.stats();
  t.diagnostic(`flood sent ${flood.sent}, answers ${JSON.stringify(flood.reasons)}, engine ${JSON.stringify(s.rejections)}`);
  assert503s(flood, 'request rate limit exceeded (per source)');
  // Default limits: 50/s burst 100 admitted, 200/s answered at most, the rest dropped.
  assert.ok(s.rejections.rate_limited >= flood.counts[503], 'every 503 seen was counted');
  const received = invitesIn(s) - 30; // less the legitimate calls
  assert.ok(s.rejections.rate_dropped > received / 2, `most of a 1000/s flood is dropped: ${s.rejections.rate_dropped} of ${received}`);
  const admitted = received - s.rejections.rate_limited - s.rejections.rate_dropped;
  assert.ok(admitted <= 100 + 50 * 4, `admitted ${admitted} <= burst + rate * seconds`);
  // Admitted flood INVITEs (no SDP) were refused by the app, not left behind.
  assert.ok((flood.counts[488] || 0) > 0, JSON.stringify(flood.counts));
});

test('UDP INVITE flood from 49 sources: per-source limits and the global INVITE cap; a trusted source keeps its calls', async (t) => {
  const { sbc, target } = await setup(t, {
    media: { portMin: 50400, portMax: 50799 },
    limits: { perSourceRate: 10, perSourceBurst: 10, perSourceDropRate: 1000, inviteRate: 60, trustedSources: ['127.0.0.1/32'] },
  });
  const sources = Array.from({ length: 49 }, (_, i) => `127.0.0.${i + 2}`);
  const legit = legitimateStream(target, { calls: 30, rate: 5 });
  await new Promise((r) => setTimeout(r, 1000));
  const flood = await raw.udpFlood({ sources, target, rate: 20, durationMs: 3000 });
  assertStreamOk(await legit);
  const s = await sbc.sipEngine.stats();
  t.diagnostic(`flood sent ${flood.sent}, answers ${JSON.stringify(flood.reasons)}, engine ${JSON.stringify(s.rejections)}`);
  assert.ok(s.rejections.rate_limited > 0 && s.rejections.invite_rate > 0, JSON.stringify(s.rejections));
  assert.ok(flood.reasons['503 SIP;cause=503;text="request rate limit exceeded (per source)"'] > 0, JSON.stringify(flood.reasons));
  assert503s({ samples: { 503: (flood.samples[503] || []).filter((m) => /global/.test(m)) }, counts: flood.counts }, 'INVITE rate limit exceeded (global)');
  // Admitted new INVITEs in ~4 s: the cap's burst (60) + 60/s, plus the trusted stream.
  const admitted = invitesIn(s) - 30 - s.rejections.rate_limited - s.rejections.rate_dropped - s.rejections.invite_rate;
  assert.ok(admitted <= 60 + 60 * 4, `admitted ${admitted}`);
});

test('TCP INVITE flood over one connection: 503 over the stream; a legitimate TCP call stream is unaffected', async (t) => {
  const { sbc, target } = await setup(t, { media: { portMin: 50800, portMax: 51199 }, inTransport: 'tcp' });
  const legit = legitimateStream(target, { calls: 20, rate: 5, transport: 't1' });
  await new Promise((r) => setTimeout(r, 1000));
  const flood = await raw.tcpFlood({ src: '127.0.0.3', target, rate: 800, durationMs: 2000 });
  assertStreamOk(await legit);
  const s = await sbc.sipEngine.stats();
  t.diagnostic(`flood sent ${flood.sent}, answers ${JSON.stringify(flood.reasons)}, engine ${JSON.stringify(s.rejections)}`);
  assert503s(flood, 'request rate limit exceeded (per source)');
  assert.ok(s.rejections.rate_limited >= flood.counts[503]);
  assert.ok(s.rejections.rate_dropped > 0);
  // A stream loses nothing: every INVITE sent was received and counted.
  assert.ok(invitesIn(s, 'tcp') >= flood.sent + 20, `TCP INVITEs counted: ${invitesIn(s, 'tcp')} of ${flood.sent} + 20`);
});

test('TCP INVITE flood from 20 sources, one connection each: per-source and global limits; a trusted TCP call stream is unaffected', async (t) => {
  const { sbc, target } = await setup(t, {
    media: { portMin: 51200, portMax: 51599 },
    inTransport: 'tcp',
    limits: { perSourceRate: 10, perSourceBurst: 10, perSourceDropRate: 1000, inviteRate: 80, trustedSources: ['127.0.0.1/32'] },
  });
  const legit = legitimateStream(target, { calls: 20, rate: 5, transport: 't1' });
  await new Promise((r) => setTimeout(r, 1000));
  const sources = Array.from({ length: 20 }, (_, i) => `127.0.0.${i + 60}`);
  const floods = await Promise.all(sources.map((src) => raw.tcpFlood({ src, target, rate: 40, durationMs: 3000 })));
  assertStreamOk(await legit);
  const s = await sbc.sipEngine.stats();
  const sent = floods.reduce((n, f) => n + f.sent, 0);
  const perSource = floods.reduce((n, f) => n + (f.reasons['503 SIP;cause=503;text="request rate limit exceeded (per source)"'] || 0), 0);
  t.diagnostic(`flood sent ${sent}, per-source 503s ${perSource}, engine ${JSON.stringify(s.rejections)}`);
  assert.ok(perSource > 0, 'per-source 503s over TCP');
  assert.ok(s.rejections.rate_limited > 0 && s.rejections.invite_rate > 0, JSON.stringify(s.rejections));
  assert.ok(invitesIn(s, 'tcp') >= sent + 20, `TCP INVITEs counted: ${invitesIn(s, 'tcp')} of ${sent} + 20`);
});
