'use strict';
// Hold, resume and other mid-call offers (ts/b2bua/reinvite.ts) with sipp on
// both sides: DTLS-SRTP caller (the seed offer, setup:active, SHA-1) -> SBC ->
// RTP callee. Exact SDP of each step (direction mapping, the SBC's setup role
// and fingerprint kept), offerless re-INVITE (offer in the 200, answer in the
// ACK), old-style 0.0.0.0 hold, UPDATE, glare (491 and the RFC 3261 back-off)
// and a caller re-keying with a new certificate (openssl s_client as its DTLS
// client: exactly one new handshake, media keeps flowing).
// In-dialog steps come from test/helpers/sipp-steps.js; go() steps wait for poke().
const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { selfSignedCert } = require('../helpers/certs');
const { startTestSbc } = require('../helpers/sbc');
const { parseMessageLog } = require('../helpers/sipp');
const { waitUntil } = require('../helpers/udp');
const { spawnTracked, stopChild, trackTempDir } = require('../helpers/procs');
const { writeToneUlawWav } = require('../helpers/wav');
const h = require('../helpers/b2bua');
const s = require('../helpers/sipp-steps');

const MEDIA = { portMin: 39000, portMax: 39999 };
const SBC_HEAD = ['v=0', /o=- \d+ \d+ IN IP4 127\.0\.0\.1/, 's=-', 'c=IN IP4 127.0.0.1', 't=0 0'];
const DIRS = /^a=(sendrecv|sendonly|recvonly|inactive)$/;
/** SDP lines with their direction attribute replaced by (or appended as) a=`dir`. */
const withDir = (lines, dir) => [...lines.filter((l) => !DIRS.test(l)), `a=${dir}`];
const SEED = h.offers.seed();
const CALLEE = h.answers.rtp({ codecs: '0' });

/** The SBC's offer to the RTP callee (port P, a=rtcp:P+1) with direction `dir`. */
const toCallee = (port, dir) => [...SBC_HEAD, `m=audio ${port} RTP/AVP 0`, 'a=rtpmap:0 PCMU/8000', 'a=ptime:20', `a=rtcp:${port + 1}`, `a=${dir}`];
/** The SBC's SDP to the DTLS caller: SAVP, setup:passive, its sha-1 fingerprint `fp`. */
const toCaller = (port, fp, dir, hash = 'sha-1') => [
  ...SBC_HEAD, `m=audio ${port} UDP/TLS/RTP/SAVP 0`, 'a=rtpmap:0 PCMU/8000', 'a=ptime:30', `a=rtcp:${port + 1}`, 'a=setup:passive', `a=fingerprint:${hash} ${fp}`, `a=${dir}`,
];
const mPort = (msg) => Number(/^m=audio (\d+) /m.exec(msg.text)[1]);
const fpOf = (msg) => /^a=fingerprint:\S+ (\S+)$/m.exec(msg.text)[1];
const got = (r, first, cseq) => r.messages.filter((m) => !m.sent && first.test(m.firstLine) && (!cseq || cseq.test(h.header(m, 'CSeq') || '')));
const ms = (m) => Date.parse(m.time.replace(' ', 'T').slice(0, 23));

/**
 * One call: callee hold-uas (answer `answer`, then `uas` steps) <- SBC <-
 * caller hold-uac (offer `offer`, then `uac` steps). `during(ctx)` runs once
 * the call is answered (ctx: { sbc, call, events, go(cseq) }: go releases the
 * caller's next s.go() step once it has ACKed CSeq `cseq`).
 * Both scenarios must exit 0 and the SBC must release everything.
 */
