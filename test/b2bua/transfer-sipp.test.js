'use strict';
// Call transfer (issue 6) signalling with sipp on every side: the exact
// REFER / 202 / NOTIFY / BYE sequence in both `refer` modes, sipfrag bodies,
// Subscription-State values, Event ids, Refer-To / Referred-By mapping, and
// the failure paths (bad or unroutable Refer-To, transfer forbidden, REFER
// refused by the transferee, transfer target rejecting: the call survives).
// Both realms are plain RTP: media is covered by transfer-baresip.test.js.
const test = require('node:test');
const assert = require('node:assert');
const { startTestSbc } = require('../helpers/sbc');
const { waitUntil } = require('../helpers/udp');
const h = require('../helpers/b2bua');

const MEDIA = { portMin: 40500, portMax: 40599 };
const OFFER = h.sdpBody(h.offers.rtp('0 101'));
const ANSWER = h.sdpBody(h.answers.rtp());

const indent = (lines) => lines.map((l) => `      ${l}`).join('\n');
const sendBlock = (lines) => `  <send retrans="500">\n    <![CDATA[\n${indent(lines)}\n\n    ]]>\n  </send>`;
const reply200 = sendBlock(['SIP/2.0 200 OK', '[last_Via:]', '[last_From:]', '[last_To:]', '[last_Call-ID:]', '[last_CSeq:]', 'Content-Length: 0']).replace(' retrans="500"', '');
const bye = (cseq) =>
  sendBlock([
    'BYE [next_url] SIP/2.0',
    'Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]',
    'From: alice <sip:alice@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]',
    'To: [$rto]',
    '[routes]',
    'Call-ID: [call_id]',
    `CSeq: ${cseq} BYE`,
    'Max-Forwards: 70',
    'Content-Length: 0',
  ]) + '\n  <recv response="200" crlf="true"/>';

/** What the transferor expects after its REFER. */
const after = {
  /** 202, two NOTIFYs answered 200, then our BYE. */
  accepted: ['  <recv response="202"/>', '  <recv request="NOTIFY"/>', reply200, '  <recv request="NOTIFY"/>', reply200, '  <pause milliseconds="200"/>', bye(8)].join('\n'),
  /** 202, two NOTIFYs, then the SBC's BYE. */
  acceptedThenBye: ['  <recv response="202"/>', '  <recv request="NOTIFY"/>', reply200, '  <recv request="NOTIFY"/>', reply200, '  <recv request="BYE"/>', reply200].join('\n'),
  /** A final failure `code`, then (the call survived) our BYE. */
  refused: (code) => [`  <recv response="${code}"/>`, '  <pause milliseconds="300"/>', bye(8)].join('\n'),
};

/**
 * A (sipp, realm 'in') calls B (sipp `callee` scenario, realm 'out'), then
 * sends REFER with `referHeaders`. `targets`: extra sipp UAS scenarios whose
 * ports become routes for users (name -> scenario) from realm 'out'.
 */
async function referCall(t, { mode = 'pass-through', inRefer, callee, referHeaders, afterRefer, targets = {}, media = MEDIA, talkMs = 300, expectCallee = 0, expectCaller = 0 }) {
  const b = await h.startScenario(...callee);
  t.after(() => b.cleanup());
  const started = {};
  for (const [user, scenario] of Object.entries(targets)) {
    started[user] = await h.startScenario(...scenario);
    t.after(() => started[user].cleanup());
  }
  const sbc = await startTestSbc({
    realms: [
      { name: 'in', security: 'rtp', refer: inRefer || mode },
      { name: 'out', security: 'rtp', nextHop: `sip:127.0.0.1:${b.port}` },
    ],
    routes: [
      ...Object.entries(started).map(([user, s]) => ({ from: 'out', user: `^${user}$`, to: 'out', uri: `sip:${user}@127.0.0.1:${s.port}` })),
      { from: 'out', user: '^carol$', to: 'out', uri: 'sip:carol@127.0.0.1:9' },
      { from: 'in', to: 'out' },
    ],
    media,
  });
  t.after(() => sbc.stop());
  const lines = referHeaders(sbc);
  const a = await h.startScenario(
    'transfer-uac-refer',
    { SDP: OFFER, TALK_MS: talkMs, REFER_HEADERS: indent(lines), AFTER_REFER: afterRefer },
    { remote: `127.0.0.1:${sbc.port('in')}`, service: 'bob' },
  );
  t.after(() => a.cleanup());
  let call;
  await waitUntil(() => (call = [...sbc.app.calls.values()][0]) || a.child.exitCode !== null, 10000, 'call up');
  const ra = await a.done;
  const rb = await b.done;
  assert.equal(ra.code, expectCaller, `transferor scenario:\n${h.describe(ra.messages)}\n${ra.stdout.slice(-1500)}`);
  assert.equal(rb.code, expectCallee, `transferee scenario:\n${h.describe(rb.messages)}\n${rb.stdout.slice(-1500)}`);
  const rt = {};
  for (const [user, s] of Object.entries(started)) rt[user] = await s.stop();
  await h.assertReleased(sbc);
  return { a: ra, b: rb, targets: rt, sbc, call };
}

