'use strict';
// Every 488 an offer can get, with its reason text.
const { test } = require('node:test');
const { sdp, fixture, assertSdpError, body } = require('./helpers');

const FP = '49:27:D4:D8:17:6C:B4:8A:9D:D0:64:91:E7:B5:6A:3D:8E:E7:AA:9A';
const offer = (mline, ...attrs) =>
  sdp.parseSdp(body('v=0', 'o=- 1 1 IN IP4 192.0.2.1', 's=-', 'c=IN IP4 192.0.2.1', 't=0 0', mline, 'a=rtpmap:0 PCMU/8000', ...attrs));

test('DTLS offer without fingerprint / setup, with holdconn, with only unsupported hashes', () => {
  assertSdpError(() => sdp.planAnswer(offer('m=audio 5000 UDP/TLS/RTP/SAVP 0', 'a=setup:actpass'), 'dtls-srtp'), 488,
    'DTLS-SRTP offer without a=fingerprint');
  assertSdpError(() => sdp.planAnswer(offer('m=audio 5000 UDP/TLS/RTP/SAVPF 0', `a=fingerprint:sha-1 ${FP}`), 'as-offered'), 488,
    'DTLS-SRTP offer without a=setup');
  assertSdpError(() => sdp.planAnswer(offer('m=audio 5000 UDP/TLS/RTP/SAVP 0', `a=fingerprint:sha-1 ${FP}`, 'a=setup:holdconn'),
    'dtls-srtp'), 488, 'DTLS-SRTP offer with a=setup:holdconn');
  assertSdpError(() => sdp.planAnswer(offer('m=audio 5000 UDP/TLS/RTP/SAVP 0', 'a=fingerprint:md5 AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99',
    'a=setup:actpass'), 'dtls-srtp'), 488, 'DTLS-SRTP offer with unsupported fingerprint hash (md5)');
});

test('realm policy mismatches', () => {
  assertSdpError(() => sdp.planAnswer(sdp.parseSdp(fixture('rtp-avp')), 'dtls-srtp'), 488, 'realm requires DTLS-SRTP');
  assertSdpError(() => sdp.planAnswer(sdp.parseSdp(fixture('sdes-two-crypto')), 'dtls-srtp'), 488, 'realm requires DTLS-SRTP');
  assertSdpError(() => sdp.planAnswer(sdp.parseSdp(fixture('baresip-savpf')), 'rtp'), 488, 'realm requires plain RTP');
  assertSdpError(() => sdp.planAnswer(sdp.parseSdp(fixture('seed-savp-sha1')), 'sdes-srtp'), 488, 'realm requires SDES-SRTP');
  assertSdpError(() => sdp.planAnswer(sdp.parseSdp(fixture('rtp-avp')), 'sdes-srtp'), 488, 'realm requires SDES-SRTP');
});

test('no audio m-line, audio disabled, no codec that carries media', () => {
  const video = sdp.parseSdp(body('v=0', 'o=- 1 1 IN IP4 192.0.2.1', 's=-', 'c=IN IP4 192.0.2.1', 't=0 0', 'm=video 5000 RTP/AVP 96',
    'a=rtpmap:96 VP8/90000'));
  assertSdpError(() => sdp.planAnswer(video, 'as-offered'), 488, 'no audio m-line');
  assertSdpError(() => sdp.planOffer(video, 'rtp'), 488, 'no audio m-line');
  assertSdpError(() => sdp.planAnswer(offer('m=audio 0 RTP/AVP 0'), 'rtp'), 488, 'no audio m-line');
  const dtmfOnly = sdp.parseSdp(body('v=0', 'o=- 1 1 IN IP4 192.0.2.1', 's=-', 'c=IN IP4 192.0.2.1', 't=0 0', 'm=audio 5000 RTP/AVP 101 13',
    'a=rtpmap:101 telephone-event/8000', 'a=rtpmap:13 CN/8000'));
  assertSdpError(() => sdp.planAnswer(dtmfOnly, 'rtp'), 488, 'no common codec');
});

test('legacy RTP/SAVPF with fingerprint and a=crypto: DTLS when the realm requires it, SDES as offered', () => {
  const both = offer('m=audio 5000 RTP/SAVPF 0', `a=fingerprint:sha-1 ${FP}`, 'a=setup:actpass',
    'a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:ESEkAAC/GMA/B2aZVRPmPPR87wY0N6A07kxwoc1L');
  const d = sdp.planAnswer(both, 'dtls-srtp');
  if (d.security !== 'dtls-srtp' || d.protocol !== 'RTP/SAVPF') throw new Error(JSON.stringify(d));
  const s = sdp.planAnswer(both, 'as-offered');
  if (s.security !== 'sdes-srtp') throw new Error(JSON.stringify(s));
});

test('a=tls-id that is not RFC 8842 syntax, or two different ones, is refused', () => {
  const dtls = (...attrs) => offer('m=audio 5000 UDP/TLS/RTP/SAVP 0', `a=fingerprint:sha-1 ${FP}`, 'a=setup:actpass', ...attrs);
  assertSdpError(() => dtls('a=tls-id:short'), 488, 'invalid a=tls-id (20-255 characters of A-Z a-z 0-9 + / - _)');
  assertSdpError(() => dtls('a=tls-id:has.a.dot.which.is.not.allowed'), 488, 'invalid a=tls-id (20-255 characters of A-Z a-z 0-9 + / - _)');
  assertSdpError(() => dtls('a=tls-id:aaaaaaaaaaaaaaaaaaaaaaaa', 'a=tls-id:bbbbbbbbbbbbbbbbbbbbbbbb'), 488, 'contradictory a=tls-id');
});
