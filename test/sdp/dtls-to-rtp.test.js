'use strict';
// Caller on a DTLS-SRTP realm, callee on an RTP realm (and as-offered).
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { sdp, fixture, localLeg, sbcFingerprint, lines, section, assertNoLeak, body } = require('./helpers');

const CALLEE_ANSWER = body(
  'v=0', 'o=bob 2808844564 2808844564 IN IP4 198.51.100.50', 's=-', 'c=IN IP4 198.51.100.50', 't=0 0',
  'm=audio 20000 RTP/AVP 0', 'a=rtpmap:0 PCMU/8000', 'a=sendrecv',
);

/** Runs the B2BUA flow; returns every intermediate result. */
function call(offerText, answerText, { policyA = 'dtls-srtp', policyB = 'rtp', answerOpts, offerOpts } = {}) {
  const offerA = sdp.parseSdp(offerText);
  const planA = sdp.planAnswer(offerA, policyA, answerOpts);
  const planB = sdp.planOffer(offerA, sdp.resolveSecurity(policyB, planA.security), offerOpts);
  const localA = localLeg('a', planA.fingerprintHash);
  const localB = localLeg('b', planB.fingerprintHash);
  const offerB = sdp.buildOffer(offerA, planB, localB, sdp.createOrigin('1000'));
  const answerB = sdp.parseSdp(answerText);
  const planB2 = sdp.applyAnswer(answerB, planB);
  const answerA = sdp.buildAnswer(offerA, answerB, planA, localA, sdp.createOrigin('2000'));
  return { offerA, planA, planB, planB2, offerB: offerB.sdp, answerA: answerA.sdp };
}

test('seed SAVP (setup:active, SHA-1 with a space) -> RTP callee, and back', () => {
  const r = call(fixture('seed-savp-sha1'), CALLEE_ANSWER);
  assert.equal(r.offerB, body(
    'v=0', 'o=- 1000 1 IN IP4 10.9.8.7', 's=-', 'c=IN IP4 10.9.8.7', 't=0 0',
    'm=audio 40002 RTP/AVP 0', 'a=rtpmap:0 PCMU/8000', 'a=ptime:20', 'a=rtcp:40003', 'a=sendrecv',
  ));
  assert.equal(r.answerA, body(
    'v=0', 'o=- 2000 1 IN IP4 10.9.8.7', 's=-', 'c=IN IP4 10.9.8.7', 't=0 0',
    'm=audio 40000 UDP/TLS/RTP/SAVP 0', 'a=rtpmap:0 PCMU/8000', 'a=rtcp:40001',
    'a=setup:passive', `a=fingerprint:sha-1 ${sbcFingerprint('sha-1').value}`, 'a=sendrecv',
  ));
  assert.equal(r.planA.fingerprintHash, 'sha-1', 'answer SHA-1 to a SHA-1 peer');
  assert.equal(r.planA.dtlsRole, 'passive');
  assertNoLeak(r.offerB, fixture('seed-savp-sha1'));
  assertNoLeak(r.answerA, CALLEE_ANSWER, fixture('seed-savp-sha1'));
});

test('baresip SAVPF actpass -> RTP/AVP (avpf strip), answer SAVPF passive sha-256 with rtcp-mux', () => {
  const answer = body(
    'v=0', 'o=bob 1 1 IN IP4 198.51.100.50', 's=-', 'c=IN IP4 198.51.100.50', 't=0 0',
    'm=audio 20000 RTP/AVP 8 101', 'a=rtpmap:8 PCMA/8000', 'a=rtpmap:101 telephone-event/8000', 'a=fmtp:101 0-15',
    'a=ptime:30', 'a=sendrecv',
  );
  const r = call(fixture('baresip-savpf'), answer);
  assert.deepEqual(section(r.offerB, 0), [
    'm=audio 40002 RTP/AVP 0 8 101', 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:8 PCMA/8000', 'a=rtpmap:101 telephone-event/8000',
    'a=fmtp:101 0-15', 'a=ptime:20', 'a=rtcp:40003', 'a=sendrecv',
  ]);
  assert.deepEqual(section(r.answerA, 0), [
    'm=audio 40000 UDP/TLS/RTP/SAVPF 8 101', 'a=rtpmap:8 PCMA/8000', 'a=rtpmap:101 telephone-event/8000', 'a=fmtp:101 0-15',
    'a=ptime:30', 'a=rtcp-mux', 'a=setup:passive', `a=fingerprint:sha-256 ${sbcFingerprint('sha-256').value}`, 'a=sendrecv',
  ]);
  assertNoLeak(r.offerB, fixture('baresip-savpf'));
  assertNoLeak(r.answerA, answer, fixture('baresip-savpf'));
});