const received = (r, re, cseq) => r.messages.filter((m) => !m.sent && re.test(m.firstLine) && (!cseq || cseq.test(h.header(m, 'CSeq') || '')));
const sipfrag = (m) => h.bodyLines(m).join('\n');

test('pass-through: REFER relayed with Refer-To and Referred-By mapped to the SBC; 202 and both NOTIFYs relayed back intact', async (t) => {
  const r = await referCall(t, {
    callee: ['transfer-uas-referee', { SDP: ANSWER }],
    referHeaders: () => ['Refer-To: <sip:carol@10.9.9.9:5070;transport=udp;maddr=10.9.9.9?X-Secret=topology>', 'Referred-By: "Alice" <sip:alice@10.1.1.1:5099;ob>'],
    afterRefer: after.accepted,
  });
  const [refer] = received(r.b, /^REFER /);
  assert.ok(refer, h.describe(r.b.messages));
  const outPort = r.sbc.port('out');
  assert.equal(h.header(refer, 'Refer-To'), `<sip:carol@127.0.0.1:${outPort}>`, 'user kept, host:port = the SBC in the transferee realm, topology dropped');
  assert.equal(h.header(refer, 'Referred-By'), `"Alice" <sip:alice@127.0.0.1:${outPort}>`);
  assert.doesNotMatch(refer.text, /10\.9\.9\.9|10\.1\.1\.1|X-Secret/);
  // The transferor's side: 202, then NOTIFY 100 (active), NOTIFY 200 (terminated).
  assert.ok(received(r.a, /^SIP\/2\.0 202 /, /REFER/)[0], '202 to the transferor');
  const notifies = received(r.a, /^NOTIFY /);
  assert.equal(notifies.length, 2, h.describe(r.a.messages));
  assert.deepEqual(notifies.map(sipfrag), ['SIP/2.0 100 Trying', 'SIP/2.0 200 OK']);
  assert.deepEqual(notifies.map((m) => h.header(m, 'Subscription-State')), ['active;expires=60', 'terminated;reason=noresource']);
  assert.deepEqual(notifies.map((m) => h.header(m, 'Event')), ['refer;id=7', 'refer;id=7'], "Event id = the transferor's REFER CSeq");
  assert.ok(notifies.every((m) => /^message\/sipfrag/.test(h.header(m, 'Content-Type'))));
  // The order the transferor saw; then its BYE went to the transferee.
  const seq = r.a.messages.filter((m) => !/^SIP\/2\.0 1\d\d/.test(m.firstLine)).map((m) => `${m.sent ? '>' : '<'} ${/^SIP/.test(m.firstLine) ? m.firstLine.split(' ')[1] : m.firstLine.split(' ')[0]}`);
  assert.deepEqual(seq, ['> INVITE', '< 200', '> ACK', '> REFER', '< 202', '< NOTIFY', '> 200', '< NOTIFY', '> 200', '> BYE', '< 200']);
  assert.ok(received(r.b, /^BYE /)[0], 'the BYE was relayed to the transferee');
});