async function holdCall(t, { offer = SEED, answer = CALLEE, uac, uas = '', rtp = '', during }) {
  const callee = await h.startScenario('hold-uas', { SDP: h.sdpBody(answer), RTP: rtp, STEPS: uas });
  t.after(() => callee.cleanup());
  const sbc = await startTestSbc({
    realms: [{ name: 'in', security: 'dtls-srtp' }, { name: 'out', security: 'rtp', nextHop: `sip:127.0.0.1:${callee.port}` }],
    media: MEDIA,
  });
  t.after(() => sbc.stop());
  const events = [];
  sbc.engine.on('event', (e) => events.push(e));
  const caller = await h.startScenario('hold-uac', { SDP: h.sdpBody(offer), STEPS: uac }, { remote: `127.0.0.1:${sbc.port('in')}`, service: 'bob' });
  t.after(() => caller.cleanup());
  let call;
  await waitUntil(() => (call = [...sbc.app.calls.values()].find((c) => c.answeredAt)) || caller.child.exitCode !== null, 15000, 'call answered');
  const callerLog = () => parseMessageLog(fs.existsSync(path.join(caller.dir, 'messages.log')) ? fs.readFileSync(path.join(caller.dir, 'messages.log'), 'utf8') : '');
  /** Releases the caller's next go() step once it has sent the ACK of CSeq `cseq` (so it sits in go()). */
  const go = async (cseq) => {
    await waitUntil(() => callerLog().some((m) => m.sent && /^ACK /.test(m.firstLine) && h.header(m, 'CSeq') === `${cseq} ACK`), 20000, `caller sent ACK ${cseq}`);
    await s.poke(caller.port, call.callId);
  };
  const ctx = { sbc, call, events, go };
  if (during && call) {
    try {
      await during(ctx);
    } catch (err) {
      await Promise.all([caller.stop(0), callee.stop(0)]);
      throw err;
    }
  }
  const [a, b] = [await caller.done, await callee.done];
  assert.equal(a.code, 0, `caller scenario:\n${h.describe(a.messages)}\n${a.stdout.slice(-1500)}`);
  assert.equal(b.code, 0, `callee scenario:\n${h.describe(b.messages)}\n${b.stdout.slice(-1500)}`);
  await h.assertReleased(sbc);
  return Object.assign(ctx, { a, b });
}

test('caller hold (sendonly), resume, offerless re-INVITE: exact SDP each way, SBC role and fingerprint unchanged', async (t) => {
  let held, ackApplied;
  const r = await holdCall(t, {
    // The first re-INVITE waits for go() so the test can read the call's state
    // between steps.
    uac:
      s.go() +
      s.request('uac', 'INVITE', 2, withDir(SEED, 'sendonly')) + s.go() +
      s.request('uac', 'INVITE', 3, withDir(SEED, 'sendrecv')) +
      // Offerless: the answer in the ACK moves the caller's media to 127.0.0.4.
      s.request('uac', 'INVITE', 4, null, { ackSdp: withDir(SEED, 'sendrecv').map((l) => l.replace('127.0.0.3', '127.0.0.4')) }) + s.go() +
      s.bye('uac', 5),
    uas: s.answer('uas', 'INVITE', withDir(CALLEE, 'recvonly')) + s.answer('uas', 'INVITE', withDir(CALLEE, 'sendrecv')),
    during: async ({ call, go }) => {
      await go(1);
      await waitUntil(() => call.a.remote.media[0].direction === 'sendonly', 20000, 'hold applied');
      const st = call.pipeline.stats();
      held = { a: st.a.direction, b: st.b.direction, role: call.a.plan.dtlsRole };
      await go(2);
      await waitUntil(() => call.a.remote.media[0].address === '127.0.0.4', 20000, 'answer from the ACK applied');
      ackApplied = { role: call.a.plan.dtlsRole, handshakes: call.pipeline.stats().a.handshakes };
      await go(4);
    },
  });
  const invites = got(r.b, /^INVITE /);
  assert.equal(invites.length, 3, `callee: initial, hold, resume; no re-INVITE for the offerless one\n${h.describe(r.b.messages)}`);
  const p = mPort(invites[0]);
  h.expectSdp(invites[1], toCallee(p, 'sendonly'), 'hold offer to the callee');
  h.expectSdp(invites[2], toCallee(p, 'sendrecv'), 'resume offer to the callee');
  assert.doesNotMatch(invites[1].text + invites[2].text, /fingerprint|setup|SAVP|127\.0\.0\.3|alice/);

  const oks = got(r.a, /^SIP\/2\.0 200/, /INVITE/);
  assert.equal(oks.length, 4, h.describe(r.a.messages));
  const [q, fp] = [mPort(oks[0]), fpOf(oks[0])];
  assert.equal(fp, r.sbc.engine.currentFingerprint('sha-1').value.toUpperCase(), 'first answer: the SBC certificate in sha-1');
  h.expectSdp(oks[1], toCaller(q, fp, 'recvonly'), 'hold answer to the caller');
  h.expectSdp(oks[2], toCaller(q, fp, 'sendrecv'), 'resume answer to the caller');
  // The SBC's offer in the 200 to the offerless re-INVITE: established role, same port and fingerprint.
  h.expectSdp(oks[3], toCaller(q, fp, 'sendrecv'), 'SBC offer in the 200 to the offerless re-INVITE');
  assert.doesNotMatch(oks.map((m) => m.text).join(''), /setup:(actpass|active)|127\.0\.0\.2|callee-tool/);
  assert.deepEqual(held, { a: 'sendonly', b: 'recvonly', role: 'passive' }, 'engine directions while held');
  assert.deepEqual(ackApplied, { role: 'passive', handshakes: 1 }, 'ACK answer applied, same DTLS association');
});

