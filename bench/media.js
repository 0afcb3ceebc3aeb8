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
const fs = require('node:fs');
const os = require('node:os');
const { MediaEngine } = require('../dist');
const { threadCpuNs, pidCpuNs, rssBytes } = require('./cpu');
const { startRtpengine, bridge, deleteCall } = require('./rtpengine');

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
const withRtpengine = !args.includes('--no-rtpengine');

function pidRss(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

/** The same N-call load through rtpengine (one thread), measured the same way. */
async function rtpengineRun(bin, rtpe, calls) {
  const rssBefore = pidRss(rtpe.pid);
  const made = [];
  for (let i = 0; i < calls; i++) {
    made.push(await bridge(rtpe.ng, i, { rtpLocal: 50000 + 2 * i, srtpLocal: 50001 + 2 * i, peerKey: crypto.randomBytes(30) }));
  }
  await new Promise((r) => setTimeout(r, 200));
  const rssAfter = pidRss(rtpe.pid);
  const cpu0 = pidCpuNs(rtpe.pid);
  const t0 = process.hrtime.bigint();
  const gen = await runLoadgen(bin, made.map((m) => m.line), seconds);
  const cpuNs = pidCpuNs(rtpe.pid) - cpu0;
  const wallNs = Number(process.hrtime.bigint() - t0);
  for (const m of made) await deleteCall(rtpe.ng, m.callId);
  // rtpengine has no per-leg counters over ng here: count what the load
  // generator received as relayed.
  return summarize({ calls, gen, relayed: gen.recvRtp + gen.recvSrtp, cpuNs, wallNs, rssBefore, rssAfter });
}

/** The figures reported for one relay run (the same for both relays). */
function summarize({ calls, gen, relayed, cpuNs, wallNs, rssBefore, rssAfter }) {
  const sent = gen.sentRtp + gen.sentSrtp;
  const received = gen.recvRtp + gen.recvSrtp;
  return {
    calls,
    packetsPerSecond: Math.round(relayed / (wallNs / 1e9)),
    relayedPackets: relayed,
    cpuNsPerPacket: Math.round(cpuNs / relayed),
    cpuPercentOfOneCore: +((100 * cpuNs) / wallNs).toFixed(1),
    lossPercent: +Math.max(0, (100 * (sent - received)) / sent).toFixed(3),
    srtpAuthFailures: gen.recvSrtpAuthFail,
    memoryPerCallBytes: Math.round((rssAfter - rssBefore) / calls),
  };
}

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
  return summarize({ calls, gen, relayed, cpuNs, wallNs, rssBefore, rssAfter });
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

function table(results) {
  const rows = ['| calls | esbc CPU/packet | rtpengine CPU/packet | ratio (rtpengine/esbc) | esbc loss | rtpengine loss | esbc mem/call | rtpengine mem/call |', '|---|---|---|---|---|---|---|---|'];
  for (const r of results.relay) {
    const e = r.esbc;
    const b = r.rtpengine;
    rows.push(`| ${r.calls} | ${(e.cpuNsPerPacket / 1000).toFixed(2)} us | ${b ? (b.cpuNsPerPacket / 1000).toFixed(2) + ' us' : '-'} | ${b ? (b.cpuNsPerPacket / e.cpuNsPerPacket).toFixed(2) + 'x' : '-'} | ${e.lossPercent} % | ${b ? b.lossPercent + ' %' : '-'} | ${(e.memoryPerCallBytes / 1024).toFixed(1)} KiB | ${b ? (b.memoryPerCallBytes / 1024).toFixed(1) + ' KiB' : '-'} |`);
  }
  return rows.join('\n');
}

async function main() {
  const bin = loadgenPath();
  const versions = MediaEngine.versions();
  const results = {
    date: new Date().toISOString(),
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, kernel: os.release() },
    workers,
    versions: { openssl: versions.openssl, libsrtp: versions.libsrtp },
    relay: [],
    dtls: null,
  };
  const rtpe = withRtpengine ? await startRtpengine({ threads: workers }) : null;
  try {
    for (const calls of callSteps) {
      // Same load, same run, one relay after the other.
      const esbc = await relayRun(bin, calls);
      const rtpengine = rtpe ? await rtpengineRun(bin, rtpe, calls) : undefined;
      results.relay.push({ calls, esbc, rtpengine });
      console.error(`[bench:media] ${calls} calls: esbc ${esbc.cpuNsPerPacket} ns/packet loss ${esbc.lossPercent}%` +
        (rtpengine ? `; rtpengine ${rtpengine.cpuNsPerPacket} ns/packet loss ${rtpengine.lossPercent}%` : ''));
    }
  } finally {
    await rtpe?.stop();
  }
  results.dtls = await handshakeRun(handshakes);
  console.error(`[bench:media] DTLS: ${results.dtls.handshakesPerCpuSecond} handshakes per CPU-second`);
  const dir = path.join(__dirname, 'results');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `media-${results.date.replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(file, JSON.stringify(results, null, 2) + '\n');
  console.log(table(results));
  console.log(`\nDTLS-SRTP handshakes per CPU-second (esbc, ECDSA P-256, both ends in the engine): ${results.dtls.handshakesPerCpuSecond}`);
  console.log(`results: ${path.relative(root, file)}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
