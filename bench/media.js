#!/usr/bin/env node
'use strict';
// Media relay benchmark (`npm run bench:media`): the same N-call load through
// this engine, rtpengine 10.5 and a trivial relay, in the same run, one after
// the other at each step (order alternating), each for a fixed window after a
// warm-up. SRTP on one leg, plain RTP on the other (the trivial relay: plain
// both ways), 20 ms PCMU-sized packets both directions, every payload checked
// by the generator. Then DTLS handshakes per CPU-second of this engine.
//
//   node bench/media.js [--calls 500,750,1000,1500,2000] [--seconds 10] [--warmup 2]
//     [--suites AES_CM_128_HMAC_SHA1_80,AEAD_AES_128_GCM] [--relays trivial,esbc,rtpengine]
//       (also: esbc-epoll, trivial-epoll: the engine and the baseline on epoll)
//     [--gen-threads 1] [--gen-cpus 0] [--relay-cpu 1] [--sockets 8] [--handshakes 1000]
//     [--nice -10]  (run relays and generator niced: the machine is shared)
//     [--rounds 3]  (odd; every step is measured this many times, relays alternating;
//                    the summary takes each relay's median round, and a step is
//                    sustained only if every round was: one 10 s window on a
//                    shared VM varies by about 10 %)
//     [--resolution 125]  (after the ladder, each relay's highest sustained
//                    step is refined by bisection until it is known to this
//                    many calls; 0 turns it off)
//     [--readme]   (also rewrite the results section of bench/README.md)
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { buildTools, runTraffic, root } = require('./lib/loadgen');
const relays = require('./lib/relays');
const { generatorLocals } = require('./lib/sessions');
const { handshakeRun } = require('./lib/dtls');
const report = require('./lib/report');
const { ensurePerf } = require('./lib/cpu');

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const list = (s) => String(s).split(',').filter(Boolean);
const o = {
  calls: list(opt('calls', '500,750,1000,1500,2000')).map(Number),
  seconds: Number(opt('seconds', 10)),
  warmup: Number(opt('warmup', 2)),
  suites: list(opt('suites', 'AES_CM_128_HMAC_SHA1_80,AEAD_AES_128_GCM')),
  relays: list(opt('relays', 'trivial,esbc,rtpengine')),
  genThreads: Number(opt('gen-threads', 1)),
  genCpus: opt('gen-cpus', '0'),
  relayCpu: opt('relay-cpu', '1') === 'none' ? undefined : Number(opt('relay-cpu', '1')),
  sockets: Number(opt('sockets', 8)),
  handshakes: Number(opt('handshakes', 1000)),
  rounds: Math.max(1, Number(opt('rounds', 3))) | 1, // odd, so the median is a measured round
  nice: Number(opt('nice', 0)),
  resolution: Number(opt('resolution', 125)),
  portMin: 50000,
  portMax: 59999,
};

/** One relay, one step: set up, play, tear down; the figures of the window. */
async function measure(relayName, calls, suite) {
  const locals = generatorLocals(o.sockets);
  const relay = await relays[relayName]({ calls, suite, locals, cpu: o.relayCpu, portMin: o.portMin, portMax: o.portMax, nice: o.nice });
  try {
    const g = await runTraffic(relay.sessions, {
      seconds: o.seconds, warmup: o.warmup, threads: o.genThreads, cpus: o.genCpus, watchPid: relay.pid, watchThreads: relay.watchThreads, nice: o.nice,
    });
    return { ...report.relayFigures(relayName, calls, suite, g, relay.rssBefore), ...(relay.io ? { io: relay.io } : {}) };
  } finally {
    await relay.stop();
    await new Promise((r) => setTimeout(r, 500));
  }
}

/**
 * The ladder's steps fall where they fall: a relay that sustains 1,400 calls
 * and one that sustains 800 would be compared at 1,000 and 750. So, per
 * relay, the gap between its highest sustained step and the first step it
 * did not sustain is halved (same rounds, same criterion; the probe's rounds
 * join the results) until it is at most `--resolution` calls. Same rule for
 * every relay, fixed before any result was looked at. Run once with the
 * latency-bounded criterion (`report.clean`) and once with loss alone
 * (`report.lossFree`, the literal one): a step that passed fewer
 * rounds than the others (a probe of the first criterion stops at its first
 * failed round) gets its remaining rounds before it counts as sustained.
 */