test('a hold re-INVITE sent right after the ACK is relayed, never answered by srf with the old SDP (4 calls)', async (t) => {
  // Regression: a re-INVITE in the same read of the drachtio connection as the
  // 200's echo used to reach srf before the call's 'modify' listener existed
  // (ts/b2bua/early-requests.ts).
  for (let i = 0; i < 4; i++) {
    const r = await holdCall(t, {
      uac: s.request('uac', 'INVITE', 2, withDir(SEED, 'sendonly')) + s.bye('uac', 3),
      uas: s.answer('uas', 'INVITE', withDir(CALLEE, 'recvonly')),
    });
    const invites = got(r.b, /^INVITE /);
    assert.equal(invites.length, 2, `call ${i}: the hold reached the callee\n${h.describe(r.b.messages)}`);
    const oks = got(r.a, /^SIP\/2\.0 200/, /INVITE/);
    assert.match(oks[1].text, /^a=recvonly$/m, `call ${i}: the caller got the callee's recvonly`);
  }
});

test('callee hold: the caller gets sendonly with SAVP, setup:passive and the same fingerprint; the callee gets plain answers', async (t) => {
  const r = await holdCall(t, {
    uac: s.answer('uac', 'INVITE', withDir(SEED, 'recvonly')) + s.answer('uac', 'INVITE', withDir(SEED, 'sendrecv')) + s.bye('uac', 2),
    uas: s.request('uas', 'INVITE', 1, withDir(CALLEE, 'sendonly')) + s.request('uas', 'INVITE', 2, withDir(CALLEE, 'sendrecv')),
  });
  const ok = got(r.a, /^SIP\/2\.0 200/, /INVITE/)[0];
  const [q, fp] = [mPort(ok), fpOf(ok)];
  const reinvites = got(r.a, /^INVITE /);
  assert.equal(reinvites.length, 2, h.describe(r.a.messages));
  h.expectSdp(reinvites[0], toCaller(q, fp, 'sendonly'), 'hold offer to the caller');
  h.expectSdp(reinvites[1], toCaller(q, fp, 'sendrecv'), 'resume offer to the caller');
  const p = mPort(got(r.b, /^INVITE /)[0]);
  const answers = got(r.b, /^SIP\/2\.0 200/, /INVITE/);
  h.expectSdp(answers[0], toCallee(p, 'recvonly'), 'hold answer to the callee');
  h.expectSdp(answers[1], toCallee(p, 'sendrecv'), 'resume answer to the callee');
});

test('old-style hold (c=0.0.0.0, no direction) from the caller: the callee gets inactive and never 0.0.0.0', async (t) => {
  const oldHold = SEED.map((l) => (l === 'c=IN IP4 127.0.0.3' ? 'c=IN IP4 0.0.0.0' : l));
  const r = await holdCall(t, {
    uac: s.request('uac', 'INVITE', 2, oldHold) + s.bye('uac', 3),
    uas: s.answer('uas', 'INVITE', withDir(CALLEE, 'inactive')),
  });
  const invites = got(r.b, /^INVITE /);
  h.expectSdp(invites[1], toCallee(mPort(invites[0]), 'inactive'), 'old-style hold relayed to the callee');
  const oks = got(r.a, /^SIP\/2\.0 200/, /INVITE/);
  h.expectSdp(oks[1], toCaller(mPort(oks[0]), fpOf(oks[0]), 'inactive'), 'hold answer to the caller');
  assert.doesNotMatch(r.b.messagesLog + oks[1].text, /0\.0\.0\.0/);
});

