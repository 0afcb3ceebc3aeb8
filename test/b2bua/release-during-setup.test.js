'use strict';
// WIP (fails until call.ts handles a release during setup; not run by the
// test runner). The caller's DTLS handshake times out while the callee is
// still ringing. Today Call.release() only marks the call ended and closes
// the pipeline: setup goes on, the callee's later 200 is bridged, both legs
// stay up with no media and no call in the SBC (orphaned dialogs).
// Expected: the caller gets a final 488 with a Reason naming the timeout, the
// callee gets CANCEL, nothing is left.
const test = require('node:test');
const assert = require('node:assert');
const h = require('../helpers/b2bua');

test('DTLS handshake timeout while the callee rings: 488 with Reason to the caller, CANCEL to the callee', async (t) => {
  const r = await h.sippCall(t, {
    inRealm: { security: 'dtls-srtp' },
    outRealm: { security: 'rtp' },
    media: { portMin: 49000, portMax: 49499, handshakeTimeoutMs: 1000 },
    uac: ['uac-reject', { SDP: h.sdpBody(h.offers.seed()), CODE: 488 }],
    uas: ['uas-ring', {}],
  });
  const resp = h.findMessage(r.a.messages, { sent: false, first: /^SIP\/2\.0 488 / });
  assert.match(h.reasonOf(resp, '488 to the caller').text, /DTLS handshake failed on caller leg: timeout/);
  assert.ok(h.findMessage(r.b.messages, { sent: false, first: /^CANCEL / }), 'callee got CANCEL');
  assert.ok(!h.findMessage(r.a.messages, { sent: false, first: /^SIP\/2\.0 200 / }), 'no 200 to the caller');
});

test('DTLS handshake timeout while the callee is in early media (183), then it answers: nothing is left up', async (t) => {
  const r = await h.sippCall(t, {
    inRealm: { security: 'dtls-srtp' },
    outRealm: { security: 'rtp' },
    media: { portMin: 49000, portMax: 49499, handshakeTimeoutMs: 1000 },
    expectCodes: null, // the callee scenario may get a CANCEL it does not expect
    uac: ['uac-wait-bye', { SDP: h.sdpBody(h.offers.seed()) }],
    uas: ['uas-early', { SDP: h.sdpBody(h.answers.rtp({ codecs: '0' })), EARLY_MS: 2500 }],
  });
  // Either the setup was refused (final error to the caller, CANCEL to the
  // callee) or, if the 200 won the race, both legs got BYE with the Reason.
  const ok = h.findMessage(r.a.messages, { sent: false, first: /^SIP\/2\.0 200 /, cseq: /INVITE/ });
  if (ok) {
    for (const side of ['a', 'b']) {
      const bye = h.findMessage(r[side].messages, { sent: false, first: /^BYE / });
      assert.match(h.reasonOf(bye, `BYE on leg ${side}`).text, /timeout/);
    }
  } else {
    assert.ok(h.findMessage(r.a.messages, { sent: false, first: /^SIP\/2\.0 [3-6]\d\d / }), h.describe(r.a.messages));
  }
});
