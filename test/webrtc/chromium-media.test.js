'use strict';
// A real headless Chromium against the media engine, without SIP: Chromium's
// own offer (UDP/TLS/RTP/SAVPF, ICE, BUNDLE, rtcp-mux, opus/PCMU) goes
// through the SDP layer exactly as the B2BUA uses it; Chromium applies the
// SBC's ICE-lite answer, runs ICE checks against the pipeline, completes DTLS
// (the SBC passive, Chromium's certificate checked against its fingerprint)
// and sends its fake microphone (a 440 Hz WAV) as SRTP. The RTP side is a UDP
// socket here: it must receive PCMU carrying 440 Hz, and its own 880 Hz tone
// must reach Chromium (inbound packets and audio level in getStats).
const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { MediaEngine, parseSdp, planAnswer, planOffer, resolveSecurity, legSpecFor, legUpdateFor, applyAnswer, buildOffer, buildAnswer, createOrigin } = require('../../dist');
const chromium = require('../helpers/chromium');
const { writeToneWav, linearToUlaw } = require('../helpers/wav');
const { analyze } = require('../helpers/goertzel');
const { rtpPacket } = require('../helpers/srtp');
const { udpSocket, waitUntil } = require('../helpers/udp');

const PORTS = { portMin: 57100, portMax: 57199 };

/** G.711 mu-law to 16-bit linear (ITU-T G.711). */
function ulawToLinear(u) {
  u = ~u & 0xff;
  const t = (((u & 0x0f) << 3) + 0x84) << ((u & 0x70) >> 4);
  return u & 0x80 ? 0x84 - t : t - 0x84;
}

test('Chromium <-> ICE-lite + DTLS-SRTP pipeline <-> plain RTP: both tones cross', { skip: process.env.ESBC_SKIP_BROWSER ? 'ESBC_SKIP_BROWSER set' : false }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'esbc-webrtc-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const wav = path.join(dir, 'mic-440.wav');
  writeToneWav(wav, { freq: 440, seconds: 30, rate: 48000, amplitude: 0.4 });
  const browser = await chromium.startSoftphone({ audioFile: wav });
  t.after(() => browser.stop());
  const engine = new MediaEngine({ ...PORTS, workers: 1, mediaTimeoutSecs: 0 });
  t.after(() => engine.shutdown());
  const rtpPeer = await udpSocket();
  t.after(() => rtpPeer.close());

  const offerSdp = await browser.page.evaluate(async () => {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    const pc = new RTCPeerConnection({ iceServers: [] });
    window.pc = pc;
    // Play what arrives: Chromium computes inbound audio levels on playout.
    pc.addEventListener('track', (e) => {
      const el = new Audio();
      el.srcObject = new MediaStream([e.track]);
      el.play().catch(() => undefined);
      window.remoteAudio = el;
    });
    stream.getTracks().forEach((tr) => pc.addTrack(tr, stream));
    await pc.setLocalDescription(await pc.createOffer());
    await new Promise((r) => {
      if (pc.iceGatheringState === 'complete') return r();
      pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && r());
      setTimeout(r, 5000);
    });
    return pc.localDescription.sdp;
  });
  const offerA = parseSdp(offerSdp);
  const planA0 = planAnswer(offerA, 'dtls-srtp', { ice: true });
  let planB = planOffer(offerA, resolveSecurity('rtp', planA0.security), {});
  const pipeline = engine.createPipeline({ a: legSpecFor(planA0, offerA), b: legSpecFor(planB) });
  t.after(() => pipeline.close());
  const events = [];
  pipeline.on('event', (e) => events.push(e));

  // The RTP side answers the SBC's offer with PCMU only, from rtpPeer.
  const offerB = buildOffer(offerA, planB, pipeline.local.b, createOrigin());
  assert.match(offerB.sdp, /^m=audio \d+ RTP\/AVP /m, 'the RTP side gets a plain RTP/AVP offer');
  assert.doesNotMatch(offerB.sdp, /ice-|candidate|fingerprint|setup:|mid:|BUNDLE/);
  const answerB = parseSdp(['v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', `m=audio ${rtpPeer.port} RTP/AVP 0`, 'a=rtpmap:0 PCMU/8000', 'a=sendrecv', ''].join('\r\n'));
  planB = applyAnswer(answerB, planB);
  await pipeline.update('b', legUpdateFor(planB, answerB));
  const answerA = buildAnswer(offerA, answerB, planA0, pipeline.local.a, createOrigin()).sdp;
  assert.match(answerA, /^a=ice-lite$/m);
  assert.match(answerA, /^a=setup:passive$/m);
  assert.match(answerA, /^a=candidate:\S+ 1 udp \d+ 127\.0\.0\.1 \d+ typ host$/im);

  await browser.page.evaluate(async (sdp) => {
    await window.pc.setRemoteDescription({ type: 'answer', sdp });
  }, answerA);

  // Chromium: ICE connected and DTLS done with the SBC.
  await waitUntil(() => events.some((e) => e.type === 'dtls-connected'), 15000, 'DTLS connected with Chromium');
  const state = await browser.page.evaluate(async () => {
    for (let i = 0; i < 100 && window.pc.connectionState !== 'connected'; i++) await new Promise((r) => setTimeout(r, 100));
    return window.pc.connectionState;
  });
  assert.equal(state, 'connected', 'Chromium: connectionState connected (ICE + DTLS)');

  // The RTP side sends 880 Hz PCMU; it hears Chromium's 440 Hz.
  const tone = [];
  for (let i = 0; i < 8000 * 4; i++) tone.push(linearToUlaw(Math.round(0.4 * 32767 * Math.sin((2 * Math.PI * 880 * i) / 8000))));
  let seq = 0;
  const sender = setInterval(() => {
    const payload = Buffer.from(tone.slice((seq * 160) % tone.length, ((seq * 160) % tone.length) + 160));
    rtpPeer.send(rtpPacket({ seq: seq & 0xffff, ts: seq * 160, ssrc: 0x1234, pt: 0, payload }), pipeline.local.b.rtpPort, '127.0.0.1');
    seq++;
  }, 20);
  t.after(() => clearInterval(sender));
  await waitUntil(() => rtpPeer.received.length >= 150, 15000, 'RTP from Chromium');
  clearInterval(sender);

  const rtp = rtpPeer.received.map((r) => r.msg).filter((m) => (m[1] & 0x7f) === 0);
  assert.ok(rtp.length >= 100, `PCMU packets from Chromium: ${rtp.length}`);
  const samples = Int16Array.from(rtp.slice(-100).flatMap((m) => [...m.subarray(12)].map(ulawToLinear)));
  const a = analyze(samples, 8000, [440, 880]);
  assert.ok(a.powers[440] > 10 * a.powers[880], `Chromium's 440 Hz reached the RTP side (440: ${a.powers[440]}, 880: ${a.powers[880]})`);

  const inbound = await browser.page.evaluate(async () => {
    let out = null;
    (await window.pc.getStats()).forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'audio') out = { packetsReceived: s.packetsReceived, audioLevel: s.audioLevel, totalAudioEnergy: s.totalAudioEnergy };
    });
    return out;
  });
  assert.ok(inbound && inbound.packetsReceived > 50, `Chromium received SRTP from the SBC: ${JSON.stringify(inbound)}`);
  assert.ok(inbound.totalAudioEnergy > 0, `and it decoded audio, not silence: ${JSON.stringify(inbound)}`);
  const st = pipeline.stats();
  assert.equal(st.a.handshakes, 1);
  assert.equal(st.a.drops.auth_fail, 0);
});
