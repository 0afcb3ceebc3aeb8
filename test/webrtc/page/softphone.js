// Browser side of the WebRTC tests: a JsSIP user agent (unmodified, from npm)
// that calls through the SBC over SIP/WebSocket with the fake microphone.
// Bundled for the browser by test/helpers/chromium.js; driven with
// window.softphone from the test through playwright-core.
import JsSIP from 'jssip';

const state = { events: [], session: null, error: null };
const log = (type, detail) => state.events.push({ type, detail, t: Date.now() });

/** Starts a UA on `wsUrl` and calls `target`; resolves once the call is confirmed. */
async function call({ wsUrl, target, from = 'sip:webrtc@127.0.0.1' }) {
  const socket = new JsSIP.WebSocketInterface(wsUrl);
  const ua = new JsSIP.UA({ sockets: [socket], uri: from, register: false, session_timers: false });
  state.ua = ua;
  await new Promise((resolve, reject) => {
    ua.on('connected', resolve);
    ua.on('disconnected', (e) => reject(new Error(`WebSocket disconnected: ${JSON.stringify(e?.error ?? e?.reason ?? '')}`)));
    ua.start();
  });
  log('ws-connected');
  return new Promise((resolve, reject) => {
    // Handlers go in through `eventHandlers`: ua.call() emits 'peerconnection'
    // synchronously, before a listener added on the returned session could see it.
    const eventHandlers = {
      peerconnection: ({ peerconnection }) => {
        peerconnection.addEventListener('iceconnectionstatechange', () => log('ice', peerconnection.iceConnectionState));
        peerconnection.addEventListener('connectionstatechange', () => log('pc', peerconnection.connectionState));
        // Play the far end: Chromium computes inbound audio levels on playout.
        peerconnection.addEventListener('track', (e) => {
          const el = new Audio();
          el.srcObject = new MediaStream([e.track]);
          el.play().catch((err) => log('play-error', String(err)));
          state.remoteAudio = el;
        });
      },
      progress: (e) => log('progress', e?.response?.status_code),
      confirmed: () => {
        log('confirmed');
        resolve(true);
      },
      failed: (e) => {
        log('failed', `${e.cause} ${e.message?.status_code ?? ''}`);
        reject(new Error(`call failed: ${e.cause} ${e.message?.status_code ?? ''} ${e.message?.reason_phrase ?? ''}`));
      },
      ended: (e) => log('ended', e.cause),
    };
    state.session = ua.call(target, {
      eventHandlers,
      mediaConstraints: { audio: true, video: false },
      pcConfig: { iceServers: [] },
      rtcOfferConstraints: { offerToReceiveAudio: true },
    });
  });
}

/** Receive-side and transport statistics of the call's RTCPeerConnection. */
async function stats() {
  const pc = state.session?.connection;
  if (!pc) return null;
  const out = { connectionState: pc.connectionState, iceConnectionState: pc.iceConnectionState, localSdp: pc.localDescription?.sdp, remoteSdp: pc.remoteDescription?.sdp };
  const report = await pc.getStats();
  report.forEach((s) => {
    if (s.type === 'inbound-rtp' && s.kind === 'audio') out.inbound = { packetsReceived: s.packetsReceived, packetsLost: s.packetsLost, audioLevel: s.audioLevel, totalAudioEnergy: s.totalAudioEnergy, codecId: s.codecId };
    if (s.type === 'outbound-rtp' && s.kind === 'audio') out.outbound = { packetsSent: s.packetsSent };
    if (s.type === 'transport') out.transport = { dtlsState: s.dtlsState, srtpCipher: s.srtpCipher, selectedCandidatePairId: s.selectedCandidatePairId };
    if (s.type === 'codec') (out.codecs ??= {})[s.id] = s.mimeType;
  });
  if (out.inbound?.codecId) out.inbound.codec = out.codecs?.[out.inbound.codecId];
  return out;
}

function hangup() {
  try {
    state.session?.terminate();
  } catch {
    /* already ended */
  }
  state.ua?.stop();
}

window.softphone = { call, stats, hangup, state };
