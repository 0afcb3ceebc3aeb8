'use strict';
// Seed flow 2 with real baresips: DTLS-SRTP caller <-> SBC <-> plain callee.
// Hold from the DTLS side, resume, hold from the plain side, resume; after each
// resume both tones are heard again, and the whole call uses one handshake.
const test = require('node:test');
const assert = require('node:assert');
const { startCallerAndCallee } = require('../helpers/baresip');
const { toneReport } = require('../helpers/goertzel');
const { startTestSbc } = require('../helpers/sbc');
const { waitUntil } = require('../helpers/udp');

const last = (files) => files[files.length - 1];

/** The n-th INVITE `party` received, once its trace shows it. */
async function nthInvite(party, n) {
  const got = () => party.sipMessages(/^INVITE /).filter((m) => !m.sent);
  await waitUntil(() => got().length >= n, 5000, `INVITE #${n}`);
  return got()[n - 1].text;
}

/** The n-th 200 with SDP `party` received. */
async function nthAnswer(party, n) {
  const got = () => party.sipMessages(/^SIP\/2.0 200/).filter((m) => !m.sent && /m=audio/.test(m.text));
  await waitUntil(() => got().length >= n, 5000, `answer #${n}`);
  return got()[n - 1].text;
}

async function reinviteDone(party) {
  // The holder sees the answer to its re-offer.
  await party.waitEvent((e) => e.type === 'CALL_REMOTE_SDP' && e.param === 'answer', 8000);
}

test('hold and resume from each side keep the DTLS association and the audio', async (t) => {
  const { caller, callee, calleePort } = await startCallerAndCallee(t, { name: 'secure', toneHz: 440, mediaenc: 'dtls_srtp' }, { name: 'plain', toneHz: 880, mediaenc: null });
  const sbc = await startTestSbc({
    realms: [
      { name: 'secure', security: 'dtls-srtp' },
      { name: 'plain', security: 'rtp', nextHop: `sip:127.0.0.1:${calleePort}` },
    ],
    media: { portMin: 45000, portMax: 45499 },
  });
  t.after(() => sbc.stop());

  await caller.dial(sbc.uri('plain', 'secure'));
  await caller.waitEvent('CALL_MENC', 10000);
  await reinviteDone(caller); // consume the initial answer's event
  await caller.waitHeard(1.5);
  await callee.waitHeard(1.5);
  const [call] = [...sbc.app.calls.values()];
  const firstAnswer = await nthAnswer(caller, 1);
  const fingerprint = /a=fingerprint:(\S+ \S+)/.exec(firstAnswer)[1];

  // 1. Hold from the DTLS side.
  await caller.hold();
  await reinviteDone(caller);
  assert.match(await nthInvite(callee, 2), /a=sendonly/, 'the callee got the re-INVITE with sendonly');
  const holdAnswer = await nthAnswer(caller, 2);
  assert.match(holdAnswer, /a=recvonly/);
  assert.match(holdAnswer, /a=setup:passive/, 'the SBC keeps its role');
  assert.ok(holdAnswer.includes(`a=fingerprint:${fingerprint}`), 'and its fingerprint');
  assert.equal(call.pipeline.stats().b.direction, 'recvonly');
  const heardOnHold = callee.heardSeconds();
  await new Promise((r) => setTimeout(r, 1500));
  assert.ok(callee.heardSeconds() - heardOnHold < 0.3, 'nothing relayed to the held party while the holder is silent');

  // Resume: both tones again.
  await caller.resume();
  await reinviteDone(caller);
  assert.match(await nthInvite(callee, 3), /a=sendrecv/);
  const c0 = caller.heardSeconds();
  const b0 = callee.heardSeconds();
  await waitUntil(() => caller.heardSeconds() - c0 > 1.5 && callee.heardSeconds() - b0 > 1.5, 10000, 'audio after resume');

  // 2. Hold from the plain side, then resume.
  await callee.hold();
  await reinviteDone(callee);
  assert.match(await nthInvite(caller, 1), /a=sendonly/, 'the caller got the re-INVITE with sendonly');
  await callee.resume();
  await reinviteDone(callee);
  const c1 = caller.heardSeconds();
  const b1 = callee.heardSeconds();
  await waitUntil(() => caller.heardSeconds() - c1 > 1.5 && callee.heardSeconds() - b1 > 1.5, 10000, 'audio after the second resume');

  const stats = call.pipeline.stats();
  assert.equal(stats.a.handshakes, 1, 'one DTLS handshake for the whole call');
  assert.equal(stats.a.dtlsState, 'connected');
  assert.equal(stats.a.drops.auth_fail, 0);
  await caller.hangup();
  await callee.waitEvent('CALL_CLOSED', 5000);
  await caller.stop();
  await callee.stop();
  // The latest recordings (from the last media restart on) hold the other's tone.
  const byCaller = toneReport(last(caller.heardFiles()), 880, [440]);
  const byCallee = toneReport(last(callee.heardFiles()), 440, [880]);
  assert.ok(byCaller.ok, `caller hears 880 Hz after resume: ${byCaller.reason}`);
  assert.ok(byCallee.ok, `callee hears 440 Hz after resume: ${byCallee.reason}`);
});

