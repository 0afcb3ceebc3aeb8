'use strict';
// Mirror case: caller on an RTP realm, callee on a DTLS-SRTP realm.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { sdp, fixture, localLeg, sbcFingerprint, section, assertNoLeak, assertSdpError, body } = require('./helpers');

const CALLEE_FP = '11:22:33:44:55:66:77:88:99:00:AA:BB:CC:DD:EE:FF:11:22:33:44:55:66:77:88:99:00:AA:BB:CC:DD:EE:FF';

function dtlsAnswer({ setup = 'a=setup:active', proto = 'UDP/TLS/RTP/SAVP', extra = [] } = {}) {
  return body(
    'v=0', 'o=webrtc 7770001 2 IN IP4 203.0.113.9', 's=-', 'c=IN IP4 203.0.113.9', 't=0 0',
    `m=audio 31000 ${proto} 0 101`, 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:101 telephone-event/8000', 'a=fmtp:101 0-15',
    ...(setup ? [setup] : []), `a=fingerprint:SHA-256 ${CALLEE_FP}`, 'a=rtcp-mux', 'a=sendrecv', ...extra,
  );
}

function start(offerOpts) {
  const offerA = sdp.parseSdp(fixture('rtp-avp'));
  const planA = sdp.planAnswer(offerA, 'rtp');
  const planB = sdp.planOffer(offerA, 'dtls-srtp', offerOpts);
  const offerB = sdp.buildOffer(offerA, planB, localLeg('b', planB.fingerprintHash), sdp.createOrigin('1000')).sdp;
  return { offerA, planA, planB, offerB };
}

test('SBC offers UDP/TLS/RTP/SAVP actpass with its sha-256 fingerprint and rtcp-mux', () => {
  const { planB, offerB } = start();
  assert.equal(offerB, body(
    'v=0', 'o=- 1000 1 IN IP4 10.9.8.7', 's=-', 'c=IN IP4 10.9.8.7', 't=0 0',
    'm=audio 40002 UDP/TLS/RTP/SAVP 8 0 101', 'a=rtpmap:8 PCMA/8000', 'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:101 telephone-event/8000', 'a=fmtp:101 0-15', 'a=ptime:20', 'a=maxptime:150', 'a=rtcp-mux',
    'a=setup:actpass', `a=fingerprint:sha-256 ${sbcFingerprint('sha-256').value}`, 'a=sendrecv',
  ));
  assert.equal(planB.fingerprintHash, 'sha-256');
  assert.equal(planB.dtlsRole, undefined);
  assertNoLeak(offerB, fixture('rtp-avp'));
});

test('SAVPF when the realm says so (avpf "always"); configurable fingerprint hash', () => {
  const { offerB } = start({ avpf: 'always', fingerprintHash: 'sha-384' });
  assert.equal(section(offerB, 0)[0], 'm=audio 40002 UDP/TLS/RTP/SAVPF 8 0 101');
  assert.ok(offerB.includes(`a=fingerprint:sha-384 ${sbcFingerprint('sha-384').value}\r\n`));
});

test('answer setup:active -> SBC passive; answer to the caller is plain RTP/AVP', () => {
  const { offerA, planA, planB } = start();
  const ansText = dtlsAnswer();
  const answerB = sdp.parseSdp(ansText);
  const planB2 = sdp.applyAnswer(answerB, planB);
  assert.equal(planB2.dtlsRole, 'passive');
  assert.equal(planB2.rtcpMux, true);
  assert.deepEqual(planB2.remoteFingerprints, [{ hash: 'sha-256', value: CALLEE_FP }]);
  const answerA = sdp.buildAnswer(offerA, answerB, planA, localLeg('a'), sdp.createOrigin('2000')).sdp;
  assert.equal(answerA, body(
    'v=0', 'o=- 2000 1 IN IP4 10.9.8.7', 's=-', 'c=IN IP4 10.9.8.7', 't=0 0',
    'm=audio 40000 RTP/AVP 0 101', 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:101 telephone-event/8000', 'a=fmtp:101 0-15',
    'a=rtcp:40001', 'a=sendrecv',
  ));
  assertNoLeak(answerA, ansText, fixture('rtp-avp'));
  for (const bad of ['fingerprint', 'setup', 'crypto', 'rtcp-mux']) assert.ok(!answerA.includes(bad), bad);
});

