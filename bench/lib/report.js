'use strict';
// Figures, summary and Markdown of the benchmark runs.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ZERO_LOSS = 0.01; // percent
// A relay falling behind queues in socket buffers (seconds of them) before it
// drops: a step with a p99 above this also counts as not sustained.
const MAX_P99_US = 100000;

function machine() {
  return { model: os.cpus()[0]?.model, cores: os.cpus().length, kernel: os.release(), memoryGiB: Math.round(os.totalmem() / 2 ** 30), loadAverage: os.loadavg() };
}

/** The figures of one relay at one step, from the generator's report. */
function relayFigures(relay, calls, suite, g, rssBefore) {
  const relayed = g.receivedWindow;
  const cpu = g.relay.cpu;
  const perPkt = relayed ? cpu.onCpuNs / relayed / 1000 : null;
  // User/kernel split: perf samples when the generator could take them (the
  // tick split is phase-locked to the 20 ms bursts; see modesample.rs).
  const sampled = g.relay.modeSplit;
  const userFraction = sampled ? sampled.userFraction : cpu.userFraction;
  return {
    relay, calls, suite,
    offeredPps: Math.round(g.sentWindow / g.windowSeconds),
    relayedPps: Math.round(relayed / g.windowSeconds),
    lossPercent: +g.lossPercent.toFixed(4),
    reordered: g.reordered,
    duplicates: g.duplicates,
    verifyFailures: g.srtpFailures + g.badPayload + g.misrouted + g.unknownSsrc,
    sendErrors: g.sendErrors,
    // Where lost datagrams died of full receive queues (kernel per-socket
    // counters over the window): the generator's own sockets (it fell
    // behind: a harness limit, not the relay's loss) or the relay's.
    generatorSocketDrops: g.generatorSocketDrops ?? null,
    relaySocketDrops: g.relaySocketDrops ?? null,
    latencyP50Us: g.latencyUs.p50,
    latencyP99Us: g.latencyUs.p99,
    cpuUsPerPacket: perPkt && +perPkt.toFixed(3),
    userUsPerPacket: perPkt && +(perPkt * userFraction).toFixed(3),
    kernelUsPerPacket: perPkt && +(perPkt * (1 - userFraction)).toFixed(3),
    userSplit: sampled ? `perf samples (${sampled.samples})` : 'utime/stime ticks',
    userUsPerPacketTicks: perPkt && +(perPkt * cpu.userFraction).toFixed(3),
    relayCorePercent: +(cpu.coreFraction * 100).toFixed(1),
    generatorCorePercent: +(g.generatorCpu.coreFraction * 100).toFixed(1),
    rssBytes: g.relay.rssBytes,
    memoryPerCallBytes: Math.round((g.relay.rssBytes - rssBefore) / calls),
    generator: g,
  };
}

function oneLine(f) {
  return `${f.relayedPps} pkt/s, loss ${f.lossPercent} %, ${f.cpuUsPerPacket} us/pkt (user ${f.userUsPerPacket}), relay core ${f.relayCorePercent} %, ` +
    `gen core ${f.generatorCorePercent} %, p50/p99 ${f.latencyP50Us}/${f.latencyP99Us} us, ${(f.memoryPerCallBytes / 1024).toFixed(1)} KiB/call` +
    (f.generatorSocketDrops || f.relaySocketDrops ? `, socket drops: generator ${f.generatorSocketDrops}, relay ${f.relaySocketDrops}` : '') +
    (f.verifyFailures ? `, ${f.verifyFailures} VERIFY FAILURES` : '');
}

const lossFree = (f) => f.lossPercent < ZERO_LOSS && f.verifyFailures === 0;
const clean = (f) => lossFree(f) && f.latencyP99Us != null && f.latencyP99Us < MAX_P99_US;

/** Middle value (rounds are odd; for an even count the lower middle). */
function median(values) {
  const v = [...values].sort((a, b) => a - b);
  return v[Math.floor((v.length - 1) / 2)];
}