async function bisect(relay, suite, runs, ok, label) {
  const mine = (calls) => runs.filter((f) => f.relay === relay && f.suite === suite && (calls === undefined || f.calls === calls));
  const steps = () => [...new Set(mine().map((f) => f.calls))].sort((a, b) => a - b);
  const probe = async (calls, fromRound) => {
    for (let round = fromRound; round <= o.rounds; round++) {
      const f = { ...(await measure(relay, calls, suite)), round, probe: true };
      runs.push(f);
      console.error(`[bench:media] ${suite} ${label} round ${round} ${calls} calls ${relay}: ${report.oneLine(f)}`);
      if (!ok(f)) break; // one round not sustained decides the probe
    }
  };
  for (;;) {
    const hi = steps().find((c) => mine(c).some((f) => !ok(f)));
    const below = steps().filter((c) => c < (hi ?? Infinity));
    const short = below.filter((c) => mine(c).length < o.rounds).pop();
    if (short !== undefined) {
      await probe(short, mine(short).length + 1);
      continue;
    }
    const lo = below.pop();
    if (!o.resolution || hi === undefined || lo === undefined || hi - lo <= o.resolution) return;
    const mid = Math.round((lo + hi) / 2 / 25) * 25;
    if (mid <= lo || mid >= hi) return; // a resolution under 50 calls: nothing left between them
    await probe(mid, 1);
  }
}

async function main() {
  buildTools();
  const results = {
    kind: 'media',
    date: new Date().toISOString(),
    machine: report.machine(),
    versions: {
      rtpengine: o.relays.includes('rtpengine') ? relays.rtpengineVersion() : undefined,
      perf: ensurePerf(),
      ...require(path.join(root, 'dist')).MediaEngine.versions(),
    },
    options: o,
    runs: [],
    dtls: null,
  };
  let flip = false;
  for (const suite of o.suites) {
    for (let round = 1; round <= o.rounds; round++) {
      for (const calls of o.calls) {
        const order = flip ? [...o.relays].reverse() : o.relays;
        flip = !flip;
        for (const r of order) {
          const f = { ...(await measure(r, calls, suite)), round };
          results.runs.push(f);
          console.error(`[bench:media] ${suite} round ${round} ${calls} calls ${r}: ${report.oneLine(f)}`);
        }
      }
    }
    for (const r of o.relays) await bisect(r, suite, results.runs, report.clean, 'probe');
    for (const r of o.relays) await bisect(r, suite, results.runs, report.lossFree, 'loss probe');
  }
  if (o.handshakes > 0) {
    const runs = [];
    // One discarded round first, like the relays' warm-up: the first engine
    // in a process pays for cold code pages and allocator growth (measured
    // 20-30 % slower than the rounds after it).
    const warm = await handshakeRun(o.handshakes, { portMin: o.portMin, portMax: o.portMax });
    console.error(`[bench:media] DTLS warm-up (not counted): ${warm.handshakesPerCpuSecond} handshakes per CPU-second`);
    for (let round = 1; round <= o.rounds; round++) {
      runs.push(await handshakeRun(o.handshakes, { portMin: o.portMin, portMax: o.portMax }));
      console.error(`[bench:media] DTLS round ${round}: ${runs[runs.length - 1].handshakesPerCpuSecond} handshakes per CPU-second`);
    }
    results.dtls = { ...report.dtlsSummary(runs), warmUpDiscarded: warm.handshakesPerCpuSecond };
  }
  results.loadAverageEnd = os.loadavg();
  results.summary = report.summarize(results);
  const dir = path.join(__dirname, 'results');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `media-${results.date.replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(file, JSON.stringify(results, null, 2) + '\n');
  const md = report.mediaMarkdown(results);
  console.log(md);
  console.log(`\nresults: ${path.relative(root, file)}`);
  if (args.includes('--readme')) report.writeReadme('media', md + `\n\nRaw: \`${path.relative(__dirname, file)}\`\n`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
