'use strict';
// A DTLS-SRTP caller whose certificate does not match its SDP fingerprint
// (openssl s_client as the caller's media, sipp for its signalling), and one
// that never starts its handshake: no media is relayed toward it and the SBC
// sends BYE on both legs with a Reason naming the cause. A control call with
// the right fingerprint proves the same s_client handshake succeeds.
const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { selfSignedCert } = require('../helpers/certs');
const { startTestSbc } = require('../helpers/sbc');
const { parseMessageLog } = require('../helpers/sipp');
const { spawnTracked, stopChild, trackTempDir } = require('../helpers/procs');
const { writeToneUlawWav } = require('../helpers/wav');
const { waitUntil } = require('../helpers/udp');
const h = require('../helpers/b2bua');

const MEDIA = { portMin: 49000, portMax: 49499 };
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'esbc-dtls-mismatch-'));
trackTempDir(dir);
const { cert: CERT, key: KEY, fingerprint: REAL_FP } = selfSignedCert(dir, { cn: 'caller' });
const TONE = writeToneUlawWav(path.join(dir, 'tone.wav'), { freq: 880, seconds: 5 });

/** The caller's DTLS offer: setup:active (the caller is the DTLS client) with `fingerprint`. */
const offer = (fingerprint) =>
  h.offers.seed({ fingerprint: `a=fingerprint:sha-256 ${fingerprint}` }).map((l) => l.replace('127.0.0.3', '127.0.0.1'));

/**
 * Caller (sipp) -> SBC (DTLS in, RTP out) -> callee (sipp streaming RTP).
 * Returns once the call is answered and the callee's RTP reaches the SBC.
 */
async function setUp(t, { fingerprint, uac, media = {} }) {
  const callee = await h.startScenario('uas-answer', {
    SDP: h.sdpBody(h.answers.rtp({ codecs: '0', address: '127.0.0.1' })),
    RTP: `<nop><action><exec rtp_stream="${TONE},-1,0"/></action></nop>`,
  });
  t.after(() => callee.cleanup());
  const sbc = await startTestSbc({
    realms: [{ name: 'in', security: 'dtls-srtp' }, { name: 'out', security: 'rtp', nextHop: `sip:127.0.0.1:${callee.port}` }],
    media: { ...MEDIA, ...media },
  });
  t.after(() => sbc.stop());
  const events = [];
  sbc.engine.on('event', (e) => events.push(e));
  const caller = await h.startScenario(uac[0], { SDP: h.sdpBody(offer(fingerprint)), ...uac[1] }, { remote: `127.0.0.1:${sbc.port('in')}`, service: 'bob' });
  t.after(() => caller.cleanup());
  let call;
  await waitUntil(() => (call = [...sbc.app.calls.values()].find((c) => c.answeredAt)), 5000, 'call answered');
  const last = { stats: call.pipeline.stats() };
  const poll = setInterval(() => {
    if (!call.isEnded) last.stats = call.pipeline.stats();
  }, 20);
  t.after(() => clearInterval(poll));
  // Keep the pipeline's final counters (Call.end closes it and only logs them).
  const close = call.pipeline.close.bind(call.pipeline);
  call.pipeline.close = () => close().then((final) => ((last.stats = final || last.stats), final));
  await waitUntil(() => last.stats.b.packetsIn >= 5, 5000, "callee's RTP reaching the SBC");
  // The SBC's caller-side port, from the answer the caller received.
  let answerPort;
  await waitUntil(() => {
    const log = fs.existsSync(path.join(caller.dir, 'messages.log')) ? fs.readFileSync(path.join(caller.dir, 'messages.log'), 'utf8') : '';
    const ok = parseMessageLog(log).find((m) => !m.sent && /^SIP\/2\.0 200/.test(m.firstLine));
    answerPort = ok && Number(/^m=audio (\d+) /m.exec(ok.text)[1]);
    return answerPort;
  }, 3000, '200 in the caller log');
  assert.equal(answerPort, call.pipeline.local.a.rtpPort);
  return { sbc, events, caller, callee, call, last, answerPort };
}

/** openssl s_client as the caller's DTLS client; resolves with its output when it exits. */
async function dtlsClient(t, port, timeoutMs = 8000) {
  const args = ['s_client', '-dtls1_2', '-connect', `127.0.0.1:${port}`, '-use_srtp', 'SRTP_AES128_CM_SHA1_80', '-cert', CERT, '-key', KEY];
  const child = spawnTracked('openssl', args);
  t.after(() => stopChild(child, 0));
  const timer = setTimeout(() => stopChild(child, 0), timeoutMs);
  await child.exited;
  clearTimeout(timer);
  return child.log;
}