test('pass-through: the transferor refreshes the refer subscription (SUBSCRIBE): relayed to the transferee with its Event id, 200 back', async (t) => {
  const subscribe = sendBlock([
    'SUBSCRIBE [next_url] SIP/2.0',
    'Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]',
    'From: alice <sip:alice@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]',
    'To: [$rto]',
    '[routes]',
    'Call-ID: [call_id]',
    'CSeq: 8 SUBSCRIBE',
    'Contact: <sip:alice@[local_ip]:[local_port]>',
    'Event: refer;id=7',
    'Expires: 60',
    'Max-Forwards: 70',
    'Content-Length: 0',
  ]);
  const r = await referCall(t, {
    callee: ['transfer-uas-referee-subscribe', { SDP: ANSWER }],
    referHeaders: () => ['Refer-To: <sip:carol@127.0.0.1>'],
    afterRefer: ['  <recv response="202"/>', '  <recv request="NOTIFY"/>', reply200, subscribe, '  <recv response="200"/>', '  <recv request="NOTIFY"/>', reply200, '  <pause milliseconds="200"/>', bye(9)].join('\n'),
  });
  const [refer] = received(r.b, /^REFER /);
  const [sub] = received(r.b, /^SUBSCRIBE /);
  assert.ok(sub, h.describe(r.b.messages));
  const referSeq = h.header(refer, 'CSeq').split(' ')[0];
  assert.equal(h.header(sub, 'Event'), `refer;id=${referSeq}`, "the Event id names the transferee's REFER");
  assert.equal(h.header(sub, 'Expires'), '60');
  assert.ok(received(r.a, /^SIP\/2\.0 200 /, /SUBSCRIBE/)[0], `the transferor got 200 for its SUBSCRIBE\n${h.describe(r.a.messages)}`);
});

for (const [name, headers, code, text] of [
  ['no Refer-To', [], 400, /^REFER without Refer-To$/],
  ['a tel: Refer-To', ['Refer-To: <tel:+15551234>'], 403, /scheme tel/],
  ['a Refer-To with method=BYE', ['Refer-To: <sip:carol@127.0.0.1;method=BYE>'], 403, /method BYE/],
  ['an unroutable Refer-To', ['Refer-To: <sip:nobody@127.0.0.1>'], 404, /not routable: no route from realm out for nobody/],
  ['a Replaces naming no dialog', ['Refer-To: <sip:carol@127.0.0.1?Replaces=nope%40x%3Bto-tag%3D1%3Bfrom-tag%3D2>'], 404, /Replaces names no dialog/],
  ['garbage', ['Refer-To: <sip:>'], 400, /not a SIP URI/],
]) {
  test(`pass-through: REFER with ${name} -> ${code} with Reason; the transferee sees nothing; the call survives`, async (t) => {
    const r = await referCall(t, {
      callee: ['uas-answer', { SDP: ANSWER, RTP: '' }],
      referHeaders: () => headers,
      afterRefer: after.refused(code),
    });
    const reason = h.reasonOf(received(r.a, new RegExp(`^SIP/2\\.0 ${code} `))[0], `${code} to the REFER`);
    assert.equal(reason.cause, code);
    assert.match(reason.text, text);
    assert.equal(received(r.b, /^REFER /).length, 0);
    assert.ok(received(r.b, /^BYE /)[0], "the transferor's later BYE still reached the callee: the call survived");
  });
}

test('refer: reject on the realm -> 403 with Reason', async (t) => {
  const r = await referCall(t, {
    inRefer: 'reject',
    callee: ['uas-answer', { SDP: ANSWER, RTP: '' }],
    referHeaders: () => ['Refer-To: <sip:carol@127.0.0.1>'],
    afterRefer: after.refused(403),
  });
  const reason = h.reasonOf(received(r.a, /^SIP\/2\.0 403 /)[0]);
  assert.match(reason.text, /not allowed from realm in/);
});

test('pass-through: the transferee refuses the REFER (603): the transferor gets 603 with a Reason, the call survives', async (t) => {
  const r = await referCall(t, {
    callee: ['transfer-uas-refuse', { SDP: ANSWER, CODE: 603, PHRASE: 'Decline' }],
    referHeaders: () => ['Refer-To: <sip:carol@127.0.0.1>'],
    afterRefer: after.refused(603),
  });
  const reason = h.reasonOf(received(r.a, /^SIP\/2\.0 603 /)[0]);
  assert.match(reason.text, /transferee refused the REFER: 603/);
});