test('actpassAnswer "active" makes the SBC the DTLS client; offer setup:passive too', () => {
  const r = call(fixture('baresip-savpf'), CALLEE_ANSWER, { answerOpts: { actpassAnswer: 'active' } });
  assert.equal(r.planA.dtlsRole, 'active');
  assert.ok(lines(r.answerA).includes('a=setup:active'));
  const passive = fixture('seed-savp-sha1').replace('a=setup:active', 'a=setup:passive');
  const r2 = call(passive, CALLEE_ANSWER);
  assert.equal(r2.planA.dtlsRole, 'active');
  assert.ok(lines(r2.answerA).includes('a=setup:active'));
  assert.ok(!lines(r2.answerA).includes('a=setup:passive'));
});

test('avpf "keep": RTP/AVPF with rtcp-fb toward the RTP realm', () => {
  const answer = CALLEE_ANSWER.replace('RTP/AVP 0', 'RTP/AVPF 0') + 'm=video 0 RTP/AVPF 96\r\n';
  const r = call(fixture('chrome-webrtc'), answer, { offerOpts: { avpf: 'keep' } });
  const s = section(r.offerB, 0);
  assert.equal(s[0], 'm=audio 40002 RTP/AVPF 111 63 9 0 8 13 110 126');
  assert.ok(s.includes('a=rtcp-fb:111 transport-cc'));
  assert.deepEqual(section(r.offerB, 1), ['m=video 0 RTP/AVPF 96 97']);
  // The answer toward Chrome always echoes the offered protocol.
  assert.equal(section(r.answerA, 0)[0], 'm=audio 40000 UDP/TLS/RTP/SAVPF 0');
  assert.equal(r.planB2.avpf, true);
});

test('Chrome offer -> RTP on a realm without ICE (ice: false): strips ICE/ssrc/msid/extmap/rtcp-fb/BUNDLE; keeps m-line count; answer echoes mids', () => {
  const chrome = fixture('chrome-webrtc');
  const answer = body(
    'v=0', 'o=bob 1 1 IN IP4 198.51.100.50', 's=-', 'c=IN IP4 198.51.100.50', 't=0 0',
    'm=audio 20000 RTP/AVP 0 126', 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:126 telephone-event/8000', 'a=sendrecv',
    'm=video 0 RTP/AVP 96',
  );
  const r = call(chrome, answer, { answerOpts: { ice: false } });
  assert.equal(r.offerB, body(
    'v=0', 'o=- 1000 1 IN IP4 10.9.8.7', 's=-', 'c=IN IP4 10.9.8.7', 't=0 0',
    'm=audio 40002 RTP/AVP 111 63 9 0 8 13 110 126',
    'a=rtpmap:111 opus/48000/2', 'a=fmtp:111 minptime=10;useinbandfec=1', 'a=rtpmap:63 red/48000/2', 'a=fmtp:63 111/111',
    'a=rtpmap:9 G722/8000', 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:8 PCMA/8000', 'a=rtpmap:13 CN/8000',
    'a=rtpmap:110 telephone-event/48000', 'a=rtpmap:126 telephone-event/8000', 'a=rtcp:40003', 'a=sendrecv',
    'm=video 0 RTP/AVP 96 97',
  ));
  assert.equal(r.answerA, body(
    'v=0', 'o=- 2000 1 IN IP4 10.9.8.7', 's=-', 'c=IN IP4 10.9.8.7', 't=0 0',
    'm=audio 40000 UDP/TLS/RTP/SAVPF 0 126', 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:126 telephone-event/8000',
    'a=rtcp-mux', 'a=mid:0', 'a=setup:passive', `a=fingerprint:sha-256 ${sbcFingerprint().value}`, 'a=sendrecv',
    'm=video 0 UDP/TLS/RTP/SAVPF 96 97', 'a=mid:1',
  ));
  assertNoLeak(r.offerB, chrome);
  assertNoLeak(r.answerA, chrome, answer);
  for (const out of [r.offerB, r.answerA]) {
    for (const bad of ['ice-ufrag', 'ice-pwd', 'candidate', 'ssrc', 'msid', 'extmap', 'BUNDLE', 'cname', '203.0.113.77']) {
      assert.ok(!out.includes(bad), `${bad} leaked`);
    }
  }
});

test('as-offered: DTLS stays DTLS toward the callee with the SBC terminating it (own fingerprint, actpass)', () => {
  const answer = body(
    'v=0', 'o=bob 1 1 IN IP4 198.51.100.50', 's=-', 'c=IN IP4 198.51.100.50', 't=0 0',
    'm=audio 20000 UDP/TLS/RTP/SAVP 0', 'a=setup:active',
    'a=fingerprint:sha-256 11:22:33:44:55:66:77:88:99:00:AA:BB:CC:DD:EE:FF:11:22:33:44:55:66:77:88:99:00:AA:BB:CC:DD:EE:FF',
    'a=rtcp-mux', 'a=sendrecv',
  );
  const r = call(fixture('seed-savp-sha1'), answer, { policyB: 'as-offered' });
  assert.equal(r.planB.security, 'dtls-srtp');
  assert.deepEqual(section(r.offerB, 0), [
    'm=audio 40002 UDP/TLS/RTP/SAVP 0', 'a=rtpmap:0 PCMU/8000', 'a=ptime:20', 'a=rtcp-mux', 'a=setup:actpass',
    `a=fingerprint:sha-256 ${sbcFingerprint('sha-256').value}`, 'a=sendrecv',
  ]);
  assert.equal(r.planB2.dtlsRole, 'passive');
  assert.equal(r.planB2.rtcpMux, true);
  assertNoLeak(r.offerB, fixture('seed-savp-sha1'));
  assertNoLeak(r.answerA, answer);
});

