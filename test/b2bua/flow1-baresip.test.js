'use strict';
// Seed flow 1 end to end with real baresip endpoints: DTLS-SRTP caller <->
// SBC <-> plain RTP callee (and the mirror, and SDES). Each side's recording
// must contain the other side's tone.
const test = require('node:test');
const assert = require('node:assert');
const { startCallerAndCallee } = require('../helpers/baresip');
const { toneReport } = require('../helpers/goertzel');
const { startTestSbc } = require('../helpers/sbc');
const { waitUntil } = require('../helpers/udp');

async function bridgeCall(t, { callerEnc, calleeEnc, callerRealm, calleeRealm }) {
  const { caller, callee, calleePort } = await startCallerAndCallee(t, { name: 'caller', toneHz: 440, mediaenc: callerEnc }, { name: 'callee', toneHz: 880, mediaenc: calleeEnc });
  const sbc = await startTestSbc({
    realms: [
      { name: 'in', ...callerRealm },
      { name: 'out', ...calleeRealm, nextHop: `sip:127.0.0.1:${calleePort}` },
    ],
  });
  t.after(() => sbc.stop());
  const events = [];
  sbc.engine.on('event', (e) => events.push(e));
  await caller.dial(sbc.uri('callee', 'in'));
  await caller.waitEvent('CALL_ESTABLISHED', 10000);
  if (callerEnc) await caller.waitEvent('CALL_MENC', 10000);
  if (calleeEnc) await callee.waitEvent('CALL_MENC', 10000);
  await caller.waitHeard(2.5);
  await callee.waitHeard(2.5);
  const [call] = [...sbc.app.calls.values()];
  assert.ok(call, 'the SBC holds the call');
  const stats = call.pipeline.stats();
  await caller.hangup();
  await callee.waitEvent('CALL_CLOSED', 5000);
  await waitUntil(() => sbc.app.calls.size === 0, 3000, 'call released in the SBC');
  await caller.stop();
  await callee.stop();
  const heardByCaller = toneReport(caller.heardFiles()[0], 880, [440]);
  const heardByCallee = toneReport(callee.heardFiles()[0], 440, [880]);
  assert.ok(heardByCaller.ok, `caller hears the callee's 880 Hz: ${heardByCaller.reason}`);
  assert.ok(heardByCallee.ok, `callee hears the caller's 440 Hz: ${heardByCallee.reason}`);
  assert.equal(sbc.engine.counters().portPairsInUse, 0, 'ports freed');
  return { stats, events, caller, callee };
}

test('DTLS-SRTP caller (baresip) -> SBC -> plain RTP callee (baresip): both tones through', async (t) => {
  const { stats, events, caller, callee } = await bridgeCall(t, {
    callerEnc: 'dtls_srtp',
    calleeEnc: null,
    callerRealm: { security: 'dtls-srtp' },
    calleeRealm: { security: 'rtp' },
  });
  assert.equal(stats.a.dtlsState, 'connected');
  assert.equal(stats.a.handshakes, 1);
  assert.ok(stats.a.profile, 'an SRTP profile was negotiated');
  assert.equal(stats.b.profile, undefined, 'the callee leg is plain RTP');
  assert.equal(stats.a.drops.auth_fail, 0);
  const connected = events.find((e) => e.type === 'dtls-connected');
  assert.equal(connected.side, 'a');
  // The SDP each side saw.
  const answer = caller.sipMessages(/^SIP\/2.0 200/).find((m) => !m.sent && /m=audio/.test(m.text));
  assert.match(answer.text, /m=audio \d+ UDP\/TLS\/RTP\/SAVPF 0/);
  assert.match(answer.text, /a=setup:passive/);
  assert.match(answer.text, /a=fingerprint:sha-256 ([0-9A-F]{2}:){31}[0-9A-F]{2}/);
  assert.match(answer.text, /a=rtcp-mux/);
  const offer = callee.sipMessages(/^INVITE /).find((m) => !m.sent);
  assert.match(offer.text, /m=audio \d+ RTP\/AVP 0/);
  assert.doesNotMatch(offer.text, /a=(fingerprint|setup|crypto)/);
});

test('plain RTP caller -> SBC -> DTLS-SRTP callee: the SBC offers actpass and takes the role the answer picks', async (t) => {
  const { stats, callee } = await bridgeCall(t, {
    callerEnc: null,
    calleeEnc: 'dtls_srtp',
    callerRealm: { security: 'rtp' },
    calleeRealm: { security: 'dtls-srtp' },
  });
  assert.equal(stats.b.dtlsState, 'connected');
  assert.equal(stats.b.handshakes, 1);
  const offer = callee.sipMessages(/^INVITE /).find((m) => !m.sent);
  assert.match(offer.text, /m=audio \d+ UDP\/TLS\/RTP\/SAVP 0/);
  assert.match(offer.text, /a=setup:actpass/);
  assert.match(offer.text, /a=fingerprint:sha-256 /);
});

test('SDES-SRTP caller -> SBC -> plain RTP callee', async (t) => {
  const { stats } = await bridgeCall(t, {
    callerEnc: 'srtp-mand',
    calleeEnc: null,
    callerRealm: { security: 'sdes-srtp' },
    calleeRealm: { security: 'rtp' },
  });
  assert.ok(stats.a.profile);
  assert.equal(stats.a.drops.auth_fail, 0);
});