test('terminate: 202, NOTIFY 100 (active), INVITE to the target from the SBC, NOTIFY 200 (terminated), BYE to the transferor; transferee bridged to the target', async (t) => {
  const r = await referCall(t, {
    mode: 'terminate',
    // The transferee hangs up after 3 s: by then it talks to the target.
    callee: ['uas-answer-bye', { SDP: ANSWER, TALK_MS: 3000 }],
    targets: { dave: ['uas-answer', { SDP: ANSWER, RTP: '' }] },
    referHeaders: (sbc) => [`Refer-To: sip:dave@127.0.0.1:${sbc.port('in')}`, 'Referred-By: <sip:alice@127.0.0.1>'],
    afterRefer: after.acceptedThenBye,
  });
  assert.ok(received(r.a, /^SIP\/2\.0 202 /, /REFER/)[0]);
  const notifies = received(r.a, /^NOTIFY /);
  assert.deepEqual(notifies.map(sipfrag), ['SIP/2.0 100 Trying', 'SIP/2.0 200 OK']);
  assert.deepEqual(notifies.map((m) => h.header(m, 'Subscription-State')), ['active;expires=60', 'terminated;reason=noresource']);
  assert.deepEqual(notifies.map((m) => h.header(m, 'Event')), ['refer;id=7', 'refer;id=7']);
  const byeToTransferor = received(r.a, /^BYE /)[0];
  assert.match(h.reasonOf(byeToTransferor).text, /call transferred/);
  assert.equal(received(r.b, /^REFER /).length, 0, 'the transferee never saw the REFER');
  assert.equal(received(r.b, /^INVITE /).length, 1, 'and needed no re-INVITE');
  const invite = received(r.targets.dave, /^INVITE /)[0];
  assert.ok(invite, 'the target got the INVITE from the SBC');
  assert.match(invite.firstLine, /^INVITE sip:dave@127\.0\.0\.1:\d+ /);
  assert.match(h.header(invite, 'Referred-By'), /^<sip:alice@127\.0\.0\.1:\d+>$/, 'Referred-By relayed with the host mapped to the SBC');
  // The SBC offered the target the port of the transferor's old leg, with the transferee's codecs.
  assert.match(h.bodyLines(invite).join('\n'), /m=audio 405\d\d RTP\/AVP 0 101/);
  // The transferee's BYE reached the target: they were bridged.
  assert.ok(received(r.targets.dave, /^BYE /)[0], 'the target got the BYE of the transferee');
});

test('terminate: the target rejects (486): NOTIFY with the failure, the original call survives', async (t) => {
  const r = await referCall(t, {
    mode: 'terminate',
    callee: ['uas-answer', { SDP: ANSWER, RTP: '' }],
    targets: { dave: ['uas-reject', { CODE: 486, PHRASE: 'Busy Here' }] },
    referHeaders: () => ['Refer-To: <sip:dave@127.0.0.1>'],
    afterRefer: ['  <recv response="202"/>', '  <recv request="NOTIFY"/>', reply200, '  <recv request="NOTIFY"/>', reply200, '  <pause milliseconds="300"/>', bye(8)].join('\n'),
  });
  const notifies = received(r.a, /^NOTIFY /);
  assert.deepEqual(notifies.map(sipfrag), ['SIP/2.0 100 Trying', 'SIP/2.0 486 Busy Here']);
  assert.deepEqual(notifies.map((m) => h.header(m, 'Subscription-State')), ['active;expires=60', 'terminated;reason=noresource']);
  assert.ok(received(r.targets.dave, /^INVITE /)[0], 'the target was tried');
  assert.ok(received(r.b, /^BYE /)[0], "the transferor's BYE reached the transferee: the original call survived");
});

test('terminate: unroutable Refer-To -> 404 before anything happens', async (t) => {
  const r = await referCall(t, {
    mode: 'terminate',
    callee: ['uas-answer', { SDP: ANSWER, RTP: '' }],
    referHeaders: () => ['Refer-To: <sip:nobody@127.0.0.1>'],
    afterRefer: after.refused(404),
  });
  assert.match(h.reasonOf(received(r.a, /^SIP\/2\.0 404 /)[0]).text, /not routable/);
});

test('config: realm refer defaults to pass-through; a bad value names its key', () => {
  const { validateConfig } = require('../../dist');
  const realm = (extra) => ({ name: 'r', sip: { listen: [{ address: '127.0.0.1', port: 5060 }] }, ...extra });
  assert.equal(validateConfig({ realms: [realm({})] }).realms[0].refer, 'pass-through');
  assert.equal(validateConfig({ realms: [realm({ refer: 'terminate' })] }).realms[0].refer, 'terminate');
  assert.throws(() => validateConfig({ realms: [realm({ refer: 'bounce' })] }), /realms\.0\.refer/);
});
