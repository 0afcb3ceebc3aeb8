'use strict';
// Seed flow 3 (issue 6) with real baresips: A (DTLS-SRTP, realm 'secure')
// calls B (plain RTP, realm 'plain') through the SBC; one of them blind-transfers
// the other to C. In both `refer` modes the transferee and C end up talking
// (tones checked in both recordings), the new call has its own pipeline with a
// fresh DTLS handshake, the old pipeline is gone and the transferor is released.
const test = require('node:test');
const assert = require('node:assert');
const { startBaresip } = require('../helpers/baresip');
const { toneReport } = require('../helpers/goertzel');
const { startTestSbc } = require('../helpers/sbc');
const { waitUntil } = require('../helpers/udp');

const last = (files) => files[files.length - 1];
const portOf = (party) => new URL(party.uri.replace('sip:', 'http://')).port;
const TONES = { a: 440, b: 880, c: 1320 };

/**
 * mode: the transferor realm's `refer`; transferor: 'a' | 'b'; cEnc: C's mediaenc
 * (C is in realm 'carol', DTLS-SRTP when cEnc is set, else plain).
 */
async function transfer(t, { mode, transferor, cEnc, media }) {
  const a = await startBaresip({ name: 'alice', toneHz: TONES.a, mediaenc: 'dtls_srtp' });
  t.after(() => a.cleanup());
  const b = await startBaresip({ name: 'bob', toneHz: TONES.b, mediaenc: null });
  t.after(() => b.cleanup());
  const c = await startBaresip({ name: 'carol', toneHz: TONES.c, mediaenc: cEnc });
  t.after(() => c.cleanup());
  const carolUri = `sip:carol@127.0.0.1:${portOf(c)}`;
  const realmOf = { a: 'secure', b: 'plain' };
  const sbc = await startTestSbc({
    realms: [
      { name: 'secure', security: 'dtls-srtp', ...(transferor === 'a' ? { refer: mode } : {}) },
      { name: 'plain', security: 'rtp', ...(transferor === 'b' ? { refer: mode } : {}) },
      { name: 'carol', security: cEnc ? 'dtls-srtp' : 'rtp' },
    ],
    routes: [
      { from: 'secure', user: '^carol$', to: 'carol', uri: carolUri },
      { from: 'plain', user: '^carol$', to: 'carol', uri: carolUri },
      { from: 'secure', to: 'plain', uri: `sip:bob@127.0.0.1:${portOf(b)}` },
    ],
    media,
  });
  t.after(() => sbc.stop());
  const events = [];
  sbc.engine.on('event', (e) => events.push(e));
  // A rare CI failure (C never called after a pass-through transfer) left no
  // trace: on failure, attach every party's log tail and the SBC's calls.
  const tail = (text) => String(text || '').split('\n').slice(-40).join('\n');
  try {
    return await runTransfer();
  } catch (err) {
    err.message += `\n--- SBC calls: ${JSON.stringify([...sbc.app.calls.values()].map((k) => ({ id: k.callId, ended: k.isEnded, realms: [k.realm('a').name, k.realm('b').name] })))}`;
    for (const [n, p] of Object.entries({ A: a, B: b, C: c })) err.message += `\n--- ${n} baresip log ---\n${tail(p.log)}`;
    throw err;
  }

  async function runTransfer() {
    await a.dial(sbc.uri('bob', 'secure'));
    await a.waitEvent('CALL_MENC', 10000);
    await a.waitHeard(1.5); // >1 s: heard files are named per second
    await b.waitHeard(1.5);
    assert.equal(sbc.app.calls.size, 1);
    const [oldCall] = [...sbc.app.calls.values()];
    const oldPipeline = oldCall.pipeline;
    assert.equal(oldPipeline.stats().a.handshakes, 1);

    const parties = { a, b };
    const tor = parties[transferor];
    const teeSide = transferor === 'a' ? 'b' : 'a';
    const tee = parties[teeSide];
    const teeHeard0 = tee.heardFiles().length;
    const teeSec0 = tee.heardSeconds();
    await tor.transfer(`sip:carol@127.0.0.1:${sbc.port(realmOf[transferor])}`);
    await tor.waitEvent('CALL_CLOSED', 15000);
    await c.waitEvent('CALL_ESTABLISHED', 10000);
    if (cEnc) await c.waitEvent('CALL_MENC', 10000);
    // pass-through: the transferee's new call starts a new recording; terminate: the same one goes on.
    if (mode === 'pass-through') await waitUntil(() => tee.heardFiles().length > teeHeard0, 10000, 'the transferee started a new recording');
    const cHeard0 = c.heardSeconds();
    await waitUntil(() => c.heardSeconds() - cHeard0 > 2, 10000, 'C hears the transferee');
    await tee.waitHeard(2);

    let newCall;
    let stats;
    if (mode === 'pass-through') {
      // The transferee's INVITE is a new call with its own pipeline; the old one is closed.
      await waitUntil(() => sbc.app.calls.size === 1 && [...sbc.app.calls.values()][0] !== oldCall, 5000, 'only the new call left');
      [newCall] = [...sbc.app.calls.values()];
      assert.ok(oldCall.isEnded, 'the old call ended');
      assert.ok(oldPipeline.isClosed, 'the old pipeline (and its keys) is gone');
      assert.notEqual(newCall.pipeline.id, oldPipeline.id);
      stats = newCall.pipeline.stats();
      // New call: transferee -> C, so leg a is the transferee and leg b is C.
      if (teeSide === 'a') {
        assert.equal(stats.a.handshakes, 1, 'A did a new DTLS handshake with the new pipeline');
        assert.equal(stats.a.dtlsState, 'connected');
        assert.equal(stats.a.drops.auth_fail, 0);
        const aConnected = events.filter((e) => e.type === 'dtls-connected' && e.side === 'a');
        assert.deepEqual(aConnected.map((e) => e.pipeline), [oldPipeline.id, newCall.pipeline.id], "A's two handshakes: old call, then new call");
      }
      if (cEnc) {
        assert.equal(stats.b.handshakes, 1, "C's DTLS handshake on the new pipeline");
        assert.equal(stats.b.dtlsState, 'connected');
      }
    } else {
      // terminate: the SBC re-targets the transferor's leg of the call to C; the
      // transferee's leg (and its DTLS association) stays.
      await waitUntil(() => oldCall.dialog(transferor) && oldCall.dialog(transferor).sip.callId !== oldCall.callId, 5000, 'C took the transferor\'s place');
      assert.equal(sbc.app.calls.size, 1);
      newCall = oldCall;
      assert.ok(!oldCall.isEnded);
      stats = oldCall.pipeline.stats();
      const teeLeg = stats[teeSide];
      const cLeg = stats[transferor];
      if (teeSide === 'a') {
        assert.equal(teeLeg.handshakes, 1, "A's DTLS association is kept (baresip never re-handshakes in a call)");
        assert.equal(teeLeg.dtlsState, 'connected');
      }
      assert.equal(teeLeg.drops.auth_fail, 0);
      if (cEnc) {
        const before = transferor === 'a' ? 1 : 0; // A's handshake on that leg before the transfer
        assert.equal(cLeg.handshakes, before + 1, "a new DTLS handshake with C on the re-targeted leg");
        assert.equal(cLeg.dtlsState, 'connected');
        const connected = events.filter((e) => e.type === 'dtls-connected' && e.side === transferor);
        assert.equal(connected.length, before + 1);
        if (before) assert.notEqual(connected[1].peerFingerprint.value, connected[0].peerFingerprint.value, "the new handshake saw C's certificate");
      }
      assert.equal(oldCall.realm(transferor).name, 'carol', 'the leg now belongs to realm carol');
    }

    await tee.hangup();
    await c.waitEvent('CALL_CLOSED', 5000);
    await waitUntil(() => sbc.app.calls.size === 0, 5000, 'calls released');
    await waitUntil(() => sbc.engine.counters().portPairsInUse === 0, 5000, 'ports freed');
    await Promise.all([a.stop(), b.stop(), c.stop()]);

    // terminate: from where the transfer happened on (1 s margin for the switch-over).
    const teeHears = toneReport(last(tee.heardFiles()), TONES.c, [TONES.a, TONES.b], mode === 'terminate' ? { fromSec: teeSec0 + 1.5 } : {});
    assert.ok(teeHears.ok, `the transferee hears C's ${TONES.c} Hz after the transfer: ${teeHears.reason}`);
    const cHears = toneReport(last(c.heardFiles()), TONES[teeSide], [TONES[transferor], TONES.c]);
    assert.ok(cHears.ok, `C hears the transferee's ${TONES[teeSide]} Hz: ${cHears.reason}`);
    const before = toneReport(tee.heardFiles()[0], TONES[transferor], [TONES.c], mode === 'terminate' ? { toSec: teeSec0 - 0.5 } : {});
    assert.ok(before.ok, `before the transfer the transferee heard the transferor: ${before.reason}`);

    // The transferor's view of the REFER subscription.
    const notifies = tor.sipMessages(/^NOTIFY /).filter((m) => !m.sent);
    assert.deepEqual(notifies.map((m) => m.text.trim().split('\n').pop()), ['SIP/2.0 100 Trying', 'SIP/2.0 200 OK']);
    assert.match(notifies[0].text, /^Subscription-State: active/m);
    assert.match(notifies[1].text, /^Subscription-State: terminated/m);
    assert.ok(notifies.every((m) => /^Event: refer/m.test(m.text) && /^Content-Type: message\/sipfrag/m.test(m.text)));
    const accepted = tor.sipMessages(/^SIP\/2.0 202 /).find((m) => !m.sent);
    assert.ok(accepted, 'the transferor got 202');
    return { a, b, c, sbc, tee, tor, oldCall, newCall };
  }
}

