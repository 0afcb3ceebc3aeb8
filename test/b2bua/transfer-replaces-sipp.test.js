'use strict';
// Attended transfer (RFC 3891 Replaces) through the B2BUA, with sipp (baresip
// 1.0 cannot do attended transfer). Call 1: A1 -> SBC -> B. Call 2 (the
// consultation): A2 -> SBC -> C. A refers B to C with Replaces naming A's
// dialog of call 2 (as A sees it: a dialog with the SBC). B's REFER keeps the
// Replaces. B's new INVITE with that Replaces reaches the SBC, which finds
// call 2 and sends the INVITE to C (the party on call 2's other leg) with
// Replaces naming C's dialog with the SBC.
const test = require('node:test');
const assert = require('node:assert');
const { startTestSbc } = require('../helpers/sbc');
const { waitUntil } = require('../helpers/udp');
const h = require('../helpers/b2bua');

const MEDIA = { portMin: 40600, portMax: 40699 };
const OFFER = h.sdpBody(h.offers.rtp('0 101'));
const ANSWER = h.sdpBody(h.answers.rtp());
const indent = (lines) => lines.map((l) => `      ${l}`).join('\n');
const reply200 = '  <send>\n    <![CDATA[\n' + indent(['SIP/2.0 200 OK', '[last_Via:]', '[last_From:]', '[last_To:]', '[last_Call-ID:]', '[last_CSeq:]', 'Content-Length: 0']) + '\n\n    ]]>\n  </send>';
const received = (r, re) => r.messages.filter((m) => !m.sent && re.test(m.firstLine));

async function setup(t, { refer = 'pass-through', callee = ['transfer-uas-referee', { SDP: ANSWER }] } = {}) {
  // C answers two calls: the consultation call and the replacing one.
  const c = await h.startScenario('uas-answer', { SDP: ANSWER, RTP: '' }, { calls: 2 });
  t.after(() => c.cleanup());
  const b = await h.startScenario(...callee);
  t.after(() => b.cleanup());
  const sbc = await startTestSbc({
    realms: [
      { name: 'in', security: 'rtp', refer },
      { name: 'out', security: 'rtp' },
    ],
    routes: [
      { from: 'in', user: '^bob$', to: 'out', uri: `sip:bob@127.0.0.1:${b.port}` },
      { from: 'in', user: '^carol$', to: 'out', uri: `sip:carol@127.0.0.1:${c.port}` },
      { from: 'out', user: '^carol$', to: 'out', uri: `sip:carol@127.0.0.1:${c.port}` },
    ],
    media: MEDIA,
  });
  t.after(() => sbc.stop());
  return { b, c, sbc };
}

test('attended transfer: REFER with Replaces relayed intact; INVITE with Replaces is sent to the right party with the right dialog', async (t) => {
  const { b, c, sbc } = await setup(t);
  // Call 2: A2 -> carol (consultation), up for the whole test.
  const a2 = await h.startScenario('uac-bye', { SDP: OFFER, TALK_MS: 5000 }, { remote: `127.0.0.1:${sbc.port('in')}`, service: 'carol' });
  t.after(() => a2.cleanup());
  let call2;
  await waitUntil(() => (call2 = [...sbc.app.calls.values()].find((x) => x.answeredAt)), 5000, 'consultation call up');
  // A's view of call 2: Call-ID, its own tag (from), the SBC's tag (to).
  const aLeg = call2.dialog('a').sip;
  const replaces = `${aLeg.callId};to-tag=${aLeg.localTag};from-tag=${aLeg.remoteTag}`;

  // Call 1: A1 -> bob; A1 refers bob to carol, replacing call 2.
  const referTo = `<sip:carol@127.0.0.1:${sbc.port('in')}?Replaces=${encodeURIComponent(replaces)}>`;
  const afterRefer = ['  <recv response="202"/>', '  <recv request="NOTIFY"/>', reply200, '  <recv request="NOTIFY"/>', reply200, '  <pause milliseconds="200"/>',
    '  <send retrans="500">\n    <![CDATA[\n' + indent(['BYE [next_url] SIP/2.0', 'Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]', 'From: alice <sip:alice@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]', 'To: [$rto]', '[routes]', 'Call-ID: [call_id]', 'CSeq: 8 BYE', 'Max-Forwards: 70', 'Content-Length: 0']) + '\n\n    ]]>\n  </send>\n  <recv response="200" crlf="true"/>'].join('\n');
  const a1 = await h.startScenario(
    'transfer-uac-refer',
    { SDP: OFFER, TALK_MS: 300, REFER_HEADERS: indent([`Refer-To: ${referTo}`]), AFTER_REFER: afterRefer },
    { remote: `127.0.0.1:${sbc.port('in')}`, service: 'bob' },
  );
  t.after(() => a1.cleanup());
  const r1 = await a1.done;
  const rb = await b.done;
  assert.equal(r1.code, 0, h.describe(r1.messages));
  assert.equal(rb.code, 0, h.describe(rb.messages));
  const refer = received(rb, /^REFER /)[0];
  assert.equal(h.header(refer, 'Refer-To'), `<sip:carol@127.0.0.1:${sbc.port('out')}?Replaces=${encodeURIComponent(replaces)}>`, 'Replaces kept, host mapped');

  // B's new INVITE (simulated by sipp in B's realm) with the Replaces from the Refer-To.
  const bNew = await h.startScenario('transfer-uac-replaces', { SDP: OFFER, TALK_MS: 300, HEADERS: indent([`Replaces: ${replaces}`]) }, { remote: `127.0.0.1:${sbc.port('out')}`, service: 'carol' });
  t.after(() => bNew.cleanup());
  const rNew = await bNew.done;
  assert.equal(rNew.code, 0, h.describe(rNew.messages));
  const ra2 = await a2.done;
  assert.equal(ra2.code, 0);
  const rc = await c.done;
  const invites = received(rc, /^INVITE /);
  assert.equal(invites.length, 2, h.describe(rc.messages));
  // The second INVITE to C names C's dialog of call 2 as C sees it: its tag is the to-tag.
  const cLeg = call2.dialog('b').sip;
  assert.equal(h.header(invites[1], 'Replaces'), `${cLeg.callId};to-tag=${cLeg.remoteTag};from-tag=${cLeg.localTag}`);
  assert.notEqual(cLeg.callId, aLeg.callId, 'the SBC translated the Call-ID to the other leg');
  assert.equal(h.header(invites[0], 'Replaces'), undefined);
  await h.assertReleased(sbc);
});

