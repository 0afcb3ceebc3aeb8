'use strict';
// SDES-SRTP (RFC 4568) realms.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { sdp, fixture, localLeg, section, lines, assertNoLeak, assertSdpError, body } = require('./helpers');

const K80 = 'ESEkAAC/GMA/B2aZVRPmPPR87wY0N6A07kxwoc1L';
const K32 = 'YjVpcT4g4w4KBK4LFMV7N5FwzzgcfutMPziWuOrv';
const RTP_ANSWER = body('v=0', 'o=bob 1 1 IN IP4 198.51.100.50', 's=-', 'c=IN IP4 198.51.100.50', 't=0 0',
  'm=audio 20000 RTP/AVP 0 101', 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:101 telephone-event/8000', 'a=fmtp:101 0-16', 'a=sendrecv');

function cryptoLines(text) {
  return lines(text).filter((l) => l.startsWith('a=crypto:'));
}

test('key generation: length per suite, base64, random', () => {
  const keys = sdp.generateSdesKeys();
  assert.deepEqual(keys.map((k) => [k.tag, k.suite]), [
    [1, 'AES_CM_128_HMAC_SHA1_80'], [2, 'AES_CM_128_HMAC_SHA1_32'], [3, 'AEAD_AES_128_GCM'], [4, 'AEAD_AES_256_GCM'],
  ]);
  assert.deepEqual(keys.map((k) => Buffer.from(k.key, 'base64').length), [30, 30, 28, 44]);
  for (const k of keys) assert.match(k.key, /^[A-Za-z0-9+/]+={0,2}$/);
  assert.notEqual(sdp.generateSdesKey('AES_CM_128_HMAC_SHA1_80', 1).key, sdp.generateSdesKey('AES_CM_128_HMAC_SHA1_80', 1).key);
});

test('SDES caller (two cryptos) -> RTP callee: answer has exactly one a=crypto, same tag, SBC key', () => {
  const offerA = sdp.parseSdp(fixture('sdes-two-crypto'));
  const planA = sdp.planAnswer(offerA, 'sdes-srtp');
  assert.equal(planA.sdesKeys.length, 1);
  assert.equal(planA.sdesKeys[0].tag, 1);
  assert.equal(planA.sdesKeys[0].suite, 'AES_CM_128_HMAC_SHA1_80');
  assert.deepEqual(planA.remoteSdes, { suite: 'AES_CM_128_HMAC_SHA1_80', key: K80 });
  const planB = sdp.planOffer(offerA, 'rtp');
  const offerB = sdp.buildOffer(offerA, planB, localLeg('b'), sdp.createOrigin('1')).sdp;
  assert.deepEqual(section(offerB, 0), [
    'm=audio 40002 RTP/AVP 0 8 101', 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:8 PCMA/8000', 'a=rtpmap:101 telephone-event/8000',
    'a=fmtp:101 0-16', 'a=ptime:20', 'a=rtcp:40003', 'a=sendrecv',
  ]);
  const answerA = sdp.buildAnswer(offerA, sdp.parseSdp(RTP_ANSWER), planA, localLeg('a'), sdp.createOrigin('2')).sdp;
  assert.deepEqual(section(answerA, 0), [
    'm=audio 40000 RTP/SAVP 0 101', 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:101 telephone-event/8000', 'a=fmtp:101 0-16',
    'a=rtcp:40001', `a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${planA.sdesKeys[0].key}`, 'a=sendrecv',
  ]);
  assertNoLeak(offerB, fixture('sdes-two-crypto'));
  assertNoLeak(answerA, fixture('sdes-two-crypto'), RTP_ANSWER);
  assert.ok(!answerA.includes(K80) && !answerA.includes(K32));
});

test('suite choice follows the offerer order among enabled suites; unusable lines are skipped', () => {
  const offer = sdp.parseSdp(fixture('sdes-two-crypto'));
  const only32 = sdp.planAnswer(offer, 'sdes-srtp', { sdesSuites: ['AES_CM_128_HMAC_SHA1_32'] });
  assert.deepEqual([only32.sdesKeys[0].tag, only32.sdesKeys[0].suite], [2, 'AES_CM_128_HMAC_SHA1_32']);
  assert.equal(Buffer.from(only32.sdesKeys[0].key, 'base64').length, 30);
  const mki = sdp.parseSdp(fixture('sdes-two-crypto').replace(`${K80}|2^31`, `${K80}|2^31|1:4`));
  assert.equal(mki.media[0].cryptos[0].problem, 'MKI not supported');
  assert.equal(sdp.planAnswer(mki, 'sdes-srtp').sdesKeys[0].tag, 2);
});

test('a=crypto parsing: lifetime ignored; MKI, several keys, session params, bad length rejected with a reason', () => {
  assert.equal(sdp.parseCrypto(1, 'AES_CM_128_HMAC_SHA1_80', `inline:${K80}|2^20`).problem, undefined);
  assert.equal(sdp.parseCrypto(1, 'AES_CM_128_HMAC_SHA1_80', `inline:${K80}`, 'WSH=128').problem, undefined);
  assert.equal(sdp.parseCrypto(1, 'AES_CM_128_HMAC_SHA1_80', `inline:${K80}|1:4`).problem, 'MKI not supported');
  assert.equal(sdp.parseCrypto(1, 'AES_CM_128_HMAC_SHA1_80', `inline:${K80}|2^20|1:4`).problem, 'MKI not supported');
  assert.equal(sdp.parseCrypto(1, 'AES_CM_128_HMAC_SHA1_80', `inline:${K80};inline:${K32}`).problem,
    'several keys (key-params) not supported');
  assert.equal(sdp.parseCrypto(1, 'AES_CM_128_HMAC_SHA1_80', `inline:${K80}`, 'UNENCRYPTED_SRTP').problem,
    'session parameter UNENCRYPTED_SRTP not supported');
  assert.equal(sdp.parseCrypto(1, 'AEAD_AES_256_GCM', `inline:${K80}`).problem, 'key length wrong for AEAD_AES_256_GCM');
  assert.equal(sdp.parseCrypto(1, 'F8_128_HMAC_SHA1_80', `inline:${K80}`).problem, 'unsupported suite F8_128_HMAC_SHA1_80');
});

test('no common suite -> 488 with the reasons; SDES offer without a=crypto -> 488', () => {
  const bad = fixture('sdes-two-crypto').replace(`${K80}|2^31`, `${K80}|2^31|1:4`).replace(K32, `${K32} UNENCRYPTED_SRTP`);
  assertSdpError(() => sdp.planAnswer(sdp.parseSdp(bad), 'sdes-srtp'), 488,
    'no common SRTP crypto suite (1 AES_CM_128_HMAC_SHA1_80: MKI not supported; 2 AES_CM_128_HMAC_SHA1_32: session parameter UNENCRYPTED_SRTP not supported)');
  assertSdpError(() => sdp.planAnswer(sdp.parseSdp(fixture('sdes-two-crypto')), 'sdes-srtp', { sdesSuites: ['AEAD_AES_128_GCM'] }),
    488, /^no common SRTP crypto suite/);
  const none = fixture('sdes-two-crypto').replace(/a=crypto:[^\r]*\r\n/g, '');
  assertSdpError(() => sdp.planAnswer(sdp.parseSdp(none), 'as-offered'), 488, 'SDES-SRTP offer without a=crypto');
});

test('RTP caller -> SDES callee: one a=crypto per suite in preference order; answer picks one tag', () => {
  const offerA = sdp.parseSdp(fixture('rtp-avp'));
  const planB = sdp.planOffer(offerA, 'sdes-srtp');
  const offerB = sdp.buildOffer(offerA, planB, localLeg('b'), sdp.createOrigin('1')).sdp;
  assert.equal(section(offerB, 0)[0], 'm=audio 40002 RTP/SAVP 8 0 101');
  assert.deepEqual(cryptoLines(offerB), planB.sdesKeys.map((k) => `a=crypto:${k.tag} ${k.suite} inline:${k.key}`));
  assert.deepEqual(cryptoLines(offerB).map((l) => l.split(' ').slice(0, 2).join(' ')), [
    'a=crypto:1 AES_CM_128_HMAC_SHA1_80', 'a=crypto:2 AES_CM_128_HMAC_SHA1_32', 'a=crypto:3 AEAD_AES_128_GCM', 'a=crypto:4 AEAD_AES_256_GCM',
  ]);
  const ansText = body('v=0', 'o=pbx 1 1 IN IP4 198.51.100.60', 's=-', 'c=IN IP4 198.51.100.60', 't=0 0',
    'm=audio 30000 RTP/SAVP 8', 'a=rtpmap:8 PCMA/8000', `a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:${K32}`);
  const planB2 = sdp.applyAnswer(sdp.parseSdp(ansText), planB);
  assert.deepEqual(planB2.sdesKeys, [planB.sdesKeys[1]]);
  assert.deepEqual(planB2.remoteSdes, { suite: 'AES_CM_128_HMAC_SHA1_32', key: K32 });
  assert.deepEqual(sdp.legUpdateFor(planB2, sdp.parseSdp(ansText)), {
    kind: 'sdes-srtp', localKey: { suite: 'AES_CM_128_HMAC_SHA1_32', key: planB.sdesKeys[1].key },
    remoteKey: { suite: 'AES_CM_128_HMAC_SHA1_32', key: K32 },
    remoteAddress: '198.51.100.60', remotePort: 30000, rtcpMux: false, direction: 'sendrecv',
  });
  // Custom suite list.
  const only = sdp.planOffer(offerA, 'sdes-srtp', { sdesSuites: ['AEAD_AES_256_GCM'] });
  assert.deepEqual(only.sdesKeys.map((k) => [k.tag, k.suite, Buffer.from(k.key, 'base64').length]), [[1, 'AEAD_AES_256_GCM', 44]]);
});

test('SDES answer mismatches -> 488', () => {
  const offerA = sdp.parseSdp(fixture('rtp-avp'));
  const planB = sdp.planOffer(offerA, 'sdes-srtp');
  const ans = (crypto) => sdp.parseSdp(body('v=0', 'o=pbx 1 1 IN IP4 198.51.100.60', 's=-', 'c=IN IP4 198.51.100.60', 't=0 0',
    'm=audio 30000 RTP/SAVP 8', ...(crypto ? [crypto] : [])));
  assertSdpError(() => sdp.applyAnswer(ans(`a=crypto:5 AES_CM_128_HMAC_SHA1_80 inline:${K80}`), planB), 488, /^no common SRTP crypto suite/);
  assertSdpError(() => sdp.applyAnswer(ans(`a=crypto:1 AES_CM_128_HMAC_SHA1_32 inline:${K32}`), planB), 488, /^no common SRTP crypto suite/);
  assertSdpError(() => sdp.applyAnswer(ans(`a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${K80}|1:4`), planB), 488,
    'SDES-SRTP answer a=crypto:1 unusable: MKI not supported');
  assertSdpError(() => sdp.applyAnswer(ans(''), planB), 488, 'SDES-SRTP answer without a=crypto');
});

test('DTLS caller -> SDES callee (policy sdes-srtp on B)', () => {
  const offerA = sdp.parseSdp(fixture('baresip-savpf'));
  const planA = sdp.planAnswer(offerA, 'dtls-srtp');
  const planB = sdp.planOffer(offerA, sdp.resolveSecurity('sdes-srtp', planA.security), { avpf: 'keep' });
  const offerB = sdp.buildOffer(offerA, planB, localLeg('b'), sdp.createOrigin('1')).sdp;
  assert.equal(section(offerB, 0)[0], 'm=audio 40002 RTP/SAVPF 0 8 101');
  assert.equal(cryptoLines(offerB).length, 4);
  assert.ok(!offerB.includes('fingerprint') && !offerB.includes('setup'));
  assertNoLeak(offerB, fixture('baresip-savpf'));
});