test('UPDATE with SDP (hold) from the caller is relayed as UPDATE to the callee', async (t) => {
  const r = await holdCall(t, {
    uac: s.request('uac', 'UPDATE', 2, withDir(SEED, 'sendonly')) + s.bye('uac', 3),
    uas: s.answer('uas', 'UPDATE', withDir(CALLEE, 'recvonly')),
  });
  assert.deepEqual(got(r.b, /^(INVITE|UPDATE) /).map((m) => m.firstLine.split(' ')[0]), ['INVITE', 'UPDATE'], h.describe(r.b.messages));
  h.expectSdp(got(r.b, /^UPDATE /)[0], toCallee(mPort(got(r.b, /^INVITE /)[0]), 'sendonly'), 'UPDATE to the callee');
  const first = got(r.a, /^SIP\/2\.0 200/, /INVITE/)[0];
  h.expectSdp(got(r.a, /^SIP\/2\.0 200/, /UPDATE/)[0], toCaller(mPort(first), fpOf(first), 'recvonly'), '200 to the UPDATE');
});

test('glare: the callee re-INVITEs while the caller\'s re-INVITE is relayed to it: 491; the pending one completes', async (t) => {
  const pending = s.deferredInvite('uas');
  const r = await holdCall(t, {
    uac: s.request('uac', 'INVITE', 2, withDir(SEED, 'sendonly')) + s.bye('uac', 3),
    uas: pending.recv + s.request('uas', 'INVITE', 1, withDir(CALLEE, 'sendonly'), { expect: 491 }) + pending.answer(withDir(CALLEE, 'recvonly')),
  });
  const rejected = got(r.b, /^SIP\/2\.0 491 /)[0];
  assert.ok(rejected, h.describe(r.b.messages));
  assert.equal(got(r.a, /^INVITE /).length, 0, "the callee's re-INVITE was not relayed");
  const oks = got(r.a, /^SIP\/2\.0 200/, /INVITE/);
  h.expectSdp(oks[1], toCaller(mPort(oks[0]), fpOf(oks[0]), 'recvonly'), "the caller's hold completed");
  // The SIP engine answers in-dialog glare itself (net_request.rs), with a Reason.
  assert.match(h.reasonOf(rejected, '491 to the callee').text, /re-INVITE is already in progress/);
});

test('glare: the callee answers the relayed re-INVITE with 491: the SBC (Call-ID owner) retries after 2.1-4 s', async (t) => {
  const r = await holdCall(t, {
    uac: s.request('uac', 'INVITE', 2, withDir(SEED, 'sendonly')) + s.bye('uac', 3),
    // 491, then its own re-INVITE during the SBC's back-off (491 from the SBC), then 200 to the retry.
    uas: s.answer('uas', 'INVITE', null, { code: 491 }) + s.request('uas', 'INVITE', 1, withDir(CALLEE, 'sendonly'), { expect: 491 }) + s.answer('uas', 'INVITE', withDir(CALLEE, 'recvonly')),
  });
  const invites = got(r.b, /^INVITE /);
  assert.equal(invites.length, 3, h.describe(r.b.messages));
  h.expectSdp(invites[2], h.bodyLines(invites[1]), 'the retry carries the same offer');
  const wait = ms(invites[2]) - ms(invites[1]);
  assert.ok(wait >= 2100 && wait <= 4500, `retry ${wait} ms after the 491'd re-INVITE`);
  const reason = h.reasonOf(got(r.b, /^SIP\/2\.0 491 /)[0], "SBC's 491 to the callee during its back-off");
  assert.equal(reason.cause, 491);
  const oks = got(r.a, /^SIP\/2\.0 200/, /INVITE/);
  h.expectSdp(oks[1], toCaller(mPort(oks[0]), fpOf(oks[0]), 'recvonly'), 'the caller got its 200 after the retry');
});

test('the callee rejects the hold re-INVITE (488): the caller gets 488 with Reason, the next re-INVITE still works', async (t) => {
  const r = await holdCall(t, {
    uac: s.request('uac', 'INVITE', 2, withDir(SEED, 'sendonly'), { expect: 488 }) + s.request('uac', 'INVITE', 3, withDir(SEED, 'sendonly')) + s.bye('uac', 4),
    uas: s.answer('uas', 'INVITE', null, { code: 488 }) + s.answer('uas', 'INVITE', withDir(CALLEE, 'recvonly')),
  });
  const reason = h.reasonOf(got(r.a, /^SIP\/2\.0 488 /)[0], '488 to the caller');
  assert.equal(reason.cause, 488);
  assert.match(reason.text, /other leg/);
  const oks = got(r.a, /^SIP\/2\.0 200/, /INVITE/);
  h.expectSdp(oks[1], toCaller(mPort(oks[0]), fpOf(oks[0]), 'recvonly'), 'the second hold went through');
});