test('INVITE with Replaces naming no dialog on the SBC: 481 with Reason', async (t) => {
  const { sbc } = await setup(t);
  const r = await h.startScenario('transfer-uac-replaces-reject', { SDP: OFFER, CODE: 481, HEADERS: indent(['Replaces: nosuchcall@x;to-tag=1;from-tag=2']) }, { remote: `127.0.0.1:${sbc.port('out')}`, service: 'carol' });
  t.after(() => r.cleanup());
  const res = await r.done;
  assert.equal(res.code, 0, h.describe(res.messages));
  const reason = h.reasonOf(received(res, /^SIP\/2\.0 481 /)[0]);
  assert.equal(reason.cause, 481);
  assert.match(reason.text, /Replaces names no dialog/);
  assert.equal(sbc.app.calls.size, 0);
});

test('terminate mode, attended: the SBC INVITEs the consultation party with Replaces and bridges the transferee to it', async (t) => {
  const { b, c, sbc } = await setup(t, { refer: 'terminate', callee: ['uas-answer-bye', { SDP: ANSWER, TALK_MS: 4000 }] });
  const a2 = await h.startScenario('uac-bye', { SDP: OFFER, TALK_MS: 3000 }, { remote: `127.0.0.1:${sbc.port('in')}`, service: 'carol' });
  t.after(() => a2.cleanup());
  let call2;
  await waitUntil(() => (call2 = [...sbc.app.calls.values()].find((x) => x.answeredAt)), 5000, 'consultation call up');
  const aLeg = call2.dialog('a').sip;
  const cLeg = call2.dialog('b').sip;
  const replaces = `${aLeg.callId};to-tag=${aLeg.localTag};from-tag=${aLeg.remoteTag}`;
  const afterRefer = ['  <recv response="202"/>', '  <recv request="NOTIFY"/>', reply200, '  <recv request="NOTIFY"/>', reply200, '  <recv request="BYE"/>', reply200].join('\n');
  const a1 = await h.startScenario(
    'transfer-uac-refer',
    { SDP: OFFER, TALK_MS: 300, REFER_HEADERS: indent([`Refer-To: <sip:carol@127.0.0.1:${sbc.port('in')}?Replaces=${encodeURIComponent(replaces)}>`]), AFTER_REFER: afterRefer },
    { remote: `127.0.0.1:${sbc.port('in')}`, service: 'bob' },
  );
  t.after(() => a1.cleanup());
  const r1 = await a1.done;
  assert.equal(r1.code, 0, h.describe(r1.messages));
  assert.deepEqual(received(r1, /^NOTIFY /).map((m) => h.bodyLines(m).join('\n')), ['SIP/2.0 100 Trying', 'SIP/2.0 200 OK']);
  const rb = await b.done;
  assert.equal(rb.code, 0, h.describe(rb.messages));
  assert.equal(received(rb, /^REFER /).length, 0, 'the transferee never saw the REFER');
  assert.equal((await a2.done).code, 0);
  const rc = await c.done;
  const invites = received(rc, /^INVITE /);
  assert.equal(invites.length, 2, h.describe(rc.messages));
  assert.equal(h.header(invites[1], 'Replaces'), `${cLeg.callId};to-tag=${cLeg.remoteTag};from-tag=${cLeg.localTag}`);
  assert.equal(received(rc, /^BYE /).length, 2, "C got the consultation call's BYE and, via the SBC, the transferee's");
  await h.assertReleased(sbc);
});
