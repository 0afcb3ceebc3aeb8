'use strict';
// WebRTC caller (Chrome offer: ICE, BUNDLE, rtcp-mux/rsize, opus, SAVPF) on a
// DTLS-SRTP realm, plain RTP callee: the SBC answers as an ICE-lite agent and
// the RTP side sees a plain RTP/AVP offer.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { sdp, fixture, localLeg, sbcFingerprint, lines, section, assertNoLeak, assertSdpError, body } = require('./helpers');

const CHROME = fixture('chrome-audio');

function rtpAnswer(...media) {
  return body('v=0', 'o=bob 1 1 IN IP4 198.51.100.50', 's=-', 'c=IN IP4 198.51.100.50', 't=0 0', ...media);
}
const PCMU_ANSWER = rtpAnswer('m=audio 20000 RTP/AVP 0 126', 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:126 telephone-event/8000', 'a=sendrecv');

function call(offerText, answerText, { answerOpts, offerOpts } = {}) {
  const offerA = sdp.parseSdp(offerText);
  const planA = sdp.planAnswer(offerA, 'dtls-srtp', answerOpts);
  const planB = sdp.planOffer(offerA, sdp.resolveSecurity('rtp', planA.security), offerOpts);
  const offerB = sdp.buildOffer(offerA, planB, localLeg('b'), sdp.createOrigin('1000'));
  const answerB = sdp.parseSdp(answerText);
  const planB2 = sdp.applyAnswer(answerB, planB);
  const answerA = sdp.buildAnswer(offerA, answerB, planA, localLeg('a', planA.fingerprintHash), sdp.createOrigin('2000'));
  return { offerA, planA, planB2, offerB: offerB.sdp, answerA: answerA.sdp };
}

/** Chrome's own identifiers that must never be copied to either side. */
const CHROME_SECRETS = [
  '8hhY', 'asd88fgpdd777uzjYhagZg2v', '2999745851', '1793826305', '50123', 'network-id', 'generation',
  '3735928559', 'Qx7rT2mLk9PzW4bN', '4a0b3f3e', '7c1d9e2f', 'extmap', 'msid', 'ssrc', 'transport-cc', 'trickle',
  'D2:FA:0E:C3', '7614219274584779017',
];

test('Chrome offer: ICE-lite answer with BUNDLE, mid, rtcp-mux/rsize, one host candidate; RTP side gets plain RTP/AVP', () => {
  const r = call(CHROME, PCMU_ANSWER);
  const ice = r.planA.ice;
  assert.ok(ice, 'ICE planned for a WebRTC offer');
  assert.deepEqual(ice.remote, { ufrag: '8hhY', pwd: 'asd88fgpdd777uzjYhagZg2v' });
  assert.match(ice.local.ufrag, /^[A-Za-z0-9+/]{8}$/);
  assert.match(ice.local.pwd, /^[A-Za-z0-9+/]{24}$/);
  assert.equal(r.answerA, body(
    'v=0', 'o=- 2000 1 IN IP4 10.9.8.7', 's=-', 'c=IN IP4 10.9.8.7', 't=0 0',
    'a=ice-lite', 'a=group:BUNDLE 0',
    'm=audio 40000 UDP/TLS/RTP/SAVPF 0 126', 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:126 telephone-event/8000',
    'a=rtcp-mux', 'a=rtcp-rsize', 'a=mid:0',
    `a=ice-ufrag:${ice.local.ufrag}`, `a=ice-pwd:${ice.local.pwd}`,
    'a=candidate:1 1 UDP 2130706431 10.9.8.7 40000 typ host', 'a=end-of-candidates',
    'a=setup:passive', `a=fingerprint:sha-256 ${sbcFingerprint().value}`, 'a=sendrecv',
  ));
  // No feedback was negotiated with the RTP side, so none is offered back
  // (rtcp-fb dropped consistently, extmap never copied).
  assert.ok(!r.answerA.includes('rtcp-fb'));
  for (const s of CHROME_SECRETS) assert.ok(!r.answerA.includes(s), `answer leaks ${s}`);

  // The RTP side: plain RTP/AVP, the browser's codecs, nothing WebRTC.
  assert.equal(r.offerB, body(
    'v=0', 'o=- 1000 1 IN IP4 10.9.8.7', 's=-', 'c=IN IP4 10.9.8.7', 't=0 0',
    'm=audio 40002 RTP/AVP 111 63 9 0 8 13 110 126',
    'a=rtpmap:111 opus/48000/2', 'a=fmtp:111 minptime=10;useinbandfec=1', 'a=rtpmap:63 red/48000/2', 'a=fmtp:63 111/111',
    'a=rtpmap:9 G722/8000', 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:8 PCMA/8000', 'a=rtpmap:13 CN/8000',
    'a=rtpmap:110 telephone-event/48000', 'a=rtpmap:126 telephone-event/8000', 'a=rtcp:40003', 'a=sendrecv',
  ));
  assertNoLeak(r.offerB, CHROME);
  for (const bad of ['ice', 'candidate', 'BUNDLE', 'mid', 'rtcp-fb', 'rtcp-rsize', 'SAVPF']) assert.ok(!r.offerB.includes(bad), `${bad} toward RTP`);
  assert.equal(r.planB2.ice, undefined);
});

test('engine spec for the WebRTC leg: ICE-lite with both credentials, no SDP address (ICE decides)', () => {
  const offer = sdp.parseSdp(CHROME);
  const plan = sdp.planAnswer(offer, 'dtls-srtp');
  const spec = sdp.legSpecFor(plan, offer);
  assert.deepEqual(spec, {
    kind: 'dtls-srtp', role: 'passive', remoteFingerprints: [{ hash: 'sha-256', value: offer.media[0].fingerprints[0].value }],
    direction: 'sendrecv', rtcpMux: true, fingerprintHash: 'sha-256',
    ice: { localUfrag: plan.ice.local.ufrag, localPwd: plan.ice.local.pwd, remoteUfrag: '8hhY', remotePwd: 'asd88fgpdd777uzjYhagZg2v', lite: true },
  });
});

test('codec policy: opus only when the RTP side answers it; PCMA otherwise; nothing common is 488', () => {
  const opus = rtpAnswer('m=audio 20000 RTP/AVP 111 0', 'a=rtpmap:111 opus/48000/2', 'a=fmtp:111 useinbandfec=1', 'a=rtpmap:0 PCMU/8000', 'a=sendrecv');
  const r1 = call(CHROME, opus);
  assert.deepEqual(section(r1.answerA, 0).slice(0, 4), ['m=audio 40000 UDP/TLS/RTP/SAVPF 111 0', 'a=rtpmap:111 opus/48000/2', 'a=fmtp:111 useinbandfec=1', 'a=rtpmap:0 PCMU/8000']);
  const pcma = rtpAnswer('m=audio 20000 RTP/AVP 8', 'a=rtpmap:8 PCMA/8000', 'a=sendrecv');
  const r2 = call(CHROME, pcma);
  assert.equal(section(r2.answerA, 0)[0], 'm=audio 40000 UDP/TLS/RTP/SAVPF 8');
  assert.ok(!r2.answerA.includes('opus'));
  const g729 = rtpAnswer('m=audio 20000 RTP/AVP 18', 'a=rtpmap:18 G729/8000', 'a=sendrecv');
  assertSdpError(() => call(CHROME, g729), 488, 'no common codec');
  const dtmfOnly = CHROME.replace('m=audio 50123 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126', 'm=audio 50123 UDP/TLS/RTP/SAVPF 110 126');
  assertSdpError(() => sdp.planAnswer(sdp.parseSdp(dtmfOnly), 'dtls-srtp'), 488, 'no common codec');
});

test('Chrome offer with audio+video bundled: video rejected and out of the BUNDLE group', () => {
  const answer = rtpAnswer('m=audio 20000 RTP/AVP 0', 'a=rtpmap:0 PCMU/8000', 'a=sendrecv', 'm=video 0 RTP/AVP 96');
  const r = call(fixture('chrome-webrtc'), answer);
  const ls = lines(r.answerA);
  assert.ok(ls.includes('a=group:BUNDLE 0'));
  assert.ok(!ls.some((l) => l.startsWith('a=group:BUNDLE 0 1')));
  assert.deepEqual(section(r.answerA, 1), ['m=video 0 UDP/TLS/RTP/SAVPF 96 97', 'a=mid:1']);
  assert.equal(ls.filter((l) => l.startsWith('a=candidate:')).length, 1);
});

test('ICE restart: new remote credentials get new local ones; same ones keep ours; DTLS role and fingerprint unchanged', () => {
  const first = sdp.parseSdp(CHROME);
  const plan1 = sdp.planAnswer(first, 'dtls-srtp');
  const same = sdp.planAnswer(sdp.parseSdp(CHROME.replace('o=- 7614219274584779017 2', 'o=- 7614219274584779017 3')), 'dtls-srtp', {}, plan1);
  assert.deepEqual(same.ice, plan1.ice);
  const restartText = CHROME.replace('a=ice-ufrag:8hhY', 'a=ice-ufrag:Zk9q').replace('a=ice-pwd:asd88fgpdd777uzjYhagZg2v', 'a=ice-pwd:Pq0rS1tU2vW3xY4zA5bC6dE7');
  const restart = sdp.parseSdp(restartText);
  const plan2 = sdp.planAnswer(restart, 'dtls-srtp', {}, plan1);
  assert.deepEqual(plan2.ice.remote, { ufrag: 'Zk9q', pwd: 'Pq0rS1tU2vW3xY4zA5bC6dE7' });
  assert.notEqual(plan2.ice.local.ufrag, plan1.ice.local.ufrag);
  assert.notEqual(plan2.ice.local.pwd, plan1.ice.local.pwd);
  assert.equal(plan2.dtlsRole, plan1.dtlsRole);
  const update = sdp.legUpdateFor(plan2, restart);
  assert.deepEqual(update.ice, { localUfrag: plan2.ice.local.ufrag, localPwd: plan2.ice.local.pwd, remoteUfrag: 'Zk9q', remotePwd: 'Pq0rS1tU2vW3xY4zA5bC6dE7', lite: true });
  assert.deepEqual(update.remoteFingerprints, sdp.legUpdateFor(plan1, first).remoteFingerprints, 'same fingerprint: the engine keeps the association');
  const built = sdp.buildAnswer(restart, sdp.parseSdp(PCMU_ANSWER), plan2, localLeg('a'), sdp.createOrigin('3000'));
  assert.ok(lines(built.sdp).includes(`a=ice-ufrag:${plan2.ice.local.ufrag}`));
});

test('c=IN IP4 0.0.0.0 with port 9 and ICE is "no default candidate", not hold', () => {
  const text = CHROME.replace('m=audio 50123', 'm=audio 9').replace('c=IN IP4 127.0.0.1', 'c=IN IP4 0.0.0.0');
  const m = sdp.parseSdp(text).media[0];
  assert.equal(m.oldStyleHold, false);
  assert.equal(m.direction, 'sendrecv');
  assert.deepEqual(m.ice, { ufrag: '8hhY', pwd: 'asd88fgpdd777uzjYhagZg2v', lite: false, candidates: 2, endOfCandidates: false });
  const hold = text.replace(/a=ice-(ufrag|pwd):.*\r\n/g, '').replace('a=sendrecv\r\n', '');
  assert.equal(sdp.parseSdp(hold).media[0].oldStyleHold, true, 'without ICE it still is RFC 2543 hold');
});

test('ice: false strips ICE (realm without ICE); invalid ICE credentials are 488', () => {
  const r = call(CHROME, PCMU_ANSWER, { answerOpts: { ice: false } });
  for (const bad of ['ice-', 'candidate', 'BUNDLE', 'rtcp-rsize']) assert.ok(!r.answerA.includes(bad), `${bad} with ice: false`);
  const short = CHROME.replace('a=ice-pwd:asd88fgpdd777uzjYhagZg2v', 'a=ice-pwd:short');
  assertSdpError(() => sdp.planAnswer(sdp.parseSdp(short), 'dtls-srtp'), 488, /invalid a=ice-ufrag\/a=ice-pwd/);
});

test('the SBC offers ICE-lite toward a WebRTC realm (OfferOptions.ice) and takes the answer credentials', () => {
  const src = sdp.parseSdp(rtpAnswer('m=audio 20000 RTP/AVP 0 8', 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:8 PCMA/8000', 'a=sendrecv'));
  const plan = sdp.planOffer(src, 'dtls-srtp', { ice: true });
  const offer = sdp.buildOffer(src, plan, localLeg('b'), sdp.createOrigin('4000')).sdp;
  assert.equal(offer, body(
    'v=0', 'o=- 4000 1 IN IP4 10.9.8.7', 's=-', 'c=IN IP4 10.9.8.7', 't=0 0', 'a=ice-lite', 'a=group:BUNDLE 0',
    'm=audio 40002 UDP/TLS/RTP/SAVP 0 8', 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:8 PCMA/8000', 'a=rtcp-mux', 'a=mid:0',
    `a=ice-ufrag:${plan.ice.local.ufrag}`, `a=ice-pwd:${plan.ice.local.pwd}`,
    'a=candidate:1 1 UDP 2130706431 10.9.8.7 40002 typ host', 'a=end-of-candidates',
    'a=setup:actpass', `a=fingerprint:sha-256 ${sbcFingerprint().value}`, 'a=sendrecv',
  ));
  assert.deepEqual(sdp.legSpecFor(plan).ice, { localUfrag: plan.ice.local.ufrag, localPwd: plan.ice.local.pwd, lite: true });
  const browserAnswer = body(
    'v=0', 'o=- 1 2 IN IP4 127.0.0.1', 's=-', 't=0 0', 'a=group:BUNDLE 0',
    'm=audio 9 UDP/TLS/RTP/SAVP 0', 'c=IN IP4 0.0.0.0', 'a=ice-ufrag:AbCd', 'a=ice-pwd:0123456789abcdefghijklmn',
    'a=fingerprint:sha-256 D2:FA:0E:C3:22:59:5E:14:95:69:92:3D:13:B4:84:24:2C:C2:A2:C0:3E:FD:34:8E:5E:EA:6F:AF:52:CE:E6:0F',
    'a=setup:active', 'a=mid:0', 'a=sendrecv', 'a=rtcp-mux', 'a=rtpmap:0 PCMU/8000',
  );
  const done = sdp.applyAnswer(sdp.parseSdp(browserAnswer), plan);
  assert.deepEqual(done.ice, { local: plan.ice.local, remote: { ufrag: 'AbCd', pwd: '0123456789abcdefghijklmn' } });
  assert.equal(done.dtlsRole, 'passive');
  assert.equal(sdp.legUpdateFor(done, sdp.parseSdp(browserAnswer)).ice.remoteUfrag, 'AbCd');
  const noIce = browserAnswer.replace(/a=ice-(ufrag|pwd):.*\r\n/g, '');
  assertSdpError(() => sdp.applyAnswer(sdp.parseSdp(noIce), plan), 488, 'answer without ICE credentials to an ICE-lite offer');
  // A re-offer keeps the same credentials (the SBC never restarts ICE itself).
  assert.deepEqual(sdp.planOffer(src, 'dtls-srtp', {}, done).ice, done.ice);
});