/**
 * One figure set per relay and step from its rounds: the round with the
 * median CPU per packet (its user/kernel split and latency with it), the
 * median memory, and sustained only if every round was.
 */
function medianRounds(runs) {
  const out = [];
  for (const key of new Set(runs.map((r) => `${r.relay}/${r.calls}`))) {
    const rounds = runs.filter((r) => `${r.relay}/${r.calls}` === key);
    const cpu = median(rounds.map((r) => r.cpuUsPerPacket ?? Infinity));
    const pick = rounds.find((r) => (r.cpuUsPerPacket ?? Infinity) === cpu);
    const worst = rounds.find((r) => !clean(r));
    out.push({
      ...pick,
      memoryPerCallBytes: median(rounds.map((r) => r.memoryPerCallBytes)),
      // Not sustained in one round = not sustained: carry that round's failure.
      ...(worst ? { lossPercent: worst.lossPercent, verifyFailures: worst.verifyFailures, latencyP99Us: worst.latencyP99Us } : {}),
      // Loss alone (the latency bound aside), also in every round.
      lossFreeEveryRound: rounds.every(lossFree),
      rounds: rounds.length,
    });
  }
  return out;
}

function dtlsSummary(runs) {
  const perCpuSecond = runs.map((r) => r.handshakesPerCpuSecond);
  return {
    associations: runs[0].associations,
    rounds: runs.length,
    completedEnds: runs.reduce((s, r) => s + r.completedEnds, 0),
    failedEnds: runs.reduce((s, r) => s + r.failedEnds, 0),
    handshakesPerCpuSecond: median(perCpuSecond),
    handshakesPerCpuSecondRounds: perCpuSecond,
  };
}

const COMPARED = ['esbc', 'rtpengine', 'trivial'];

function summarize(results) {
  const out = {};
  for (const suite of [...new Set(results.runs.map((r) => r.suite))]) {
    const runs = medianRounds(results.runs.filter((r) => r.suite === suite));
    const names = [...new Set(runs.map((r) => r.relay))];
    const steps = [...new Set(runs.map((r) => r.calls))].sort((a, b) => a - b);
    const s = { relays: {} };
    // Highest step at which every relay compared (esbc, rtpengine, trivial;
    // not the epoll variants) was loss-free: the equal-load comparison.
    const compared = names.some((n) => COMPARED.includes(n)) ? names.filter((n) => COMPARED.includes(n)) : names;
    const equal = steps.filter((c) => compared.every((n) => runs.some((r) => r.relay === n && r.calls === c && clean(r)))).pop();
    s.equalLoadCalls = equal;
    for (const n of names) {
      const mine = runs.filter((r) => r.relay === n).sort((a, b) => a.calls - b.calls);
      const best = mine.filter(clean).pop();
      const eq = mine.find((r) => r.calls === equal);
      const big = mine[mine.length - 1];
      s.relays[n] = {
        highestZeroLoss: best && {
          calls: best.calls, relayedPps: best.relayedPps, relayCorePercent: best.relayCorePercent, generatorCorePercent: best.generatorCorePercent,
          cpuUsPerPacket: best.cpuUsPerPacket,
          // What one core would relay at that per-packet cost.
          ppsPerCore: Math.round(1e6 / best.cpuUsPerPacket),
          callsPerCore: Math.round(1e6 / best.cpuUsPerPacket / 100),
        },
        // The issue's literal criterion: no loss, whatever the queueing delay
        // (a saturated relay keeps up with a standing queue of up to seconds).
        highestLossFree: (() => {
          const b = mine.filter((r) => r.lossFreeEveryRound).pop();
          return b && { calls: b.calls, relayedPps: b.relayedPps, cpuUsPerPacket: b.cpuUsPerPacket, latencyP99Us: b.latencyP99Us, ppsPerCore: Math.round(1e6 / b.cpuUsPerPacket) };
        })(),
        firstLoss: mine.find((r) => !clean(r))?.calls,
        steps: mine.map((r) => ({ calls: r.calls, cpuUsPerPacket: r.cpuUsPerPacket, userUsPerPacket: r.userUsPerPacket, latencyP99Us: r.latencyP99Us, lossPercent: r.lossPercent })),
        atEqualLoad: eq && { cpuUsPerPacket: eq.cpuUsPerPacket, userUsPerPacket: eq.userUsPerPacket, kernelUsPerPacket: eq.kernelUsPerPacket, latencyP50Us: eq.latencyP50Us, latencyP99Us: eq.latencyP99Us },
        memoryPerCallBytes: big.memoryPerCallBytes,
        memoryAtCalls: big.calls,
      };
    }
    const r = s.relays;
    const ratio = (a, b) => (a != null && b ? +(a / b).toFixed(2) : null);
    s.ratios = {
      ppsPerCoreVsRtpengine: ratio(r.esbc?.highestZeroLoss?.ppsPerCore, r.rtpengine?.highestZeroLoss?.ppsPerCore),
      ppsPerCoreVsRtpengineLossOnly: ratio(r.esbc?.highestLossFree?.ppsPerCore, r.rtpengine?.highestLossFree?.ppsPerCore),
      cpuPerPacketVsTrivial: ratio(r.esbc?.atEqualLoad?.cpuUsPerPacket, r.trivial?.atEqualLoad?.cpuUsPerPacket),
      userPerPacketVsRtpengine: ratio(r.esbc?.atEqualLoad?.userUsPerPacket, r.rtpengine?.atEqualLoad?.userUsPerPacket),
      callsPerCoreVsTrivial: ratio(r.esbc?.highestZeroLoss?.callsPerCore, r.trivial?.highestZeroLoss?.callsPerCore),
      memoryPerCallVsRtpengine: ratio(r.esbc?.memoryPerCallBytes, r.rtpengine?.memoryPerCallBytes),
    };
    out[suite] = s;
  }
  return out;
}