/** Both sipp logs have the SBC's BYE with a Reason whose text matches `text`. */
async function assertByeBothLegs({ caller, callee }, text) {
  const [a, b] = [await caller.done, await callee.done];
  assert.equal(a.code, 0, `caller:\n${h.describe(a.messages)}\n${a.stdout.slice(-1000)}`);
  assert.equal(b.code, 0, `callee:\n${h.describe(b.messages)}\n${b.stdout.slice(-1000)}`);
  for (const [leg, r] of [['caller', a], ['callee', b]]) {
    const bye = h.findMessage(r.messages, { sent: false, first: /^BYE / });
    const reason = h.reasonOf(bye, `BYE to the ${leg}`);
    assert.match(reason.text, text, `${leg} BYE Reason`);
  }
}

test('caller certificate does not match its SDP fingerprint: handshake fails, nothing relayed, BYE with Reason on both legs', async (t) => {
  const wrong = REAL_FP.split(':').reverse().join(':');
  assert.notEqual(wrong, REAL_FP);
  const s = await setUp(t, { fingerprint: wrong, uac: ['uac-wait-bye', {}] });
  const out = await dtlsClient(t, s.answerPort);
  await assertByeBothLegs(s, /DTLS handshake failed on caller leg: fingerprint mismatch/);
  await h.assertReleased(s.sbc);
  const failed = s.events.filter((e) => e.type === 'dtls-failed');
  assert.deepEqual(failed.map((e) => [e.side, e.reason]), [['a', 'fingerprint mismatch']], JSON.stringify(s.events));
  assert.ok(!s.events.some((e) => e.type === 'dtls-connected'), 'never connected');
  assert.ok(s.last.stats.a.dtlsIn > 0, 'the ClientHello reached the SBC');
  assert.ok(s.last.stats.b.packetsIn > 0, 'the callee was streaming');
  assert.equal(s.last.stats.a.packetsOut, 0, 'no media relayed toward the caller');
  assert.equal(s.last.stats.b.packetsOut, 0, 'no media relayed toward the callee');
  // The SBC checks the fingerprint once OpenSSL has the peer certificate and
  // answers a mismatch with a fatal alert (s_client may already print its
  // session summary, but no keys are ever used on the SBC side).
  assert.match(out, /alert unknown ca/, `s_client got the SBC's fatal alert:\n${out.slice(0, 1500)}`);
});

test('control: the same client with the matching fingerprint connects and gets media', async (t) => {
  const s = await setUp(t, { fingerprint: REAL_FP, uac: ['uac-bye', { TALK_MS: 2500 }] });
  const client = dtlsClient(t, s.answerPort, 2000); // killed after 2 s, mid-call
  await waitUntil(() => s.events.some((e) => e.type === 'dtls-connected'), 5000, `dtls-connected (events ${JSON.stringify(s.events)})`);
  await waitUntil(() => s.last.stats.a.packetsOut > 5, 3000, 'SRTP relayed toward the caller');
  assert.doesNotMatch(await client, /SSL alert number/, 'no alert from the SBC');
  const [a, b] = [await s.caller.done, await s.callee.done];
  assert.equal(a.code, 0, h.describe(a.messages));
  assert.equal(b.code, 0, h.describe(b.messages));
  assert.ok(!s.events.some((e) => e.type === 'dtls-failed'), JSON.stringify(s.events));
  await h.assertReleased(s.sbc);
});

test('caller offers setup:active but never sends a ClientHello: handshake timeout, BYE with Reason on both legs', async (t) => {
  const t0 = Date.now();
  const s = await setUp(t, { fingerprint: REAL_FP, uac: ['uac-wait-bye', {}], media: { handshakeTimeoutMs: 2000 } });
  await assertByeBothLegs(s, /DTLS handshake failed on caller leg: timeout/);
  const took = Date.now() - t0;
  assert.ok(took >= 1500 && took < 8000, `released after the 2 s handshake timeout (${took} ms)`);
  await h.assertReleased(s.sbc);
  assert.deepEqual(s.events.filter((e) => e.type === 'dtls-failed').map((e) => [e.side, e.reason]), [['a', 'timeout']]);
  assert.equal(s.last.stats.a.packetsOut, 0, 'no media relayed toward the caller');
  assert.equal(s.last.stats.a.dtlsIn, 0, 'nothing came from the caller');
});
