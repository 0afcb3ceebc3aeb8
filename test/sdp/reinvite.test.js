'use strict';
// o= version rules, hold/resume and DTLS role stability across re-INVITEs.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { sdp, fixture, localLeg, section, lines, body } = require('./helpers');

const CALLEE_FP = '11:22:33:44:55:66:77:88:99:00:AA:BB:CC:DD:EE:FF:11:22:33:44:55:66:77:88:99:00:AA:BB:CC:DD:EE:FF';
const rtpAnswer = (dir = 'sendrecv') => body('v=0', 'o=bob 1 1 IN IP4 198.51.100.50', 's=-', 'c=IN IP4 198.51.100.50', 't=0 0',
  'm=audio 20000 RTP/AVP 0', 'a=rtpmap:0 PCMU/8000', `a=${dir}`);

test('o= version: unchanged content keeps it, any change bumps it by one; session id constant', () => {
  const offerA = sdp.parseSdp(fixture('rtp-avp'));
  const planB = sdp.planOffer(offerA, 'rtp');
  let origin = sdp.createOrigin('777');
  const first = sdp.buildOffer(offerA, planB, localLeg('b'), origin);
  assert.ok(lines(first.sdp).includes('o=- 777 1 IN IP4 10.9.8.7'));
  origin = first.origin;
  const same = sdp.buildOffer(offerA, planB, localLeg('b'), origin);
  assert.ok(lines(same.sdp).includes('o=- 777 1 IN IP4 10.9.8.7'), 're-offer with unchanged media keeps the version');
  assert.equal(same.origin.version, 1);
  const hold = sdp.parseSdp(fixture('rtp-avp').replace('a=sendrecv', 'a=sendonly'));
  const held = sdp.buildOffer(hold, planB, localLeg('b'), same.origin);
  assert.ok(lines(held.sdp).includes('o=- 777 2 IN IP4 10.9.8.7'));
  const heldAgain = sdp.buildOffer(hold, planB, localLeg('b'), held.origin);
  assert.equal(heldAgain.origin.version, 2);
  const resumed = sdp.buildOffer(offerA, planB, localLeg('b'), heldAgain.origin);
  assert.equal(resumed.origin.version, 3);
  assert.equal(resumed.origin.sessionId, '777');
  assert.match(sdp.createOrigin().sessionId, /^\d+$/);
  assert.equal(sdp.createOrigin().version, 1);
});

test('old-style hold re-offer: callee gets the SBC address with a=inactive, never 0.0.0.0', () => {
  const hold = sdp.parseSdp(fixture('old-hold'));
  const planB = sdp.planOffer(hold, 'rtp');
  const out = sdp.buildOffer(hold, planB, localLeg('b'), sdp.createOrigin('1')).sdp;
  assert.ok(!out.includes('0.0.0.0'));
  assert.ok(lines(out).includes('c=IN IP4 10.9.8.7'));
  assert.deepEqual(section(out, 0), [
    'm=audio 40002 RTP/AVP 18 101', 'a=rtpmap:18 G729/8000', 'a=fmtp:18 annexb=no', 'a=rtpmap:101 telephone-event/8000',
    'a=fmtp:101 0-15', 'a=ptime:20', 'a=rtcp:40003', 'a=inactive',
  ]);
  // Toward a DTLS callee the same.
  const planD = sdp.planOffer(hold, 'dtls-srtp');
  const outD = sdp.buildOffer(hold, planD, localLeg('b'), sdp.createOrigin('1')).sdp;
  assert.ok(!outD.includes('0.0.0.0'));
  assert.equal(section(outD, 0).at(-1), 'a=inactive');
  // The caller answered for an old-style hold gets inactive back.
  const planA = sdp.planAnswer(hold, 'rtp');
  const ansA = sdp.buildAnswer(hold, sdp.parseSdp(rtpAnswer('inactive').replace(/RTP\/AVP 0\r\na=rtpmap:0 PCMU/, 'RTP/AVP 18\r\na=rtpmap:18 G729')), planA, localLeg('a'), sdp.createOrigin('2')).sdp;
  assert.equal(section(ansA, 0).at(-1), 'a=inactive');
  assert.ok(!ansA.includes('0.0.0.0'));
});

