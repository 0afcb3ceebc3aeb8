'use strict';
// WIP (fails today; not run by the test runner): a call routed into realm
// 'out' should leave from realm 'out''s SIP listener, so the callee answers
// and sends in-dialog requests there (realm separation). Today the embedded
// SIP engine sends every out-of-dialog request from its first listener of the
// transport (native/sip/src/engine/mod.rs local_for), i.e. from realm 'in'.
const test = require('node:test');
const assert = require('node:assert');
const h = require('../../helpers/b2bua');

test('INVITE toward realm "out" leaves from the out realm listener (Via and Contact)', async (t) => {
  const r = await h.sippCall(t, {
    inRealm: { security: 'dtls-srtp' },
    outRealm: { security: 'rtp' },
    media: { portMin: 47000, portMax: 47999 },
    uac: ['uac-bye', { SDP: h.sdpBody(h.offers.baresip()), TALK_MS: 200 }],
    uas: ['uas-answer', { SDP: h.sdpBody(h.answers.rtp()), RTP: '' }],
  });
  const out = r.sbc.port('out');
  assert.match(h.header(r.offerToCallee, 'Via'), new RegExp(`127\\.0\\.0\\.1:${out}\\b`), r.offerToCallee.text);
  assert.match(h.header(r.offerToCallee, 'Contact'), new RegExp(`127\\.0\\.0\\.1:${out}\\b`), r.offerToCallee.text);
});