const fmt = (v, d = 2) => (v == null ? '-' : typeof v === 'number' ? v.toLocaleString('en-US', { maximumFractionDigits: d }) : String(v));
const kib = (b) => (b == null ? '-' : `${(b / 1024).toFixed(1)} KiB`);

function header(results) {
  const m = results.machine;
  return `Run ${results.date.slice(0, 16).replace('T', ' ')} UTC on ${m.model}, ${m.cores} cores, ${m.memoryGiB} GiB, Linux ${m.kernel}` +
    (results.versions ? `; rtpengine ${results.versions.rtpengine || '-'}, OpenSSL ${results.versions.openssl || '-'}, libsrtp ${results.versions.libsrtp || '-'}` : '');
}

function mediaMarkdown(results) {
  const o = results.options;
  const lines = [header(results), '',
    `Relay pinned to CPU ${o.relayCpu ?? '-'} (one packet thread; rtpengine \`--num-threads=1 --table=-1\`), generator on CPU ${o.genCpus} ` +
    `(${o.genThreads} thread(s), ${o.sockets} sockets, sendmmsg/recvmmsg), ${o.warmup} s warm-up + ${o.seconds} s window per step, ${o.rounds ?? 1} round(s) per step (each relay's median round)` +
    (o.resolution ? `; after the ladder each relay's highest sustained step is refined by bisection to within ${o.resolution} calls (probe rows; a probe stops at its first round not sustained)` : '') +
    `${o.nice ? `, relays and generator at nice ${o.nice}` : ''}; load average (1 min) ${results.machine.loadAverage?.[0]?.toFixed(1)} at start, ${results.loadAverageEnd?.[0]?.toFixed(1) ?? '-'} at end (shared machine). ` +
    'CPU = on-CPU time of the relay (esbc: its `esbc-media-*` worker; others: whole process) in the window / packets relayed in it; ' +
    (results.runs.some((f) => f.userSplit?.startsWith('perf'))
      ? 'user/kernel split from perf cpu-clock samples at 997 Hz on the same threads over the window (the utime/stime tick split, also in the JSON, ' +
        'is phase-locked to the 20 ms bursts and swings by 2x between rounds). '
      : 'user/kernel split from utime/stime ticks (noisy: phase-locked to the 20 ms bursts). ') +
    'Loopback: a sender\'s system call also pays for delivery into the receiver\'s socket.', ''];
  for (const [suite, s] of Object.entries(results.summary)) {
    const r = s.relays;
    const names = ['esbc', 'rtpengine', 'trivial', 'esbc-epoll', 'trivial-epoll'].filter((n) => r[n]);
    const col = (fn) => names.map((n) => fn(r[n])).join(' | ');
    lines.push(`#### ${suite} <-> RTP`, '', `| figure | ${names.join(' | ')} | esbc / rtpengine | esbc / trivial | target |`, `|---|${names.map(() => '---|').join('')}---|---|---|`);
    const z = (x) => x.highestZeroLoss;
    lines.push(`| highest sustained step (loss < ${ZERO_LOSS} %, p99 < ${MAX_P99_US / 1000} ms, every payload verified) | ${col((x) => (z(x) ? `${fmt(z(x).calls)} calls, ${fmt(z(x).relayedPps)} pkt/s, relay core ${z(x).relayCorePercent} %` : 'none'))} | | | |`);
    lines.push(`| first step not sustained | ${col((x) => fmt(x.firstLoss))} | | | |`);
    lines.push(`| zero-loss pkt/s per core (1 / CPU per packet at that step) | ${col((x) => fmt(z(x)?.ppsPerCore, 0))} | ${fmt(s.ratios.ppsPerCoreVsRtpengine)}x | | esbc >= 2x rtpengine |`);
    const lf = (x) => x.highestLossFree;
    lines.push(`| the same by loss alone (no latency bound): highest loss-free step, pkt/s per core there | ${col((x) => (lf(x) ? `${fmt(lf(x).calls)} calls (p99 ${fmt(lf(x).latencyP99Us / 1000, 0)} ms): ${fmt(lf(x).ppsPerCore, 0)}` : 'none'))} | ${fmt(s.ratios.ppsPerCoreVsRtpengineLossOnly)}x | | esbc >= 2x rtpengine |`);
    lines.push(`| 20 ms calls per core (same) | ${col((x) => fmt(z(x)?.callsPerCore, 0))} | | ${fmt(s.ratios.callsPerCoreVsTrivial)}x | >= 0.8x trivial |`);
    const e = (x) => x.atEqualLoad;
    lines.push(`| CPU per relayed packet at ${s.equalLoadCalls ? `${fmt(s.equalLoadCalls)} calls (${fmt(s.equalLoadCalls * 100)} pkt/s), the highest step all sustained` : 'equal load: no step sustained by all relays'} | ${col((x) => (e(x) ? `${fmt(e(x).cpuUsPerPacket, 2)} us` : '-'))} | ${fmt(r.esbc && r.rtpengine && e(r.rtpengine) ? e(r.esbc).cpuUsPerPacket / e(r.rtpengine).cpuUsPerPacket : null)}x | ${fmt(s.ratios.cpuPerPacketVsTrivial)}x | <= 1.3x trivial |`);
    lines.push(`| of which user space | ${col((x) => (e(x) ? `${fmt(e(x).userUsPerPacket, 2)} us` : '-'))} | ${fmt(s.ratios.userPerPacketVsRtpengine)}x | | <= 0.2x rtpengine |`);
    lines.push(`| of which kernel | ${col((x) => (e(x) ? `${fmt(e(x).kernelUsPerPacket, 2)} us` : '-'))} | | | |`);
    lines.push(`| one-way latency p50 / p99 (same step) | ${col((x) => (e(x) ? `${fmt(e(x).latencyP50Us, 0)} / ${fmt(e(x).latencyP99Us, 0)} us` : '-'))} | | | |`);
    lines.push(`| memory per call (RSS growth, largest step) | ${col((x) => `${kib(x.memoryPerCallBytes)} (${fmt(x.memoryAtCalls)} calls)`)} | ${fmt(s.ratios.memoryPerCallVsRtpengine)}x | | esbc <= 16 KiB |`);
    lines.push('');
    // Equal load at every step: CPU per packet (user space), median round.
    if (r.esbc && r.rtpengine) {
      lines.push('CPU per relayed packet at each step (median round; user space in brackets; p99 latency):', '',
        `| calls | ${names.join(' | ')} | esbc / rtpengine (total, user) |`, `|---|${names.map(() => '---|').join('')}---|`);
      for (const st of r.esbc.steps) {
        const at = (x) => x.steps.find((y) => y.calls === st.calls);
        const cell = (x) => (at(x) ? `${fmt(at(x).cpuUsPerPacket)} us (${fmt(at(x).userUsPerPacket)}), p99 ${fmt(at(x).latencyP99Us / 1000, 0)} ms${at(x).lossPercent >= ZERO_LOSS ? `, loss ${at(x).lossPercent} %` : ''}` : '-');
        const re = at(r.rtpengine);
        lines.push(`| ${fmt(st.calls)} | ${col(cell)} | ${re ? `${fmt(st.cpuUsPerPacket / re.cpuUsPerPacket)}x, ${fmt(st.userUsPerPacket / re.userUsPerPacket)}x` : '-'} |`);
      }
      lines.push('');
    }
  }
  lines.push('All steps (every round; the tables above use each relay\'s median round per step):', '', '| suite | round | calls | relay | offered pkt/s | relayed pkt/s | loss | reordered | verify failures | CPU/pkt (user + kernel) | relay core | generator core | latency p50/p99 | memory/call |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const f of results.runs) {
    lines.push(`| ${f.suite} | ${f.round ?? 1}${f.probe ? ' (probe)' : ''} | ${fmt(f.calls)} | ${f.relay} | ${fmt(f.offeredPps)} | ${fmt(f.relayedPps)} | ${f.lossPercent} % | ${f.reordered} | ${f.verifyFailures} | ` +
      `${fmt(f.cpuUsPerPacket)} us (${fmt(f.userUsPerPacket)} + ${fmt(f.kernelUsPerPacket)}) | ${f.relayCorePercent} % | ${f.generatorCorePercent} % | ${fmt(f.latencyP50Us, 0)}/${fmt(f.latencyP99Us, 0)} us | ${kib(f.memoryPerCallBytes)} |`);
  }
  if (results.dtls) {
    const d = results.dtls;
    lines.push('', `DTLS-SRTP handshakes (esbc, ECDSA P-256, cookie exchange, ${d.associations} associations with both ends in the engine's one worker, ` +
      `one end passive and one active): **${fmt(d.handshakesPerCpuSecond, 0)} handshake ends per CPU-second**, median of ${d.rounds ?? 1} ` +
      `round(s) (${(d.handshakesPerCpuSecondRounds ?? [d.handshakesPerCpuSecond]).map((x) => fmt(x, 0)).join(', ')}; ${d.completedEnds} completed, ${d.failedEnds} failed; target >= 2,000).`);
  }
  return lines.join('\n');
}

/** Replaces the `<!-- results:NAME -->` section of bench/README.md. */
function writeReadme(name, md) {
  const file = path.join(__dirname, '..', 'README.md');
  const text = fs.readFileSync(file, 'utf8');
  const open = `<!-- results:${name} -->`;
  const close = `<!-- /results:${name} -->`;
  const block = `${open}\n${md}\n${close}`;
  const i = text.indexOf(open);
  const j = text.indexOf(close);
  fs.writeFileSync(file, i >= 0 && j > i ? text.slice(0, i) + block + text.slice(j + close.length) : `${text.trimEnd()}\n\n${block}\n`);
}

module.exports = { machine, relayFigures, oneLine, clean, lossFree, summarize, dtlsSummary, mediaMarkdown, writeReadme, header, fmt };

// `node bench/lib/report.js bench/results/media-....json`: the Markdown of a
// saved run again (after a change to how figures are derived).
if (require.main === module) {
  const results = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  results.summary = summarize(results);
  console.log(mediaMarkdown(results));
}