test('local music on hold: the held party hears the music, then the caller again after resume', async (t) => {
  const os = require('node:os');
  const path = require('node:path');
  const fs = require('node:fs');
  const { writeToneWav } = require('../helpers/wav');
  const moh = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'esbc-moh-')), 'moh.wav');
  writeToneWav(moh, { freq: 660, seconds: 3 });
  const { caller, callee, calleePort } = await startCallerAndCallee(t, { name: 'holder', toneHz: 440, mediaenc: 'dtls_srtp' }, { name: 'held', toneHz: 880, mediaenc: null });
  const sbc = await startTestSbc({
    realms: [
      { name: 'secure', security: 'dtls-srtp' },
      { name: 'plain', security: 'rtp', nextHop: `sip:127.0.0.1:${calleePort}`, media: { moh: 'local' } },
    ],
    media: { portMin: 45500, portMax: 45999, mohFile: moh },
  });
  t.after(() => sbc.stop());
  await caller.dial(sbc.uri('held', 'secure'));
  await caller.waitEvent('CALL_MENC', 10000);
  await reinviteDone(caller);
  await callee.waitHeard(1.5);
  const [call] = [...sbc.app.calls.values()];

  await caller.hold();
  await reinviteDone(caller);
  const h0 = callee.heardSeconds();
  await waitUntil(() => callee.heardSeconds() - h0 > 2, 8000, 'music heard by the held party');
  const ssrc = call.pipeline.stats().b.musicSsrc;
  assert.ok(call.pipeline.stats().b.musicPackets > 80);
  await caller.resume();
  await reinviteDone(caller);
  const r0 = callee.heardSeconds();
  await waitUntil(() => callee.heardSeconds() - r0 > 2, 8000, 'caller heard after resume');
  const musicPackets = call.pipeline.stats().b.musicPackets;
  // A second hold: the music continues the same stream.
  await caller.hold();
  await reinviteDone(caller);
  await waitUntil(() => call.pipeline.stats().b.musicPackets > musicPackets + 20, 5000, 'music again');
  assert.equal(call.pipeline.stats().b.musicSsrc, ssrc, 'one SSRC for the music across holds');
  await caller.hangup();
  await callee.waitEvent('CALL_CLOSED', 5000);
  await caller.stop();
  await callee.stop();
  // The held party's recording from the first hold on: music, then the caller.
  const files = callee.heardFiles();
  const fromHold = files[1];
  const music = toneReport(fromHold, 660, [440, 880], { toSec: 1.8 });
  const resumed = toneReport(fromHold, 440, [660, 880], { fromSec: 2.6, toSec: 4.2 });
  assert.ok(music.ok, `held party hears the 660 Hz music: ${music.reason}`);
  assert.ok(resumed.ok, `then the caller's 440 Hz after resume: ${resumed.reason}`);
});
