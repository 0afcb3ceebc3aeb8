'use strict';
const { test } = require('node:test');
const assert = require('node:assert/strict');
const sdpTransform = require('sdp-transform');
const { sdp, fixture, assertSdpError, body } = require('./helpers');

const SHA1 = '49:27:D4:D8:17:6C:B4:8A:9D:D0:64:91:E7:B5:6A:3D:8E:E7:AA:9A';
const SHA256 = '70:6C:B8:78:F8:D8:09:FB:D9:CC:DB:56:A8:5A:F1:E7:8A:B4:68:3D:D6:5B:2C:4A:8C:E6:82:A6:D7:18:1D:A7';

test('sdp-transform loses "a=fingerprint: SHA-1 X" and repeated fingerprints (why we scan the text)', () => {
  const raw = sdpTransform.parse(fixture('seed-savp-sha1'));
  assert.notEqual(raw.media[0].fingerprint?.hash, SHA1);
  const two = sdpTransform.parse(body('v=0', 'o=- 1 1 IN IP4 192.0.2.1', 's=-', 'c=IN IP4 192.0.2.1', 't=0 0',
    'm=audio 5000 UDP/TLS/RTP/SAVP 0', `a=fingerprint:sha-1 ${SHA1}`, `a=fingerprint:sha-256 ${SHA256}`));
  assert.ok(!Array.isArray(two.media[0].fingerprint), 'sdp-transform keeps a single fingerprint');
});

test('seed SAVP offer: fingerprint with a space after the colon and an upper-case hash name', () => {
  const p = sdp.parseSdp(fixture('seed-savp-sha1'));
  assert.equal(p.media.length, 1);
  const m = p.media[0];
  assert.equal(m.protocol, 'UDP/TLS/RTP/SAVP');
  assert.equal(m.security, 'dtls-srtp');
  assert.equal(m.avpf, false);
  assert.deepEqual(m.fingerprints, [{ hash: 'sha-1', value: SHA1 }]);
  assert.equal(m.setup, 'active');
  assert.equal(m.address, '192.0.2.10');
  assert.equal(m.port, 49170);
  assert.equal(m.rtcpMux, false);
  assert.equal(m.direction, 'sendrecv');
  assert.deepEqual(m.codecs, [{ pt: 0, name: 'PCMU', rate: 8000, rtcpFb: [] }]);
  assert.deepEqual(p.origin, { username: 'alice', sessionId: '2890844526', version: '2890844526', address: '192.0.2.10' });
  assert.equal(sdp.fingerprintHashFor(p), 'sha-1');
});

test('baresip SAVPF offer: session-level fingerprint, media-level setup, rtcp-mux/rsize, telephone-event', () => {
  const p = sdp.parseSdp(fixture('baresip-savpf'));
  const m = p.media[0];
  assert.equal(m.protocol, 'UDP/TLS/RTP/SAVPF');
  assert.equal(m.avpf, true);
  assert.deepEqual(m.fingerprints, [{ hash: 'sha-256', value: SHA256 }]);
  assert.equal(m.setup, 'actpass');
  assert.equal(m.rtcpMux, true);
  assert.equal(m.rtcpRsize, true);
  assert.equal(m.ptime, 20);
  assert.deepEqual(m.codecs.map((c) => `${c.pt} ${c.name}/${c.rate} ${c.fmtp ?? ''}`), [
    '0 PCMU/8000 ', '8 PCMA/8000 ', '101 telephone-event/8000 0-15',
  ]);
  assert.equal(sdp.fingerprintHashFor(p), 'sha-256');
});

test('Chrome offer parses: BUNDLE, ICE, opus, two m-lines with mids', () => {
  const p = sdp.parseSdp(fixture('chrome-webrtc'));
  assert.equal(p.media.length, 2);
  const [a, v] = p.media;
  assert.equal(a.kind, 'audio');
  assert.equal(v.kind, 'video');
  assert.equal(a.mid, '0');
  assert.equal(v.mid, '1');
  assert.equal(a.address, '203.0.113.77');
  assert.deepEqual(a.codecs[0], { pt: 111, name: 'opus', rate: 48000, channels: 2, fmtp: 'minptime=10;useinbandfec=1', rtcpFb: ['transport-cc'] });
  assert.deepEqual(a.codecs.map((c) => c.pt), [111, 63, 9, 0, 8, 13, 110, 126]);
  assert.deepEqual(v.codecs[0].rtcpFb, ['goog-remb', 'nack', 'nack pli']);
  assert.equal(a.setup, 'actpass');
  assert.equal(p.origin.sessionId, '4611731400430051336', 'session id kept exact (no float rounding)');
});

