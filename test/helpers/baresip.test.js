'use strict';
// Proves the harness against itself: two real baresips on loopback, each
// sending its own tone, each recording what it heard. If media did not flow
// (or did not decrypt), the tone checks fail.
const test = require('node:test');
const assert = require('node:assert');
const { startBaresip } = require('./baresip');
const { toneReport } = require('./goertzel');

const A_HZ = 440;
const B_HZ = 880;

async function pair(t, mediaenc) {
  const a = await startBaresip({ name: 'alice', toneHz: A_HZ, mediaenc });
  t.after(() => a.cleanup());
  const b = await startBaresip({ name: 'bob', toneHz: B_HZ, mediaenc });
  t.after(() => b.cleanup());
  return { a, b };
}

/** Each side heard the other's tone, and its own tone does not dominate. */
function assertHeard(peer, file, expectHz, ownHz) {
  const yes = toneReport(file, expectHz, [ownHz]);
  assert.ok(yes.ok, `${peer.name}: ${yes.reason}`);
  const no = toneReport(file, ownHz, [expectHz]);
  assert.ok(!no.ok, `${peer.name} must not hear its own tone: ${no.reason}`);
}

async function establish(a, b, mediaenc) {
  const t0 = Date.now();
  await a.dial(b.uri);
  await Promise.all([a.waitEvent('CALL_ESTABLISHED'), b.waitEvent('CALL_ESTABLISHED')]);
  // With DTLS-SRTP the call is "established" before the handshake: wait for it.
  if (mediaenc === 'dtls_srtp') await Promise.all([a.waitEvent('CALL_MENC'), b.waitEvent('CALL_MENC')]);
  await Promise.all([a.waitHeard(0.2), b.waitHeard(0.2)]);
  return Date.now() - t0;
}

async function hangup(a, b) {
  await a.hangup();
  await Promise.all([a.waitEvent('CALL_CLOSED'), b.waitEvent('CALL_CLOSED')]);
  await Promise.all([a.stop(), b.stop()]); // quit finalises the WAV headers
}

for (const mediaenc of [null, 'dtls_srtp']) {
  test(`baresip A(440) -> B(880), ${mediaenc || 'plain RTP'}: each hears the other`, async (t) => {
    const { a, b } = await pair(t, mediaenc);
    const ms = await establish(a, b, mediaenc);
    t.diagnostic(`dial -> first audio both ways: ${ms} ms`);
    await Promise.all([a.waitHeard(2), b.waitHeard(2)]);
    // The offer B received is what this mode should put on the wire.
    const offer = b.sipMessages(/^INVITE /).find((m) => m.sent === false);
    assert.ok(offer, 'B saw the INVITE');
    if (mediaenc) {
      assert.match(offer.text, /m=audio \d+ UDP\/TLS\/RTP\/SAVPF 0 8 101/);
      assert.match(offer.text, /a=setup:actpass/);
      assert.match(offer.text, /a=fingerprint:SHA-256 [0-9A-F:]{95}/);
      const answer = a.sipMessages(/^SIP\/2\.0 200 [\s\S]*CSeq: \d+ INVITE/).find((m) => m.sent === false);
      assert.match(answer.text, /a=setup:active/);
    } else {
      assert.match(offer.text, /m=audio \d+ RTP\/AVP 0 8 101/);
      assert.doesNotMatch(offer.text, /fingerprint/);
    }
    const st = await a.ctrl('callstat'); // raw ctrl_tcp command
    assert.ok(st.ok);
    assert.match(st.data, /ESTABLISHED/);
    await hangup(a, b);
    assert.strictEqual(a.heardFiles().length, 1);
    assertHeard(a, a.heardFiles()[0], B_HZ, A_HZ);
    assertHeard(b, b.heardFiles()[0], A_HZ, B_HZ);
  });
}

test('baresip hold/resume over dtls_srtp: audio before and after, none on hold', async (t) => {
  const { a, b } = await pair(t, 'dtls_srtp');
  await establish(a, b, 'dtls_srtp');
  await Promise.all([a.waitHeard(1.5), b.waitHeard(1.5)]);

  await a.hold();
  await b.waitEvent((e) => e.type === 'CALL_REMOTE_SDP' && e.param === 'offer'); // the re-INVITE
  await a.waitEvent((e) => e.type === 'CALL_REMOTE_SDP' && e.param === 'answer');
  await new Promise((r) => setTimeout(r, 200)); // packets in flight
  const atHold = [a.heardSeconds(), b.heardSeconds()];
  await new Promise((r) => setTimeout(r, 1500));
  const afterHold = [a.heardSeconds(), b.heardSeconds()];
  const holdInvite = b.sipMessages(/^INVITE [\s\S]*a=sendonly/).find((m) => m.sent === false);
  assert.ok(holdInvite, 'hold re-INVITE with a=sendonly');
  assert.match(holdInvite.text, /a=setup:actpass/, 'same role offer on re-INVITE');
  const holdAnswer = a.sipMessages(/^SIP\/2\.0 200 [\s\S]*a=recvonly/).find((m) => m.sent === false);
  assert.ok(holdAnswer, 'hold answered with a=recvonly');

  await a.resume();
  await b.waitEvent((e) => e.type === 'CALL_REMOTE_SDP' && e.param === 'offer');
  await Promise.all([a.waitHeard(1.5), b.waitHeard(1.5)]);
  await hangup(a, b);

  [a, b].forEach((peer, i) => {
    const [expectHz, ownHz] = peer === a ? [B_HZ, A_HZ] : [A_HZ, B_HZ];
    // holdSafeRecording: one "heard" file before hold, a new one from hold on.
    const files = peer.heardFiles();
    assert.strictEqual(files.length, 2, `${peer.name} heard files: ${files.join(', ')}`);
    files.forEach((f) => assertHeard(peer, f, expectHz, ownHz));
    // Recordings only grow when packets arrive: 1.5 s on hold adds ~nothing.
    const onHold = afterHold[i] - atHold[i];
    assert.ok(onHold < 0.3, `${peer.name} heard ${onHold.toFixed(2)} s while on hold`);
  });
});