test('DTLS caller re-offers actpass: the SBC keeps its role even if the default would differ', () => {
  const offer1 = sdp.parseSdp(fixture('baresip-savpf'));
  const plan1 = sdp.planAnswer(offer1, 'dtls-srtp', { actpassAnswer: 'active' });
  assert.equal(plan1.dtlsRole, 'active');
  const reoffer = sdp.parseSdp(fixture('baresip-savpf').replace('a=sendrecv', 'a=sendonly'));
  const plan2 = sdp.planAnswer(reoffer, 'dtls-srtp', {}, plan1);
  assert.equal(plan2.dtlsRole, 'active');
  const out = sdp.buildAnswer(reoffer, sdp.parseSdp(rtpAnswer('recvonly')), plan2, localLeg('a'), sdp.createOrigin('1')).sdp;
  assert.ok(lines(out).includes('a=setup:active'));
  assert.equal(section(out, 0).at(-1), 'a=recvonly');
  assert.deepEqual(sdp.legUpdateFor(plan2, reoffer).role, 'active');
  // Without the previous plan the default applies (shows the test can fail).
  assert.equal(sdp.planAnswer(reoffer, 'dtls-srtp').dtlsRole, 'passive');
  // A peer that itself switches to setup:active forces the SBC to passive.
  const forced = sdp.parseSdp(fixture('baresip-savpf').replace('a=setup:actpass', 'a=setup:active'));
  assert.equal(sdp.planAnswer(forced, 'dtls-srtp', {}, plan1).dtlsRole, 'passive');
});

test('SBC re-offer to a DTLS callee carries its established role; a flipping answer is 488; keys/fingerprint hash kept', () => {
  const offerA = sdp.parseSdp(fixture('rtp-avp'));
  const planB = sdp.planOffer(offerA, 'dtls-srtp');
  const answer = body('v=0', 'o=w 1 1 IN IP4 203.0.113.9', 's=-', 'c=IN IP4 203.0.113.9', 't=0 0',
    'm=audio 31000 UDP/TLS/RTP/SAVP 0', 'a=setup:active', `a=fingerprint:sha-256 ${CALLEE_FP}`, 'a=rtcp-mux');
  const negotiated = sdp.applyAnswer(sdp.parseSdp(answer), planB);
  assert.equal(negotiated.dtlsRole, 'passive');
  const hold = sdp.parseSdp(fixture('rtp-avp').replace('a=sendrecv', 'a=sendonly'));
  const re = sdp.planOffer(hold, 'dtls-srtp', { fingerprintHash: 'sha-512' }, negotiated);
  assert.equal(re.setup, 'passive');
  assert.equal(re.fingerprintHash, 'sha-256', 'fingerprint hash of the association is kept');
  const out = sdp.buildOffer(hold, re, localLeg('b'), sdp.createOrigin('1')).sdp;
  assert.ok(lines(out).includes('a=setup:passive'));
  assert.equal(section(out, 0).at(-1), 'a=sendonly');
  const again = sdp.applyAnswer(sdp.parseSdp(answer.replace('a=rtcp-mux', 'a=recvonly')), re);
  assert.equal(again.dtlsRole, 'passive');
  assert.throws(() => sdp.applyAnswer(sdp.parseSdp(answer.replace('a=setup:active', 'a=setup:passive')), re),
    (e) => e.status === 488 && e.reason === 'DTLS-SRTP answer a=setup:passive conflicts with offered a=setup:passive');
});

test('SDES keys are kept on re-INVITE for an unchanged suite', () => {
  const offer1 = sdp.parseSdp(fixture('sdes-two-crypto'));
  const plan1 = sdp.planAnswer(offer1, 'sdes-srtp');
  const reoffer = sdp.parseSdp(fixture('sdes-two-crypto').replace('a=sendrecv', 'a=sendonly'));
  const plan2 = sdp.planAnswer(reoffer, 'sdes-srtp', {}, plan1);
  assert.deepEqual(plan2.sdesKeys, plan1.sdesKeys);
  const plan3 = sdp.planAnswer(reoffer, 'sdes-srtp', { sdesSuites: ['AES_CM_128_HMAC_SHA1_32'] }, plan1);
  assert.notEqual(plan3.sdesKeys[0].key, plan1.sdesKeys[0].key, 'new suite, new key');
  // Offer side: the negotiated key is re-offered alone.
  const src = sdp.parseSdp(fixture('rtp-avp'));
  const off = sdp.planOffer(src, 'sdes-srtp');
  const neg = { ...off, sdesKeys: [off.sdesKeys[2]] };
  assert.deepEqual(sdp.planOffer(src, 'sdes-srtp', {}, neg).sdesKeys, [off.sdesKeys[2]]);
});
