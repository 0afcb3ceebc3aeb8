'use strict';
// Issue 10 end to end: a real headless Chromium running JsSIP (npm, bundled)
// calls through the SBC over SIP/WebSocket (RFC 7118) to a plain-RTP
// baresip. Realm `webrtc` listens on ws and answers Chromium's offer
// (UDP/TLS/RTP/SAVPF, ICE, BUNDLE, rtcp-mux, opus/PCMU) as an ICE-lite
// DTLS-SRTP agent; realm `plain` sends RTP/AVP to baresip. Chromium's fake
// microphone plays 440 Hz, baresip 880 Hz: baresip's recording must hold
// 440 Hz, Chromium must receive and decode audio, ICE and DTLS must
// complete on both ends, and the browser's BYE (over the WebSocket) must
// release everything in the SBC. Once over ws, once over wss (self-signed
// certificate; Chromium started with --ignore-certificate-errors). No network
// namespace is needed: Chromium runs ICE over 127.0.0.1 with
// --allow-loopback-in-peer-connection.
const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { selfSignedCert } = require('../helpers/certs');
const chromium = require('../helpers/chromium');
const { writeToneWav } = require('../helpers/wav');
const { toneReport } = require('../helpers/goertzel');
const { startBaresip } = require('../helpers/baresip');
const { startTestSbc } = require('../helpers/sbc');
const { assertReleased } = require('../helpers/b2bua');
const { waitUntil } = require('../helpers/udp');

// Media ports: 57200-57299 for the ws call, 57300-57399 for the wss call.