test('answer setup:passive -> SBC active; missing setup -> taken as active (SBC passive)', () => {
  const { planB } = start();
  assert.equal(sdp.applyAnswer(sdp.parseSdp(dtlsAnswer({ setup: 'a=setup:passive' })), planB).dtlsRole, 'active');
  assert.equal(sdp.applyAnswer(sdp.parseSdp(dtlsAnswer({ setup: '' })), planB).dtlsRole, 'passive');
});

test('an actpass answer to a re-offer keeps the established role (baresip 1.0 does this)', () => {
  const { planB } = start();
  const established = sdp.applyAnswer(sdp.parseSdp(dtlsAnswer({ setup: 'a=setup:passive' })), planB);
  assert.equal(established.dtlsRole, 'active');
  const reAnswered = sdp.applyAnswer(sdp.parseSdp(dtlsAnswer({ setup: 'a=setup:actpass' })), established);
  assert.equal(reAnswered.dtlsRole, 'active');
});

test('answer setup:actpass / holdconn, missing fingerprint, wrong protocol -> 488', () => {
  const { planB } = start();
  assertSdpError(() => sdp.applyAnswer(sdp.parseSdp(dtlsAnswer({ setup: 'a=setup:actpass' })), planB), 488,
    'DTLS-SRTP answer with a=setup:actpass');
  assertSdpError(() => sdp.applyAnswer(sdp.parseSdp(dtlsAnswer({ setup: 'a=setup:holdconn' })), planB), 488,
    'DTLS-SRTP answer with a=setup:holdconn');
  const noFp = dtlsAnswer().replace(/a=fingerprint:[^\r]*\r\n/, '');
  assertSdpError(() => sdp.applyAnswer(sdp.parseSdp(noFp), planB), 488, 'DTLS-SRTP answer without a=fingerprint');
  const rtp = body('v=0', 'o=x 1 1 IN IP4 203.0.113.9', 's=-', 'c=IN IP4 203.0.113.9', 't=0 0', 'm=audio 31000 RTP/AVP 0');
  assertSdpError(() => sdp.applyAnswer(sdp.parseSdp(rtp), planB), 488, 'answer uses RTP/AVP, offer was UDP/TLS/RTP/SAVP');
  const rejected = rtp.replace('31000 RTP/AVP', '0 UDP/TLS/RTP/SAVP');
  assertSdpError(() => sdp.applyAnswer(sdp.parseSdp(rejected), planB), 488, 'audio stream rejected by the answerer');
  const twoLines = dtlsAnswer() + 'm=video 0 RTP/AVP 31\r\n';
  assertSdpError(() => sdp.applyAnswer(sdp.parseSdp(twoLines), planB), 488, 'answer has 2 m-lines, offer had 1');
});

test('callee answers a codec the caller never offered -> 488 no common codec', () => {
  const { offerA, planA, planB } = start();
  const ans = sdp.parseSdp(dtlsAnswer().replace('31000 UDP/TLS/RTP/SAVP 0 101', '31000 UDP/TLS/RTP/SAVP 9 101')
    .replace('a=rtpmap:0 PCMU/8000', 'a=rtpmap:9 G722/8000'));
  sdp.applyAnswer(ans, planB);
  assertSdpError(() => sdp.buildAnswer(offerA, ans, planA, localLeg('a'), sdp.createOrigin('1')), 488, 'no common codec');
});

test('dynamic payload type renumbered by the answerer passes through as the answerer wrote it', () => {
  const offerA = sdp.parseSdp(fixture('chrome-webrtc'));
  const planA = sdp.planAnswer(offerA, 'dtls-srtp');
  const ans = sdp.parseSdp(body('v=0', 'o=x 1 1 IN IP4 198.51.100.1', 's=-', 'c=IN IP4 198.51.100.1', 't=0 0',
    'm=audio 5000 RTP/AVP 96 101', 'a=rtpmap:96 opus/48000/2', 'a=rtpmap:101 telephone-event/8000', 'm=video 0 RTP/AVP 96'));
  const out = sdp.buildAnswer(offerA, ans, planA, localLeg('a'), sdp.createOrigin('1')).sdp;
  assert.deepEqual(section(out, 0).slice(0, 3), [
    'm=audio 40000 UDP/TLS/RTP/SAVPF 96 101', 'a=rtpmap:96 opus/48000/2', 'a=rtpmap:101 telephone-event/8000',
  ]);
});
