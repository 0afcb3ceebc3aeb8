'use strict';
// Flow 1 failure and teardown paths with sipp on both sides: 488s with their
// Reason, the callee's rejections passed back, CANCEL while ringing, BYE from
// each side, 183 early media, and 503 when media ports run out. After every
// call the SBC holds no call and no port pair.
const test = require('node:test');
const assert = require('node:assert');
const { startTestSbc } = require('../helpers/sbc');
const { waitUntil } = require('../helpers/udp');
const h = require('../helpers/b2bua');

const MEDIA = { portMin: 48000, portMax: 48899 };
const DTLS_IN = { inRealm: { security: 'dtls-srtp' }, outRealm: { security: 'rtp' }, media: MEDIA };
const RTP_ANSWER = h.sdpBody(h.answers.rtp());

const first = (r, side, re, cseq) => h.findMessage(r[side].messages, { sent: false, first: re, cseq });

/** The caller sends `offer` and must get `code` with a Reason whose text matches `text`; the callee sees nothing. */
async function rejected(t, { offer, code, text, ...realms }) {
  const r = await h.sippCall(t, { ...DTLS_IN, ...realms, uac: ['uac-reject', { SDP: h.sdpBody(offer), CODE: code }], uas: null });
  const resp = first(r, 'a', new RegExp(`^SIP/2\\.0 ${code} `));
  const reason = h.reasonOf(resp, `${code} to the caller`);
  assert.equal(reason.cause, code);
  assert.match(reason.text, text);
  return r;
}

const noFingerprint = h.offers.seed({ fingerprint: null });
const cases = [
  ['DTLS offer without a=fingerprint', { offer: noFingerprint, text: /^DTLS-SRTP offer without a=fingerprint$/ }],
  ['DTLS offer without a=setup', { offer: h.offers.seed({ setup: null }), text: /^DTLS-SRTP offer without a=setup$/ }],
  ['DTLS offer with only an unsupported hash', { offer: h.offers.seed({ fingerprint: 'a=fingerprint:md5 49:27:D4:D8:17:6C:B4:8A:9D:D0:64:91:E7:B5:6A:3D' }), text: /^DTLS-SRTP offer with unsupported fingerprint hash \(md5\)$/ }],
  ['no media codec (only telephone-event)', { offer: h.offers.rtp('101').map((l) => l.replace('RTP/AVP', 'UDP/TLS/RTP/SAVP')).concat('a=setup:actpass', `a=fingerprint:sha-256 ${h.SHA256_BARESIP}`), text: /^no common codec$/ }],
  ['plain RTP offer into a DTLS-SRTP realm', { offer: h.offers.rtp(), text: /^realm requires DTLS-SRTP$/ }],
  [
    'SDES offer with no common SRTP crypto suite',
    {
      offer: h.offers.rtp('0').map((l) => l.replace('RTP/AVP', 'RTP/SAVP')).concat('a=crypto:1 AES_CM_256_HMAC_SHA1_80 inline:d0RmdmcmVCspeEc3QGZiNWpVLFJhQX1cfHAwJSoj'),
      inRealm: { security: 'sdes-srtp' },
      text: /^no common SRTP crypto suite/,
    },
  ],
];
for (const [name, c] of cases) {
  test(`488 with Reason: ${name}`, async (t) => {
    await rejected(t, { code: 488, ...c });
  });
}

test('callee answers with no codec the caller offered: 488 to the caller, the callee is BYEd', async (t) => {
  const r = await h.sippCall(t, {
    ...DTLS_IN,
    uac: ['uac-reject', { SDP: h.sdpBody(h.offers.baresip()), CODE: 488 }],
    uas: ['uas-answer', { SDP: h.sdpBody(h.answers.rtp({ codecs: '9' })), RTP: '' }],
  });
  assert.match(h.reasonOf(first(r, 'a', /^SIP\/2\.0 488 /), '488').text, /no common codec/);
  assert.ok(first(r, 'b', /^BYE /), 'callee got BYE');
});

for (const [code, phrase] of [[486, 'Busy Here'], [503, 'Service Unavailable'], [603, 'Decline']]) {
  test(`callee rejects with ${code}: the caller gets ${code}, everything released`, async (t) => {
    const r = await h.sippCall(t, {
      ...DTLS_IN,
      uac: ['uac-reject', { SDP: h.sdpBody(h.offers.baresip()), CODE: code }],
      uas: ['uas-reject', { CODE: code, PHRASE: phrase }],
    });
    const resp = first(r, 'a', new RegExp(`^SIP/2\\.0 ${code} `));
    assert.ok(resp, h.describe(r.a.messages));
    // srf passes the callee's final response on as is (call.ts proxies no
    // response headers, so no Reason): only the status is asserted here.
    assert.ok(first(r, 'a', /^SIP\/2\.0 180 /), 'ringing was passed to the caller');
  });
}