test('resolveSecurity', () => {
  assert.equal(sdp.resolveSecurity('as-offered', 'dtls-srtp'), 'dtls-srtp');
  assert.equal(sdp.resolveSecurity('as-offered', 'sdes-srtp'), 'sdes-srtp');
  assert.equal(sdp.resolveSecurity('as-offered', 'rtp'), 'rtp');
  assert.equal(sdp.resolveSecurity('rtp', 'dtls-srtp'), 'rtp');
  assert.equal(sdp.resolveSecurity('sdes-srtp', 'rtp'), 'sdes-srtp');
});

test('direction: callee recvonly answer to a sendonly (hold) offer goes back as recvonly', () => {
  const hold = fixture('seed-savp-sha1').replace('a=ptime:20', 'a=sendonly');
  const answer = CALLEE_ANSWER.replace('a=sendrecv', 'a=recvonly');
  const r = call(hold, answer);
  assert.equal(section(r.offerB, 0).at(-1), 'a=sendonly');
  assert.equal(section(r.answerA, 0).at(-1), 'a=recvonly');
  // An answerer that ignores the hold is narrowed to what the offer allows.
  const r2 = call(hold, CALLEE_ANSWER);
  assert.equal(section(r2.answerA, 0).at(-1), 'a=recvonly');
  assert.equal(sdp.answerDirection('recvonly', 'sendrecv'), 'sendonly');
  assert.equal(sdp.answerDirection('inactive', 'sendrecv'), 'inactive');
  assert.equal(sdp.answerDirection('sendrecv', 'sendonly'), 'sendonly');
});

test('IPv6 SBC address: o= and c= are IN IP6', () => {
  const offerA = sdp.parseSdp(fixture('seed-savp-sha1'));
  const planB = sdp.planOffer(offerA, 'rtp');
  const out = sdp.buildOffer(offerA, planB, localLeg('b', 'sha-256', '2001:db8::7'), sdp.createOrigin('5')).sdp;
  assert.ok(lines(out).includes('o=- 5 1 IN IP6 2001:db8::7'));
  assert.ok(lines(out).includes('c=IN IP6 2001:db8::7'));
});

test('the LocalLeg must carry the fingerprint hash the plan needs', () => {
  const offerA = sdp.parseSdp(fixture('seed-savp-sha1'));
  const planA = sdp.planAnswer(offerA, 'dtls-srtp');
  const answerB = sdp.parseSdp(CALLEE_ANSWER);
  assert.throws(() => sdp.buildAnswer(offerA, answerB, planA, localLeg('a', 'sha-256'), sdp.createOrigin('1')),
    (e) => e instanceof sdp.SdpError && e.status === 500 && /sha-1/.test(e.reason));
});

test('RFC 8842 a=tls-id: the peer\'s goes to the engine, ours is answered (only to a peer that uses tls-id)', () => {
  const TLS_ID = 'Xy7+/_-abcdefghij0123456789';
  const withTlsId = fixture('baresip-savpf').replace('a=setup:actpass', `a=setup:actpass\r\na=tls-id:${TLS_ID}`);
  const offerA = sdp.parseSdp(withTlsId);
  assert.equal(offerA.media[0].tlsId, TLS_ID);
  const planA = sdp.planAnswer(offerA, 'dtls-srtp');
  assert.equal(planA.remoteTlsId, TLS_ID);
  assert.equal(sdp.legSpecFor(planA, offerA).remoteTlsId, TLS_ID, 'the engine learns the peer\'s tls-id');
  const ours = 'OurTlsIdFromTheEngine0123456789a';
  const answer = sdp.parseSdp(CALLEE_ANSWER);
  const built = sdp.buildAnswer(offerA, answer, planA, { ...localLeg('a', 'sha-256'), tlsId: ours }, sdp.createOrigin('2000'));
  assert.ok(lines(built.sdp).includes(`a=tls-id:${ours}`), built.sdp);
  assertNoLeak(built.sdp, withTlsId);
  // A re-offer keeps the plan's knowledge; a peer without tls-id never gets ours.
  assert.equal(sdp.planAnswer(offerA, 'dtls-srtp', {}, planA).remoteTlsId, TLS_ID);
  const plain = sdp.parseSdp(fixture('baresip-savpf'));
  const noId = sdp.buildAnswer(plain, answer, sdp.planAnswer(plain, 'dtls-srtp'), { ...localLeg('a', 'sha-256'), tlsId: ours }, sdp.createOrigin('2000'));
  assert.ok(!/a=tls-id/.test(noId.sdp));
});