/** Polls the page's getStats until `pred(stats)` holds. */
async function waitStats(page, pred, timeoutMs, what) {
  const until = Date.now() + timeoutMs;
  let s;
  while (Date.now() < until) {
    s = await page.evaluate(() => window.softphone.stats());
    if (s && pred(s)) return s;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}: ${JSON.stringify(s && { ...s, localSdp: undefined, remoteSdp: undefined })}`);
}

const count = (stats, dir, transport, method, status = '') =>
  stats.messages.filter((m) => m.direction === dir && m.transport === transport && m.method === method && m.status === status).reduce((a, m) => a + m.count, 0);

/** A self-signed P-256 certificate for 127.0.0.1 (IP subjectAltName) in `dir`. */
const makeCert = (dir) => {
  const { cert, key } = selfSignedCert(dir);
  return { cert, key };
};

async function browserCall(t, transport, portMin) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'esbc-webrtc-call-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const wav = path.join(dir, 'mic-440.wav');
  writeToneWav(wav, { freq: 440, seconds: 60, rate: 48000, amplitude: 0.4 });

  const callee = await startBaresip({ name: 'callee', toneHz: 880, mediaenc: null });
  t.after(() => callee.cleanup());
  const calleePort = new URL(callee.uri.replace('sip:', 'http://')).port;
  const sbc = await startTestSbc({
    realms: [
      { name: 'webrtc', security: 'dtls-srtp', transport },
      { name: 'plain', security: 'rtp', nextHop: `sip:127.0.0.1:${calleePort}` },
    ],
    media: { portMin, portMax: portMin + 99 },
    sip: transport === 'wss' ? { embedded: { tls: makeCert(dir) } } : {},
  });
  t.after(() => sbc.stop());
  const events = [];
  sbc.engine.on('event', (e) => events.push(e));
  const browser = await chromium.startSoftphone({ audioFile: wav, extraArgs: transport === 'wss' ? ['--ignore-certificate-errors'] : [] });
  t.after(() => browser.stop());

  const wsUrl = `${transport}://127.0.0.1:${sbc.port('webrtc')}`;
  const call = browser.page.evaluate(({ wsUrl, target }) => window.softphone.call({ wsUrl, target }), { wsUrl, target: 'sip:callee@127.0.0.1' });
  await call.catch(async (err) => {
    const st = await browser.page.evaluate(() => window.softphone.state.events).catch(() => []);
    throw new Error(`${err.message}\npage events: ${JSON.stringify(st)}\nconsole: ${browser.consoleLines.slice(-20).join('\n')}`);
  });
  await callee.waitEvent('CALL_ESTABLISHED', 10000);

  // ICE and DTLS done on Chromium's side...
  const up = await waitStats(browser.page, (s) => s.transport?.dtlsState === 'connected' && s.connectionState === 'connected', 15000, 'Chromium connected');
  assert.match(up.remoteSdp, /^a=ice-lite\r?$/m, 'the SBC answered as an ICE-lite agent');
  assert.match(up.remoteSdp, /^m=audio \d+ UDP\/TLS\/RTP\/SAVPF /m);
  assert.ok(up.transport.srtpCipher, `SRTP cipher negotiated: ${JSON.stringify(up.transport)}`);
  // ... and on the SBC's.
  const [sbcCall] = [...sbc.app.calls.values()];
  assert.ok(sbcCall, 'the SBC holds the call');
  await waitUntil(() => events.some((e) => e.type === 'dtls-connected'), 10000, 'DTLS connected in the SBC');

  // Audio both ways: baresip hears Chromium; Chromium receives baresip.
  await callee.waitHeard(3, 15000);
  const inbound = await waitStats(browser.page, (s) => s.inbound?.packetsReceived > 50 && s.inbound?.totalAudioEnergy > 0, 15000, 'Chromium receiving audio');
  assert.ok(inbound.inbound.packetsReceived > 50, JSON.stringify(inbound.inbound));
  assert.ok(inbound.inbound.totalAudioEnergy > 0, JSON.stringify(inbound.inbound));
  const ps = sbcCall.pipeline.stats();
  assert.equal(ps.a.handshakes, 1, 'one DTLS handshake with Chromium');
  assert.equal(ps.a.dtlsState, 'connected');
  assert.equal(ps.a.drops.auth_fail, 0);
  assert.equal(ps.b.profile, undefined, 'the baresip leg is plain RTP');
  const offer = callee.sipMessages(/^INVITE /).find((m) => !m.sent);
  assert.match(offer.text, /m=audio \d+ RTP\/AVP /, 'baresip got a plain RTP/AVP offer');
  assert.doesNotMatch(offer.text, /a=(fingerprint|setup|crypto|ice-|candidate|mid)/);

  // The browser hangs up: BYE over the WebSocket, the SBC releases both legs.
  await browser.page.evaluate(() => window.softphone.hangup());
  await callee.waitEvent('CALL_CLOSED', 10000);
  await assertReleased(sbc);
  const sip = await sbc.sipEngine.stats();
  assert.equal(count(sip, 'in', transport, 'INVITE'), 1, `INVITE arrived over ${transport}`);
  assert.equal(count(sip, 'out', transport, 'INVITE', '200'), 1, `200 went back over ${transport}`);
  assert.equal(count(sip, 'in', transport, 'BYE'), 1, `BYE from the browser over ${transport}`);
  assert.equal(count(sip, 'out', transport, 'BYE', '200'), 1);
  assert.equal(sip.active.dialogs, 0);

  await callee.stop();
  const heard = toneReport(callee.heardFiles()[0], 440, [880]);
  assert.ok(heard.ok, `baresip hears Chromium's 440 Hz: ${heard.reason}`);
}

// Chromium is a required test peer (apt-get install chromium); opt out explicitly only.
const skip = process.env.ESBC_SKIP_BROWSER ? 'ESBC_SKIP_BROWSER set' : false;
test('Chromium (JsSIP over ws, DTLS-SRTP, ICE) -> SBC -> plain RTP baresip: call, audio both ways, BYE from the browser', { skip }, (t) => browserCall(t, 'ws', 57200));
test('Chromium (JsSIP over wss, self-signed certificate) -> SBC -> plain RTP baresip: the same call', { skip }, (t) => browserCall(t, 'wss', 57300));