test('CANCEL from the caller while the callee rings: caller gets 487, callee gets CANCEL', async (t) => {
  const r = await h.sippCall(t, {
    ...DTLS_IN,
    uac: ['uac-cancel', { SDP: h.sdpBody(h.offers.baresip()) }],
    uas: ['uas-ring', {}],
  });
  assert.ok(first(r, 'a', /^SIP\/2\.0 200 /, /CANCEL/), '200 to the CANCEL');
  assert.ok(first(r, 'a', /^SIP\/2\.0 487 /, /INVITE/), '487 to the INVITE');
  const invite = first(r, 'b', /^INVITE /);
  const cancel = first(r, 'b', /^CANCEL /);
  assert.ok(cancel, 'the callee got CANCEL');
  // RFC 3261 9.1: same branch and CSeq number as the INVITE it cancels; the
  // 487 is ACKed hop by hop in the same transaction.
  assert.equal(h.header(cancel, 'Via'), h.header(invite, 'Via'));
  assert.equal(h.header(cancel, 'CSeq'), h.header(invite, 'CSeq').replace('INVITE', 'CANCEL'));
  const ack = first(r, 'b', /^ACK /);
  assert.ok(ack, 'the 487 was ACKed');
  assert.equal(h.header(ack, 'Via'), h.header(invite, 'Via'));
  assert.ok(!first(r, 'a', /^SIP\/2\.0 200 /, /INVITE/), 'no 200 to the caller');
});

test('BYE from the caller: the callee gets BYE', async (t) => {
  const r = await h.sippCall(t, {
    ...DTLS_IN,
    uac: ['uac-bye', { SDP: h.sdpBody(h.offers.baresip()), TALK_MS: 300 }],
    uas: ['uas-answer', { SDP: RTP_ANSWER, RTP: '' }],
  });
  assert.ok(first(r, 'b', /^BYE /), 'callee got BYE');
  assert.ok(first(r, 'a', /^SIP\/2\.0 200 /, /BYE/), 'caller got 200 to its BYE');
});

test('BYE from the callee: the caller gets BYE', async (t) => {
  const r = await h.sippCall(t, {
    ...DTLS_IN,
    uac: ['uac-wait-bye', { SDP: h.sdpBody(h.offers.baresip()) }],
    uas: ['uas-answer-bye', { SDP: RTP_ANSWER, TALK_MS: 300 }],
  });
  assert.ok(first(r, 'a', /^BYE /), 'caller got BYE');
  assert.ok(first(r, 'b', /^SIP\/2\.0 200 /, /BYE/), 'callee got 200 to its BYE');
});

test('183 with SDP is bridged like a 200: the caller gets 183 with the SBC answer, then 200', async (t) => {
  const r = await h.sippCall(t, {
    ...DTLS_IN,
    uac: ['uac-bye', { SDP: h.sdpBody(h.offers.baresip()), TALK_MS: 300 }],
    uas: ['uas-early', { SDP: RTP_ANSWER, EARLY_MS: 600 }],
  });
  const early = first(r, 'a', /^SIP\/2\.0 183 /);
  assert.ok(early, h.describe(r.a.messages));
  const [port] = h.expectSdp(early, [
    'v=0',
    /o=- \d+ 1 IN IP4 127\.0\.0\.1/,
    's=-',
    'c=IN IP4 127.0.0.1',
    't=0 0',
    /m=audio (48\d\d[02468]) UDP\/TLS\/RTP\/SAVPF 0 101/,
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:101 telephone-event/8000',
    'a=fmtp:101 0-15',
    'a=ptime:30',
    'a=rtcp-mux',
    'a=setup:passive',
    new RegExp(`a=fingerprint:sha-256 ${h.hexFp(32).source}`),
    'a=sendrecv',
  ], '183 to the caller');
  assert.ok(r.a.messages.indexOf(early) < r.a.messages.indexOf(r.answerToCaller), '183 before 200');
  const final = h.bodyLines(r.answerToCaller);
  assert.ok(final.includes(`m=audio ${port} UDP/TLS/RTP/SAVPF 0 101`), `200 has the same media: ${final.join('\n')}`);
  assert.deepEqual(final.filter((l) => !l.startsWith('o=')), h.bodyLines(early).filter((l) => !l.startsWith('o=')), '200 repeats the early SDP');
});

test('media ports exhausted: 503 with Reason while the first call holds the only ports', async (t) => {
  const first1 = await h.startScenario('uas-answer', { SDP: RTP_ANSWER, RTP: '' });
  t.after(() => first1.cleanup());
  // 48900-48905: two RTP/RTCP port pairs, exactly one call.
  const sbc = await startTestSbc({
    realms: [{ name: 'in', security: 'dtls-srtp' }, { name: 'out', security: 'rtp', nextHop: `sip:127.0.0.1:${first1.port}` }],
    media: { portMin: 48900, portMax: 48905 },
  });
  t.after(() => sbc.stop());
  assert.equal(sbc.engine.counters().portPairsTotal, 2);
  const up = await h.startScenario('uac-bye', { SDP: h.sdpBody(h.offers.baresip()), TALK_MS: 2500 }, { remote: `127.0.0.1:${sbc.port('in')}`, service: 'bob' });
  t.after(() => up.cleanup());
  await waitUntil(() => [...sbc.app.calls.values()].some((c) => c.answeredAt), 5000, 'first call up');
  assert.equal(sbc.engine.counters().portPairsInUse, 2);
  const r = await h.sippCall(t, { sbc, uac: ['uac-reject', { SDP: h.sdpBody(h.offers.baresip()), CODE: 503 }], uas: null, expectCodes: [0] }).catch((e) => e);
  // sippCall waits for the release of *all* calls, so it ends after the first call too.
  assert.ok(!(r instanceof Error), r && r.stack);
  const reason = h.reasonOf(first(r, 'a', /^SIP\/2\.0 503 /), '503 to the caller');
  assert.equal(reason.cause, 503);
  assert.match(reason.text, /media: .*port/i);
  assert.equal((await up.done).code, 0, 'the first call was not disturbed');
  assert.equal((await first1.done).code, 0);
});