// Two caller certificates: the initial offer has the first one's fingerprint, the re-INVITE the second's.
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'esbc-hold-'));
trackTempDir(dir);
const certs = [1, 2].map((n) => {
  const c = selfSignedCert(dir, { cn: `caller${n}`, name: `caller${n}` });
  return { ...c, fp: c.fingerprint };
});
const dtlsOffer = (fp) => h.offers.seed({ fingerprint: `a=fingerprint:sha-256 ${fp}` }).map((l) => l.replace('127.0.0.3', '127.0.0.1'));

/** openssl s_client as the caller's DTLS client (setup:active) with certificate `c`; stays up until killed. */
function dtlsClient(t, port, c) {
  const child = spawnTracked('openssl', ['s_client', '-dtls1_2', '-connect', `127.0.0.1:${port}`, '-use_srtp', 'SRTP_AES128_CM_SHA1_80', '-cert', c.cert, '-key', c.key, '-ign_eof']);
  t.after(() => stopChild(child, 0));
  return child;
}

/**
 * Once the callee's RTP reaches the SBC, the caller's first DTLS handshake
 * (openssl s_client with certs[0], kept in `clients`). Returns the call's
 * stats getter, its caller-side dtls-connected events and the caller port.
 */
async function firstHandshake(t, call, events, clients) {
  const st = () => call.pipeline.stats();
  const connected = () => events.filter((e) => e.type === 'dtls-connected' && e.side === 'a');
  const port = call.pipeline.local.a.rtpPort;
  await waitUntil(() => st().b.packetsIn >= 5, 20000, "the callee's RTP reaches the SBC");
  clients.push(dtlsClient(t, port, certs[0]));
  await waitUntil(() => connected().length === 1, 20000, `first handshake (events ${JSON.stringify(events)})`);
  return { st, connected, port };
}

test('re-INVITE with a new caller fingerprint (same setup): exactly one new handshake, SBC fingerprint unchanged, media continues', async (t) => {
  const tone = writeToneUlawWav(path.join(dir, 'tone.wav'), { freq: 880, seconds: 5 });
  const clients = [];
  let stats, noKeys;
  const r = await holdCall(t, {
    offer: dtlsOffer(certs[0].fp),
    answer: h.answers.rtp({ codecs: '0', address: '127.0.0.1' }),
    rtp: `<nop><action><exec rtp_stream="${tone},-1,0"/></action></nop>`,
    uac: s.go() + s.request('uac', 'INVITE', 2, dtlsOffer(certs[1].fp)) + s.go() + s.bye('uac', 3),
    uas: s.answer('uas', 'INVITE', h.answers.rtp({ codecs: '0', address: '127.0.0.1' })),
    during: async ({ call, events, go }) => {
      const { st, connected, port } = await firstHandshake(t, call, events, clients);
      let out = st().a.packetsOut;
      await waitUntil(() => st().a.packetsOut >= out + 10, 20000, 'SRTP toward the caller');
      assert.equal(st().a.handshakes, 1);
      noKeys = st().a.drops.no_keys; // the callee's RTP before the first keys
      await go(1); // re-INVITE with the second certificate's fingerprint
      await waitUntil(() => call.a.plan.remoteFingerprints.some((f) => f.value === certs[1].fp), 20000, 're-INVITE applied');
      assert.equal(st().a.handshakes, 2, 'one new handshake started');
      out = st().a.packetsOut;
      await waitUntil(() => st().a.packetsOut >= out + 10, 20000, 'old keys keep media flowing until the new handshake');
      clients.push(dtlsClient(t, port, certs[1]));
      await waitUntil(() => connected().length === 2, 20000, `second handshake (events ${JSON.stringify(events)})`);
      out = st().a.packetsOut;
      await waitUntil(() => st().a.packetsOut >= out + 10, 20000, 'SRTP toward the caller with the new keys');
      stats = st();
      await go(2); // BYE
    },
  });
  const connected = r.events.filter((e) => e.type === 'dtls-connected');
  assert.deepEqual(connected.map((e) => [e.side, e.peerFingerprint.value.toUpperCase()]), [['a', certs[0].fp], ['a', certs[1].fp]]);
  assert.ok(!r.events.some((e) => e.type === 'dtls-failed'), JSON.stringify(r.events));
  assert.equal(stats.a.handshakes, 2, 'exactly one new handshake');
  assert.equal(stats.a.dtlsState, 'connected');
  assert.ok(noKeys > 0, 'RTP before the first handshake was dropped (no keys)');
  assert.equal(stats.a.drops.no_keys, noKeys, 'nothing dropped for lack of keys during the re-key');
  const oks = got(r.a, /^SIP\/2\.0 200/, /INVITE/);
  const fp = r.sbc.engine.currentFingerprint('sha-256').value.toUpperCase();
  assert.equal(fpOf(oks[0]), fp);
  h.expectSdp(oks[1], toCaller(mPort(oks[0]), fp, 'sendrecv', 'sha-256'), 're-INVITE answer: same port, role and SBC fingerprint');
  for (const c of clients) assert.doesNotMatch(c.log, /alert/i, `s_client saw no alert:\n${c.log.slice(0, 800)}`);
});

