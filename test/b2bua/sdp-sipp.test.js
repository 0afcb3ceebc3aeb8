'use strict';
// Flow 1 SDP on the wire, with sipp on both sides of the SBC: the exact SDP
// the callee receives and the exact answer the caller gets back, in both
// directions (DTLS-SRTP caller -> RTP callee, and the mirror). sipp cannot do
// DTLS, so these calls only check SDP; BYE comes from either side.
const test = require('node:test');
const assert = require('node:assert');
const h = require('../helpers/b2bua');

const MEDIA = { portMin: 47000, portMax: 47999 };
const sippCall = (t, o) => h.sippCall(t, { media: MEDIA, ...o });
const SBC_PORT = /(47\d\d[02468])/; // an even SBC media port (RTP)
const SBC_HEAD = ['v=0', /o=- \d+ 1 IN IP4 127\.0\.0\.1/, 's=-', 'c=IN IP4 127.0.0.1', 't=0 0'];

/** Nothing of the other side's SDP: its addresses, o= line, tool line or media port. */
function assertNoLeak(msg, { addr, originUser, tool, port }) {
  const body = h.bodyLines(msg).join('\n');
  assert.doesNotMatch(body, new RegExp(addr.replace(/\./g, '\\.')), 'no address of the other side');
  assert.doesNotMatch(body, new RegExp(originUser), 'no o= line of the other side');
  assert.doesNotMatch(body, new RegExp(tool), 'no attributes of the other side');
  assert.doesNotMatch(body, new RegExp(`\\b${port}\\b`), 'no media port of the other side');
  assert.doesNotMatch(body, /a=(ice-|candidate|ssrc|crypto|label)/, 'no ICE/ssrc/crypto/label lines');
}

const CALLER = { addr: '127.0.0.3', originUser: 'alice', tool: 'caller-tool' };
const CALLEE = { addr: '127.0.0.2', originUser: 'callee-uas', tool: 'callee-tool' };

test('seed offer (SAVP, setup:active, "a=fingerprint: SHA-1") -> RTP/AVP to the callee; SAVP passive sha-1 answer; BYE from caller', async (t) => {
  const r = await sippCall(t, {
    inRealm: { security: 'dtls-srtp' },
    outRealm: { security: 'rtp' },
    uac: ['uac-bye', { SDP: h.sdpBody(h.offers.seed()), TALK_MS: 300 }],
    uas: ['uas-answer', { SDP: h.sdpBody(h.answers.rtp({ codecs: '0' })), RTP: '' }],
  });
  const [p] = h.expectSdp(r.offerToCallee, [
    ...SBC_HEAD,
    new RegExp(`m=audio ${SBC_PORT.source} RTP/AVP 0`),
    'a=rtpmap:0 PCMU/8000',
    'a=ptime:20',
    /a=rtcp:(\d+)/,
    'a=sendrecv',
  ], 'offer to the callee');
  assert.equal(h.bodyLines(r.offerToCallee)[8], `a=rtcp:${Number(p) + 1}`);
  assertNoLeak(r.offerToCallee, { ...CALLER, port: r.callerPort });
  const [q, fp] = h.expectSdp(r.answerToCaller, [
    ...SBC_HEAD,
    new RegExp(`m=audio ${SBC_PORT.source} UDP/TLS/RTP/SAVP 0`),
    'a=rtpmap:0 PCMU/8000',
    'a=ptime:30', // the callee's ptime
    /a=rtcp:\d+/, // no rtcp-mux: not offered
    'a=setup:passive',
    new RegExp(`a=fingerprint:sha-1 (${h.hexFp(20).source})`),
    'a=sendrecv',
  ], 'answer to the caller');
  assert.notEqual(q, p, 'each leg has its own port');
  assert.equal(fp, r.sbc.engine.currentFingerprint('sha-1').value.toUpperCase(), "the SBC's own certificate, in the caller's hash");
  assertNoLeak(r.answerToCaller, { ...CALLEE, port: r.calleePort });
  assert.equal(r.live.planA.dtlsRole, 'passive', 'SBC is the DTLS server');
});

