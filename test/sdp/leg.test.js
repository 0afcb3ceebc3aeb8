'use strict';
// legSpecFor / legUpdateFor: what the media engine gets for each case.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { sdp, fixture, body } = require('./helpers');

const SEED_FP = '49:27:D4:D8:17:6C:B4:8A:9D:D0:64:91:E7:B5:6A:3D:8E:E7:AA:9A';
const BARESIP_FP = '70:6C:B8:78:F8:D8:09:FB:D9:CC:DB:56:A8:5A:F1:E7:8A:B4:68:3D:D6:5B:2C:4A:8C:E6:82:A6:D7:18:1D:A7';
const CALLEE_FP = '11:22:33:44:55:66:77:88:99:00:AA:BB:CC:DD:EE:FF:11:22:33:44:55:66:77:88:99:00:AA:BB:CC:DD:EE:FF';

test('DTLS caller (seed, setup:active, SHA-1): SBC passive, sha-1 fingerprint, remote address, no mux', () => {
  const offer = sdp.parseSdp(fixture('seed-savp-sha1'));
  assert.deepEqual(sdp.legSpecFor(sdp.planAnswer(offer, 'dtls-srtp'), offer), {
    kind: 'dtls-srtp', role: 'passive', remoteFingerprints: [{ hash: 'sha-1', value: SEED_FP }],
    remoteAddress: '192.0.2.10', remotePort: 49170, rtcpMux: false, direction: 'sendrecv', fingerprintHash: 'sha-1',
  });
});

test('DTLS caller (baresip actpass, session-level fingerprint, rtcp-mux)', () => {
  const offer = sdp.parseSdp(fixture('baresip-savpf'));
  assert.deepEqual(sdp.legSpecFor(sdp.planAnswer(offer, 'as-offered', { actpassAnswer: 'active' }), offer), {
    kind: 'dtls-srtp', role: 'active', remoteFingerprints: [{ hash: 'sha-256', value: BARESIP_FP }],
    remoteAddress: '192.168.178.34', remotePort: 10634, rtcpMux: true, direction: 'sendrecv', fingerprintHash: 'sha-256',
  });
});

test('RTP caller with separate RTCP; SDES caller with keys', () => {
  const rtp = sdp.parseSdp(fixture('rtp-avp'));
  assert.deepEqual(sdp.legSpecFor(sdp.planAnswer(rtp, 'rtp'), rtp), {
    kind: 'rtp', remoteAddress: '198.51.100.7', remotePort: 6000, rtcpMux: false, direction: 'sendrecv', fingerprintHash: 'sha-256',
  });
  const sdes = sdp.parseSdp(fixture('sdes-two-crypto'));
  const plan = sdp.planAnswer(sdes, 'sdes-srtp');
  assert.deepEqual(sdp.legSpecFor(plan, sdes), {
    kind: 'sdes-srtp', localKey: { suite: 'AES_CM_128_HMAC_SHA1_80', key: plan.sdesKeys[0].key },
    remoteKey: { suite: 'AES_CM_128_HMAC_SHA1_80', key: 'ESEkAAC/GMA/B2aZVRPmPPR87wY0N6A07kxwoc1L' },
    remoteAddress: '198.51.100.20', remotePort: 24566, remoteRtcpPort: 24567, rtcpMux: false, direction: 'sendrecv',
    fingerprintHash: 'sha-256',
  });
});

test('callee leg before the answer: RTP, DTLS (provisional passive, no fingerprints), SDES (first offered key)', () => {
  const src = sdp.parseSdp(fixture('seed-savp-sha1'));
  assert.deepEqual(sdp.legSpecFor(sdp.planOffer(src, 'rtp')), { kind: 'rtp', fingerprintHash: 'sha-256' });
  assert.deepEqual(sdp.legSpecFor(sdp.planOffer(src, 'dtls-srtp')), {
    kind: 'dtls-srtp', role: 'passive', remoteFingerprints: [], fingerprintHash: 'sha-256',
  });
  const sdesPlan = sdp.planOffer(src, 'sdes-srtp');
  assert.deepEqual(sdp.legSpecFor(sdesPlan), {
    kind: 'sdes-srtp', localKey: { suite: 'AES_CM_128_HMAC_SHA1_80', key: sdesPlan.sdesKeys[0].key }, fingerprintHash: 'sha-256',
  });
});

test('callee leg after a DTLS answer: role from a=setup, fingerprints, mux agreed', () => {
  const src = sdp.parseSdp(fixture('rtp-avp'));
  const planB = sdp.planOffer(src, 'dtls-srtp');
  const ans = sdp.parseSdp(body('v=0', 'o=w 1 1 IN IP4 203.0.113.9', 's=-', 'c=IN IP4 203.0.113.9', 't=0 0',
    'm=audio 31000 UDP/TLS/RTP/SAVP 0', 'a=setup:passive', `a=fingerprint:SHA-256 ${CALLEE_FP.toLowerCase()}`, 'a=rtcp-mux',
    'a=recvonly'));
  assert.deepEqual(sdp.legUpdateFor(sdp.applyAnswer(ans, planB), ans), {
    kind: 'dtls-srtp', role: 'active', remoteFingerprints: [{ hash: 'sha-256', value: CALLEE_FP }],
    remoteAddress: '203.0.113.9', remotePort: 31000, rtcpMux: true, direction: 'recvonly',
  });
});

test('old-style hold update keeps the destination (no address) and says inactive', () => {
  const hold = sdp.parseSdp(fixture('old-hold'));
  assert.deepEqual(sdp.legUpdateFor(sdp.planAnswer(hold, 'rtp'), hold), { kind: 'rtp', direction: 'inactive', rtcpMux: false });
});

test('Chrome offer without ICE answering: rtcp-mux means no remoteRtcpPort even with a=rtcp:9', () => {
  const chrome = sdp.parseSdp(fixture('chrome-webrtc'));
  const spec = sdp.legSpecFor(sdp.planAnswer(chrome, 'dtls-srtp', { ice: false }), chrome);
  assert.equal(spec.ice, undefined);
  assert.equal(spec.rtcpMux, true);
  assert.equal(spec.remoteRtcpPort, undefined);
  assert.equal(spec.remoteAddress, '203.0.113.77');
  assert.equal(spec.role, 'passive');
});