test('RFC 8842 tls-id: hold keeps the association and our tls-id; a new caller tls-id with the same certificate gets one new handshake and a new tls-id', async (t) => {
  const tone = writeToneUlawWav(path.join(dir, 'tone-tls-id.wav'), { freq: 880, seconds: 5 });
  const [T1, T2] = ['callerAssociation0001', 'callerAssociation0002'];
  const offerWith = (tlsId, dirAttr) => withDir([...dtlsOffer(certs[0].fp), `a=tls-id:${tlsId}`], dirAttr);
  const callee = h.answers.rtp({ codecs: '0', address: '127.0.0.1' });
  const clients = [];
  let stats;
  const r = await holdCall(t, {
    offer: offerWith(T1, 'sendrecv'),
    answer: callee,
    rtp: `<nop><action><exec rtp_stream="${tone},-1,0"/></action></nop>`,
    uac: s.go() + s.request('uac', 'INVITE', 2, offerWith(T1, 'sendonly')) + s.request('uac', 'INVITE', 3, offerWith(T2, 'sendrecv')) + s.go() + s.bye('uac', 4),
    uas: s.answer('uas', 'INVITE', withDir(callee, 'recvonly')) + s.answer('uas', 'INVITE', withDir(callee, 'sendrecv')),
    during: async ({ call, events, go }) => {
      const { st, connected, port } = await firstHandshake(t, call, events, clients);
      await go(1); // hold (same tls-id), then the re-key (new tls-id, same certificate)
      await waitUntil(() => call.a.plan.remoteTlsId === T2, 20000, 'the re-key re-INVITE applied');
      assert.equal(st().a.handshakes, 2, 'the hold started nothing; the new tls-id started one new handshake');
      clients.push(dtlsClient(t, port, certs[0]));
      await waitUntil(() => connected().length === 2, 20000, `second handshake (events ${JSON.stringify(events)})`);
      const out = st().a.packetsOut;
      await waitUntil(() => st().a.packetsOut >= out + 10, 20000, 'SRTP toward the caller with the new keys');
      stats = st();
      await go(3); // BYE
    },
  });
  assert.equal(stats.a.handshakes, 2);
  assert.equal(stats.a.dtlsState, 'connected');
  assert.ok(!r.events.some((e) => e.type === 'dtls-failed'), JSON.stringify(r.events));
  const oks = got(r.a, /^SIP\/2\.0 200/, /INVITE/);
  const tlsIdOf = (m) => /^a=tls-id:(\S+)$/m.exec(m.text)?.[1];
  const ids = oks.map(tlsIdOf);
  assert.equal(ids.length, 3);
  assert.match(ids[0], /^[A-Za-z0-9_-]{32}$/, 'the SBC answers a tls-id peer with its own tls-id');
  assert.equal(ids[1], ids[0], 'hold: same association, same tls-id');
  assert.notEqual(ids[2], ids[0], 'new association: new tls-id');
  assert.equal(fpOf(oks[2]), fpOf(oks[0]), 'the SBC certificate stays');
  for (const m of got(r.b, /^INVITE /)) assert.doesNotMatch(m.text, /tls-id/, 'nothing of the DTLS leg reaches the RTP callee');
  for (const c of clients) assert.doesNotMatch(c.log, /alert/i, `s_client saw no alert:\n${c.log.slice(0, 800)}`);
});