test('baresip-style SAVPF actpass offer (session-level SHA-256, rtcp-mux) -> passive sha-256 SAVPF answer with rtcp-mux; BYE from callee', async (t) => {
  const r = await sippCall(t, {
    inRealm: { security: 'dtls-srtp' },
    outRealm: { security: 'rtp' },
    uac: ['uac-wait-bye', { SDP: h.sdpBody(h.offers.baresip()) }],
    uas: ['uas-answer-bye', { SDP: h.sdpBody(h.answers.rtp()), TALK_MS: 300 }],
  });
  h.expectSdp(r.offerToCallee, [
    ...SBC_HEAD,
    new RegExp(`m=audio ${SBC_PORT.source} RTP/AVP 0 8 101`),
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:8 PCMA/8000',
    'a=rtpmap:101 telephone-event/8000',
    'a=fmtp:101 0-15',
    'a=ptime:20',
    /a=rtcp:\d+/,
    'a=sendrecv',
  ], 'offer to the callee');
  assertNoLeak(r.offerToCallee, { ...CALLER, port: r.callerPort });
  assert.doesNotMatch(h.bodyLines(r.offerToCallee).join('\n'), /b=AS|rtcp-rsize|rtcp-mux|fingerprint|setup/);
  const [, fp] = h.expectSdp(r.answerToCaller, [
    ...SBC_HEAD,
    new RegExp(`m=audio ${SBC_PORT.source} UDP/TLS/RTP/SAVPF 0 101`),
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:101 telephone-event/8000',
    'a=fmtp:101 0-15',
    'a=ptime:30',
    'a=rtcp-mux',
    'a=setup:passive',
    new RegExp(`a=fingerprint:sha-256 (${h.hexFp(32).source})`),
    'a=sendrecv',
  ], 'answer to the caller');
  assert.equal(fp, r.sbc.engine.currentFingerprint('sha-256').value.toUpperCase());
  assertNoLeak(r.answerToCaller, { ...CALLEE, port: r.calleePort });
  // The callee hung up: the caller got the SBC's BYE.
  assert.ok(h.findMessage(r.a.messages, { sent: false, first: /^BYE / }), 'caller received BYE');
});

test('several fingerprints (sha-1 and SHA-256 at media level, md5 at session level): answered in the strongest hash', async (t) => {
  const offer = h.offers.seed({ fingerprint: `a=fingerprint: SHA-1 ${h.SHA1_SEED}` });
  offer.splice(offer.indexOf('t=0 0') + 1, 0, 'a=fingerprint:md5 49:27:D4:D8:17:6C:B4:8A:9D:D0:64:91:E7:B5:6A:3D');
  offer.splice(offer.indexOf('a=rtpmap:0 PCMU/8000'), 0, `a=fingerprint:SHA-256 ${h.SHA256_BARESIP}`);
  const r = await sippCall(t, {
    inRealm: { security: 'dtls-srtp' },
    outRealm: { security: 'rtp' },
    uac: ['uac-bye', { SDP: h.sdpBody(offer), TALK_MS: 200 }],
    uas: ['uas-answer', { SDP: h.sdpBody(h.answers.rtp({ codecs: '0' })), RTP: '' }],
  });
  const fps = h.bodyLines(r.answerToCaller).filter((l) => l.startsWith('a=fingerprint'));
  assert.deepEqual(fps, [`a=fingerprint:sha-256 ${r.sbc.engine.currentFingerprint('sha-256').value.toUpperCase()}`]);
  assert.deepEqual(r.live.planA.remoteFingerprints.map((f) => f.hash).sort(), ['sha-1', 'sha-256'], 'both usable caller fingerprints kept');
  assert.doesNotMatch(h.bodyLines(r.offerToCallee).join('\n'), /fingerprint|setup/);
});

test('a=setup:passive offer -> the SBC answers setup:active (DTLS client)', async (t) => {
  const r = await sippCall(t, {
    inRealm: { security: 'dtls-srtp' },
    outRealm: { security: 'rtp' },
    uac: ['uac-bye', { SDP: h.sdpBody(h.offers.passive()), TALK_MS: 300 }],
    uas: ['uas-answer', { SDP: h.sdpBody(h.answers.rtp()), RTP: '' }],
  });
  h.expectSdp(r.answerToCaller, [
    ...SBC_HEAD,
    new RegExp(`m=audio ${SBC_PORT.source} UDP/TLS/RTP/SAVP 0 101`),
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:101 telephone-event/8000',
    'a=fmtp:101 0-15',
    'a=ptime:30',
    'a=rtcp-mux',
    'a=setup:active',
    new RegExp(`a=fingerprint:sha-256 ${h.hexFp(32).source}`),
    'a=sendrecv',
  ], 'answer to the caller');
  assert.equal(r.live.planA.dtlsRole, 'active');
});

