'use strict';
// Realm separation: a call routed into realm 'out' leaves from realm 'out''s
// SIP listener (the SBC names it in its Contact, and the SIP engine sends from
// the listener the Contact names), so the callee answers and sends in-dialog
// requests there.
const test = require('node:test');
const assert = require('node:assert');
const h = require('../helpers/b2bua');

test('INVITE, ACK and BYE toward realm "out" leave from the out realm listener (Via and Contact)', async (t) => {
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
  // In-dialog requests stay on the dialog's listener (they once left from the
  // first UDP listener, i.e. realm 'in').
  const inDialog = r.b.messages.filter((m) => !m.sent && /^(ACK|BYE) /.test(m.firstLine));
  assert.deepEqual(inDialog.map((m) => m.firstLine.split(' ')[0]), ['ACK', 'BYE'], h.describe(r.b.messages));
  for (const m of inDialog) assert.match(h.header(m, 'Via'), new RegExp(`127\\.0\\.0\\.1:${out}\\b`), m.text);
});