test('SDES offer: two a=crypto lines, lifetime ignored, a=rtcp port', () => {
  const m = sdp.parseSdp(fixture('sdes-two-crypto')).media[0];
  assert.equal(m.security, 'sdes-srtp');
  assert.deepEqual(m.cryptos, [
    { tag: 1, suite: 'AES_CM_128_HMAC_SHA1_80', key: 'ESEkAAC/GMA/B2aZVRPmPPR87wY0N6A07kxwoc1L' },
    { tag: 2, suite: 'AES_CM_128_HMAC_SHA1_32', key: 'YjVpcT4g4w4KBK4LFMV7N5FwzzgcfutMPziWuOrv' },
  ]);
  assert.equal(m.rtcpPort, 24567);
});

test('old-style hold: c=0.0.0.0 without direction is inactive; an explicit attribute wins', () => {
  const m = sdp.parseSdp(fixture('old-hold')).media[0];
  assert.equal(m.oldStyleHold, true);
  assert.equal(m.direction, 'inactive');
  assert.deepEqual(m.codecs.map((c) => [c.pt, c.name, c.fmtp]), [[18, 'G729', 'annexb=no'], [101, 'telephone-event', '0-15']]);
  const withDir = sdp.parseSdp(fixture('old-hold').replace('a=ptime:20', 'a=sendonly'));
  assert.equal(withDir.media[0].oldStyleHold, true);
  assert.equal(withDir.media[0].direction, 'sendonly');
});

test('plain RTP/AVP offer', () => {
  const m = sdp.parseSdp(fixture('rtp-avp')).media[0];
  assert.equal(m.security, 'rtp');
  assert.equal(m.maxptime, 150);
  assert.deepEqual(m.fingerprints, []);
  assert.equal(m.setup, undefined);
  assert.equal(sdp.fingerprintHashFor(sdp.parseSdp(fixture('rtp-avp'))), 'sha-256');
});

test('session-level vs media-level attributes, several fingerprints, case of hex and names', () => {
  const p = sdp.parseSdp(body(
    'v=0', 'o=- 1 1 IN IP4 192.0.2.1', 's=-', 'c=IN IP4 192.0.2.1', 't=0 0',
    'a=fingerprint:SHA-256 ' + SHA256.toLowerCase(), 'a=setup:ACTPASS', 'a=sendonly',
    'm=audio 5000 UDP/TLS/RTP/SAVP 0',
    'm=audio 5002 UDP/TLS/RTP/SAVP 0', `a=fingerprint:sha-1 ${SHA1.toLowerCase()}`, `a=fingerprint:Sha-256  ${SHA256}`,
    'a=setup:passive', 'a=recvonly',
  ));
  const [s, m] = p.media;
  assert.deepEqual(s.fingerprints, [{ hash: 'sha-256', value: SHA256 }]);
  assert.equal(s.setup, 'actpass');
  assert.equal(s.direction, 'sendonly');
  assert.deepEqual(m.fingerprints, [{ hash: 'sha-1', value: SHA1 }, { hash: 'sha-256', value: SHA256 }]);
  assert.equal(m.setup, 'passive');
  assert.equal(m.direction, 'recvonly');
});

