'use strict';
// DTLS-SRTP handshakes per CPU-second in this engine: N pairs of pipelines
// handshake with each other (ECDSA P-256, cookie exchange on), one pipeline
// of each pair as DTLS server (passive), the other as client (active). Both
// ends run in the engine's worker, so each completed end is one handshake,
// and the CPU is that of the worker threads only.
const path = require('node:path');
const { MediaEngine } = require(path.resolve(__dirname, '../../dist'));
const { threadCpuNs } = require('./cpu');

async function handshakeRun(n, { portMin = 50000, portMax = 59999 } = {}) {
  const engine = new MediaEngine({ bindAddress: '127.0.0.1', portMin, portMax, workers: 1, mediaTimeoutSecs: 0 });
  const fp = engine.currentFingerprint('sha-256');
  let connected = 0;
  let failed = 0;
  engine.on('event', (e) => {
    if (e.type === 'dtls-connected') connected++;
    if (e.type === 'dtls-failed') failed++;
  });
  const cpu0 = threadCpuNs('esbc-media-');
  const t0 = Date.now();
  const made = [];
  for (let i = 0; i < n; i++) {
    const server = engine.createPipeline({
      a: { kind: 'dtls-srtp', role: 'passive', remoteFingerprints: [fp], rtcpMux: true },
      b: { kind: 'rtp' },
    });
    const client = engine.createPipeline({
      a: { kind: 'rtp' },
      b: { kind: 'dtls-srtp', role: 'active', remoteFingerprints: [fp], rtcpMux: true, remoteAddress: '127.0.0.1', remotePort: server.local.a.rtpPort },
    });
    made.push(server, client);
  }
  while (connected + failed < 2 * n && Date.now() - t0 < 60000) await new Promise((r) => setTimeout(r, 20));
  const cpuNs = threadCpuNs('esbc-media-') - cpu0;
  for (const p of made) p.close();
  engine.shutdown();
  return {
    associations: n,
    completedEnds: connected,
    failedEnds: failed,
    handshakesPerCpuSecond: Math.round(connected / (cpuNs / 1e9)),
    wallSeconds: (Date.now() - t0) / 1000,
  };
}

module.exports = { handshakeRun };