test('pass-through: B (plain) transfers A (DTLS-SRTP) to C (plain)', async (t) => {
  const { a } = await transfer(t, { mode: 'pass-through', transferor: 'b', cEnc: null, media: { portMin: 40000, portMax: 40099 } });
  // A got the REFER with Refer-To pointing at the SBC in A's realm.
  const refer = a.sipMessages(/^REFER /).find((m) => !m.sent);
  assert.ok(refer, 'A received the REFER');
  assert.match(refer.text, /^Refer-To: <sip:carol@127\.0\.0\.1:\d+>$/m);
  assert.match(a.events.find((e) => e.type === 'TRANSFER').param, /^<?sip:carol@127\.0\.0\.1:\d+>?$/);
});

test('pass-through: B transfers A to C (DTLS-SRTP): fresh handshakes on both legs of the new call', async (t) => {
  await transfer(t, { mode: 'pass-through', transferor: 'b', cEnc: 'dtls_srtp', media: { portMin: 40100, portMax: 40199 } });
});

test('pass-through: A (DTLS-SRTP) transfers B (plain) to C (DTLS-SRTP)', async (t) => {
  const { b } = await transfer(t, { mode: 'pass-through', transferor: 'a', cEnc: 'dtls_srtp', media: { portMin: 40200, portMax: 40299 } });
  const refer = b.sipMessages(/^REFER /).find((m) => !m.sent);
  assert.match(refer.text, /^Refer-To: <sip:carol@127\.0\.0\.1:\d+>$/m);
});

test('terminate: B transfers A to C; the SBC re-targets B\'s leg to C, A keeps its DTLS association', async (t) => {
  const { a } = await transfer(t, { mode: 'terminate', transferor: 'b', cEnc: null, media: { portMin: 40300, portMax: 40399 } });
  assert.equal(a.sipMessages(/^REFER /).length, 0, 'the transferee never saw the REFER');
  assert.equal(a.sipMessages(/^INVITE /).filter((m) => !m.sent).length, 0, 'A needed no re-INVITE (its media address did not change)');
});

test('terminate: A transfers B to C (DTLS-SRTP)', async (t) => {
  const { b } = await transfer(t, { mode: 'terminate', transferor: 'a', cEnc: 'dtls_srtp', media: { portMin: 40400, portMax: 40499 } });
  assert.equal(b.sipMessages(/^REFER /).length, 0, 'the transferee never saw the REFER');
});