test('fingerprintHashFor picks the strongest supported hash the peer gave', () => {
  const offer = (...fps) => sdp.parseSdp(body('v=0', 'o=- 1 1 IN IP4 192.0.2.1', 's=-', 'c=IN IP4 192.0.2.1', 't=0 0',
    'm=audio 5000 UDP/TLS/RTP/SAVP 0', 'a=setup:actpass', ...fps.map((f) => `a=fingerprint:${f}`)));
  const hex = (n) => Array.from({ length: n }, () => 'AB').join(':');
  assert.equal(sdp.fingerprintHashFor(offer(`SHA-1 ${SHA1}`, `sha-256 ${SHA256}`)), 'sha-256');
  assert.equal(sdp.fingerprintHashFor(offer(`sha-256 ${SHA256}`)), 'sha-256');
  assert.equal(sdp.fingerprintHashFor(offer(`sha-512 ${hex(64)}`, `sha-256 ${SHA256}`)), 'sha-512');
  assert.equal(sdp.fingerprintHashFor(offer(`sha-384 ${hex(48)}`)), 'sha-384');
  assert.equal(sdp.fingerprintHashFor(offer(`sha-224 ${hex(28)}`, `SHA-1 ${SHA1}`)), 'sha-224');
  // A sha-256 line of the wrong length or an unknown hash does not count.
  assert.equal(sdp.fingerprintHashFor(offer(`sha-256 ${hex(20)}`, `SHA-1 ${SHA1}`)), 'sha-1');
  assert.equal(sdp.fingerprintHashFor(offer(`md5 ${hex(16)}`, `sha-1 ${SHA1}`)), 'sha-1');
});

test('IPv6 connection address', () => {
  const m = sdp.parseSdp(body('v=0', 'o=- 1 1 IN IP6 2001:db8::1', 's=-', 'c=IN IP6 2001:db8::5', 't=0 0', 'm=audio 5000 RTP/AVP 0'))
    .media[0];
  assert.equal(m.address, '2001:db8::5');
  assert.equal(m.ipVersion, 6);
  assert.equal(m.oldStyleHold, false);
});

test('LF-only line endings are accepted', () => {
  const p = sdp.parseSdp(fixture('seed-savp-sha1').replace(/\r\n/g, '\n'));
  assert.equal(p.media[0].fingerprints[0].value, SHA1);
});

test('unusable SDP is 488', () => {
  assertSdpError(() => sdp.parseSdp(''), 488, /v=0/);
  assertSdpError(() => sdp.parseSdp('hello world'), 488, /v=0/);
  assertSdpError(() => sdp.parseSdp(body('v=0', 's=-', 'c=IN IP4 192.0.2.1', 't=0 0', 'm=audio 5000 RTP/AVP 0')), 488, /o=/);
  assertSdpError(() => sdp.parseSdp(body('v=0', 'o=- 1 1 IN IP4 192.0.2.1', 's=-', 't=0 0', 'm=audio 5000 RTP/AVP 0')), 488,
    'no c= line for m-line 0');
  assertSdpError(() => sdp.parseSdp(body('v=0', 'o=- 1 1 IN IP4 192.0.2.1', 's=-', 't=0 0', 'm=audio x RTP/AVP 0')), 488,
    /m= line|port/);
  // Lines that are not <letter>=..., hundreds of m-lines, malformed or
  // contradictory attributes: refused with the problem named.
  const head = ['v=0', 'o=- 1 1 IN IP4 192.0.2.1', 's=-', 'c=IN IP4 192.0.2.1', 't=0 0'];
  assertSdpError(() => sdp.parseSdp(body(...head, 'm=audio 5000 RTP/AVP 0', 'this is not sdp')), 488, 'malformed SDP line 7');
  assertSdpError(() => sdp.parseSdp(body(...head, ...Array.from({ length: 300 }, (_, k) => `m=audio ${5000 + 2 * k} RTP/AVP 0`))), 488, 'too many m-lines (300, at most 16)');
  assertSdpError(() => sdp.parseSdp(body(...head, 'm=audio 5000 UDP/TLS/RTP/SAVP 0', 'a=fingerprint:sha-256 zz:zz')), 488, 'malformed a=fingerprint');
  assertSdpError(() => sdp.parseSdp(body(...head, 'm=audio 5000 UDP/TLS/RTP/SAVP 0', 'a=setup:sideways')), 488, "invalid a=setup value 'sideways'");
  assertSdpError(() => sdp.parseSdp(body(...head, 'm=audio 5000 UDP/TLS/RTP/SAVP 0', 'a=setup:active', 'a=setup:passive')), 488, 'contradictory a=setup');
});

test('SdpError carries status, reason and a Reason header', () => {
  const e = new sdp.SdpError(488, 'realm requires DTLS-SRTP');
  assert.equal(e.status, 488);
  assert.equal(e.reason, 'realm requires DTLS-SRTP');
  assert.equal(e.name, 'SdpError');
  assert.equal(e.reasonHeader, 'SIP;cause=488;text="realm requires DTLS-SRTP"');
});
