#!/usr/bin/env node
'use strict';
// Media benchmark (`npm run bench:media`): N concurrent calls through the
// engine, RTP on one leg and SRTP (AES_CM_128_HMAC_SHA1_80) on the other, 20 ms
// PCMU-sized packets both ways from a separate load generator process.
// Reports engine CPU time per relayed packet (worker threads only), loss,
// memory per call, and DTLS handshakes per CPU-second.
//
//   node bench/media.js [--calls 200,500] [--seconds 10] [--handshakes 200]
const { spawn, spawnSync } = require('node:child_process');
const crypto = require('node:crypto');
const path = require('node:path');
const { MediaEngine } = require('../dist');
const { threadCpuNs, rssBytes } = require('./cpu');

const root = path.resolve(__dirname, '..');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const callSteps = String(opt('calls', '100,300,600')).split(',').map(Number);
const seconds = Number(opt('seconds', 10));
const handshakes = Number(opt('handshakes', 200));
const workers = Number(opt('workers', 1));

function loadgenPath() {
  const bin = path.join(root, 'target', 'release', 'esbc-loadgen');
  const r = spawnSync('cargo', ['build', '--release', '-q', '-p', 'esbc-loadgen'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) throw new Error('cannot build the load generator');
  return bin;
}

function runLoadgen(bin, lines, secs) {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, ['--seconds', String(secs), '--warmup', '1'], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`loadgen exit ${code}`))));
    child.stdin.end(lines.join('\n') + '\n');
  });
}

async function relayRun(bin, calls) {
  const engine = new MediaEngine({ portMin: 20000, portMax: 59999, workers, mediaTimeoutSecs: 0 });
  const rssBefore = rssBytes();
  const lines = [];
  const pipelines = [];
  for (let i = 0; i < calls; i++) {
    const engineKey = crypto.randomBytes(30); // engine -> loadgen
    const peerKey = crypto.randomBytes(30); // loadgen -> engine
    const p = engine.createPipeline({
      a: { kind: 'rtp' },
      b: {
        kind: 'sdes-srtp',
        rtcpMux: true,
        localKey: { suite: 'AES_CM_128_HMAC_SHA1_80', key: engineKey.toString('base64') },
        remoteKey: { suite: 'AES_CM_128_HMAC_SHA1_80', key: peerKey.toString('base64') },
      },
    });
    pipelines.push(p);
    lines.push(`${p.local.a.rtpPort} ${p.local.b.rtpPort} ${peerKey.toString('hex')} ${engineKey.toString('hex')}`);
  }
  await new Promise((r) => setTimeout(r, 200));
  const rssAfter = rssBytes();
  const cpu0 = threadCpuNs('esbc-media-');
  const t0 = process.hrtime.bigint();
  const gen = await runLoadgen(bin, lines, seconds);
  const cpuNs = threadCpuNs('esbc-media-') - cpu0;
  const wallNs = Number(process.hrtime.bigint() - t0);
  let relayed = 0;
  for (const p of pipelines) {
    const s = p.close();
    relayed += s.a.packetsOut + s.b.packetsOut;
  }
  engine.shutdown();
  const sent = gen.sentRtp + gen.sentSrtp;
  const received = gen.recvRtp + gen.recvSrtp;
  return {
    calls,
    packetsPerSecond: Math.round(relayed / (wallNs / 1e9)),
    relayedPackets: relayed,
    engineCpuNsPerPacket: Math.round(cpuNs / relayed),
    engineCpuPercentOfOneCore: +((100 * cpuNs) / wallNs).toFixed(1),
    lossPercent: +Math.max(0, (100 * (sent - received)) / sent).toFixed(3),
    srtpAuthFailures: gen.recvSrtpAuthFail,
    memoryPerCallBytes: Math.round((rssAfter - rssBefore) / calls),
  };
}

async function handshakeRun(n) {
  const engine = new MediaEngine({ portMin: 20000, portMax: 59999, workers, mediaTimeoutSecs: 0 });
  const fp = engine.currentFingerprint('sha-256');
  let connected = 0;
  engine.on('event', (e) => {
    if (e.type === 'dtls-connected') connected++;
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
  while (connected < 2 * n && Date.now() - t0 < 60000) await new Promise((r) => setTimeout(r, 20));
  const cpuNs = threadCpuNs('esbc-media-') - cpu0;
  for (const p of made) p.close();
  engine.shutdown();
  return {
    associations: n,
    completedEnds: connected,
    // Both ends of each association run in this engine: each end is one handshake.
    handshakesPerCpuSecond: Math.round(connected / (cpuNs / 1e9)),
    wallSeconds: (Date.now() - t0) / 1000,
  };
}

async function main() {
  const bin = loadgenPath();
  const versions = MediaEngine.versions();
  const results = { engine: 'esbc', workers, versions: { openssl: versions.openssl, libsrtp: versions.libsrtp }, relay: [], dtls: null };
  for (const calls of callSteps) {
    const r = await relayRun(bin, calls);
    results.relay.push(r);
    console.error(`[bench:media] ${calls} calls: ${r.engineCpuNsPerPacket} ns CPU/packet, loss ${r.lossPercent}%, ${r.memoryPerCallBytes} B/call`);
  }
  results.dtls = await handshakeRun(handshakes);
  console.error(`[bench:media] DTLS: ${results.dtls.handshakesPerCpuSecond} handshakes per CPU-second`);
  console.log(JSON.stringify(results, null, 2));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