test('realm media.actpassAnswer "active": an actpass offer is answered setup:active', async (t) => {
  const r = await sippCall(t, {
    inRealm: { security: 'dtls-srtp', media: { actpassAnswer: 'active' } },
    outRealm: { security: 'rtp' },
    uac: ['uac-bye', { SDP: h.sdpBody(h.offers.baresip()), TALK_MS: 200 }],
    uas: ['uas-answer', { SDP: h.sdpBody(h.answers.rtp()), RTP: '' }],
  });
  const lines = h.bodyLines(r.answerToCaller);
  assert.ok(lines.includes('a=setup:active'), lines.join('\n'));
  assert.ok(!lines.includes('a=setup:passive'));
  assert.equal(r.live.planA.dtlsRole, 'active');
});

for (const [setup, role, hangup] of [['active', 'passive', 'caller'], ['passive', 'active', 'callee']]) {
  test(`mirror: RTP caller -> SBC offers SAVP actpass sha-256 rtcp-mux; callee answers setup:${setup} -> SBC is ${role}; BYE from ${hangup}`, async (t) => {
    const r = await sippCall(t, {
      inRealm: { security: 'rtp' },
      outRealm: { security: 'dtls-srtp' },
      uac: hangup === 'caller' ? ['uac-bye', { SDP: h.sdpBody(h.offers.rtp()), TALK_MS: 300 }] : ['uac-wait-bye', { SDP: h.sdpBody(h.offers.rtp()) }],
      uas: hangup === 'caller'
        ? ['uas-answer', { SDP: h.sdpBody(h.answers.dtls({ setup })), RTP: '' }]
        : ['uas-answer-bye', { SDP: h.sdpBody(h.answers.dtls({ setup })), TALK_MS: 300 }],
    });
    const [, fp] = h.expectSdp(r.offerToCallee, [
      ...SBC_HEAD,
      new RegExp(`m=audio ${SBC_PORT.source} UDP/TLS/RTP/SAVP 0 8 101`),
      'a=rtpmap:0 PCMU/8000',
      'a=rtpmap:8 PCMA/8000',
      'a=rtpmap:101 telephone-event/8000',
      'a=fmtp:101 0-15',
      'a=ptime:20',
      'a=rtcp-mux',
      'a=setup:actpass',
      new RegExp(`a=fingerprint:sha-256 (${h.hexFp(32).source})`),
      'a=sendrecv',
    ], 'offer to the DTLS callee');
    assert.equal(fp, r.sbc.engine.currentFingerprint('sha-256').value.toUpperCase());
    assertNoLeak(r.offerToCallee, { ...CALLER, port: r.callerPort });
    h.expectSdp(r.answerToCaller, [
      ...SBC_HEAD,
      new RegExp(`m=audio ${SBC_PORT.source} RTP/AVP 0 101`),
      'a=rtpmap:0 PCMU/8000',
      'a=rtpmap:101 telephone-event/8000',
      'a=fmtp:101 0-15',
      'a=ptime:30',
      /a=rtcp:\d+/,
      'a=sendrecv',
    ], 'answer to the RTP caller');
    assertNoLeak(r.answerToCaller, { ...CALLEE, port: r.calleePort });
    assert.doesNotMatch(h.bodyLines(r.answerToCaller).join('\n'), /fingerprint|setup|crypto|rtcp-mux/);
    assert.equal(r.live.planB.dtlsRole, role, `answer setup:${setup} makes the SBC ${role}`);
    const bye = h.findMessage((hangup === 'caller' ? r.b : r.a).messages, { sent: false, first: /^BYE / });
    assert.ok(bye, `the ${hangup === 'caller' ? 'callee' : 'caller'} got the SBC's BYE`);
  });
}
