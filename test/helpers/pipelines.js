'use strict';
// Pipelines with real UDP peers for the engine-level tests: one place that
// knows how a test call is wired, so each test file says only what it probes.
const crypto = require('node:crypto');
const { udpSocket } = require('./udp');

const b64 = (b) => b.toString('base64');

/**
 * Leg a plain RTP toward `rtpPeer`, leg b SDES-SRTP (rtcp-mux) toward
 * `srtpPeer`: the engine protects toward the SRTP peer with k1, the peer
 * protects toward the engine with k2. The peers close when the test ends.
 */
async function sdesCall(engine, t, suite = 'AES_CM_128_HMAC_SHA1_80') {
  const rtpPeer = await udpSocket();
  const srtpPeer = await udpSocket();
  t.after(() => (rtpPeer.close(), srtpPeer.close()));
  const k1 = crypto.randomBytes(30);
  const k2 = crypto.randomBytes(30);
  const p = engine.createPipeline({
    a: { kind: 'rtp', remoteAddress: '127.0.0.1', remotePort: rtpPeer.port },
    b: {
      kind: 'sdes-srtp',
      localKey: { suite, key: b64(k1) },
      remoteKey: { suite, key: b64(k2) },
      remoteAddress: '127.0.0.1',
      remotePort: srtpPeer.port,
      rtcpMux: true,
    },
  });
  return { p, rtpPeer, srtpPeer, k1, k2 };
}

/** Both legs plain RTP (a with rtcp-mux) toward peers x and y, closed when the test ends. */
async function rtpCall(engine, t) {
  const x = await udpSocket();
  const y = await udpSocket();
  t.after(() => (x.close(), y.close()));
  const p = engine.createPipeline({
    a: { kind: 'rtp', remoteAddress: '127.0.0.1', remotePort: x.port, rtcpMux: true },
    b: { kind: 'rtp', remoteAddress: '127.0.0.1', remotePort: y.port },
  });
  return { p, x, y };
}

module.exports = { sdesCall, rtpCall, b64 };
