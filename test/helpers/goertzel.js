'use strict';
// Tone detection for "did the other side's audio really arrive?" checks.
// Works block-wise (default 50 ms) and averages, so packet loss/jitter gaps
// (phase jumps) only cost a block instead of smearing a whole-file DFT.
const { readWav } = require('./wav');

const DEFAULTS = {
  blockSec: 0.05,
  silenceRms: 0.003, // ~ -50 dBFS: below this a block counts as silence
  minRatio: 10, // expected tone power / strongest other candidate (10 dB)
  minFraction: 0.5, // expected tone power / total block energy
  minActiveSec: 0.5, // need at least this much non-silent audio to judge
};

/**
 * Goertzel power of `freq` over samples[start, end), normalised so that a
 * full-window sine of amplitude A yields ~A^2/2 (i.e. comparable to mean square).
 */
function goertzelPower(samples, rate, freq, start = 0, end = samples.length) {
  const n = end - start;
  if (n <= 0) return 0;
  const w = (2 * Math.PI * freq) / rate;
  const coeff = 2 * Math.cos(w);
  let s1 = 0;
  let s2 = 0;
  for (let i = start; i < end; i++) {
    const s0 = samples[i] + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  const mag2 = s1 * s1 + s2 * s2 - coeff * s1 * s2; // |X(f)|^2
  return (2 * mag2) / (n * n);
}

function meanSquare(samples, start, end) {
  let e = 0;
  for (let i = start; i < end; i++) e += samples[i] * samples[i];
  return end > start ? e / (end - start) : 0;
}

/**
 * Analyse samples block by block. Returns per-candidate mean power over the
 * non-silent blocks, the mean energy of those blocks, and where audio starts.
 * With skipLeadingSilence the analysis starts at the first non-silent block.
 */
function analyze(samples, rate, candidates, opts = {}) {
  const o = { ...DEFAULTS, ...opts };
  const block = Math.max(1, Math.round(o.blockSec * rate));
  const from = Math.max(0, Math.round((o.fromSec || 0) * rate));
  const to = Math.min(samples.length, o.toSec == null ? samples.length : Math.round(o.toSec * rate));
  const powers = Object.fromEntries(candidates.map((f) => [f, 0]));
  let active = 0;
  let energy = 0;
  let firstActiveSec = null;
  let total = 0;
  for (let b = from; b + block <= to; b += block) {
    total++;
    const ms = meanSquare(samples, b, b + block);
    if (Math.sqrt(ms) < o.silenceRms) continue; // silence: neither evidence for nor against
    if (firstActiveSec == null) firstActiveSec = b / rate;
    active++;
    energy += ms;
    for (const f of candidates) powers[f] += goertzelPower(samples, rate, f, b, b + block);
  }
  if (active) {
    for (const f of candidates) powers[f] /= active;
    energy /= active;
  }
  return {
    powers,
    energy,
    activeSec: (active * block) / rate,
    windowSec: (total * block) / rate,
    firstActiveSec,
  };
}

/**
 * Which of `candidates` dominates? Returns { freq, ratio, fraction, powers, ... }
 * with freq = null when nothing dominates (silence, noise, mixed tones).
 */
function dominantTone(samples, rate, candidates, opts = {}) {
  const o = { ...DEFAULTS, ...opts };
  const a = analyze(samples, rate, candidates, o);
  const sorted = [...candidates].sort((x, y) => a.powers[y] - a.powers[x]);
  const best = sorted[0];
  const second = sorted.length > 1 ? a.powers[sorted[1]] : 0;
  const ratio = a.powers[best] / Math.max(second, 1e-12);
  const fraction = a.energy > 0 ? a.powers[best] / a.energy : 0;
  const ok = a.activeSec >= o.minActiveSec && ratio >= o.minRatio && fraction >= o.minFraction;
  return { freq: ok ? best : null, candidate: best, ratio, fraction, ...a };
}

/**
 * Does `expectedHz` dominate the file (or a window of it: opts.fromSec/toSec,
 * seconds from the start of the file)? Returns a report with `ok` and a
 * human-readable `reason`, suitable for assert.ok(r.ok, r.reason).
 */
function toneReport(file, expectedHz, otherHz = [], opts = {}) {
  const o = { ...DEFAULTS, ...opts };
  const wav = typeof file === 'string' ? readWav(file) : file;
  const a = analyze(wav.samples, wav.rate, [expectedHz, ...otherHz], o);
  const exp = a.powers[expectedHz];
  const strongestOther = Math.max(1e-12, ...otherHz.map((f) => a.powers[f]));
  const ratio = exp / strongestOther;
  const fraction = a.energy > 0 ? exp / a.energy : 0;
  const problems = [];
  if (a.activeSec < o.minActiveSec) problems.push(`only ${a.activeSec.toFixed(2)} s of non-silent audio`);
  if (ratio < o.minRatio) problems.push(`ratio to other tones ${ratio.toFixed(1)} < ${o.minRatio}`);
  if (fraction < o.minFraction) problems.push(`fraction of energy ${fraction.toFixed(2)} < ${o.minFraction}`);
  const where = typeof file === 'string' ? file : '(samples)';
  const detail =
    `${expectedHz} Hz in ${where} [${o.fromSec || 0}-${o.toSec ?? 'end'} s]: ` +
    `active ${a.activeSec.toFixed(2)}/${a.windowSec.toFixed(2)} s, ratio ${ratio.toFixed(1)}, ` +
    `fraction ${fraction.toFixed(2)}, rms ${Math.sqrt(a.energy).toFixed(4)}, powers ${JSON.stringify(
      Object.fromEntries(Object.entries(a.powers).map(([k, v]) => [k, +v.toExponential(2)])),
    )}`;
  return {
    ok: problems.length === 0,
    reason: problems.length ? `${problems.join('; ')} -- ${detail}` : detail,
    ratio,
    fraction,
    rms: Math.sqrt(a.energy),
    durationSec: wav.durationSec,
    ...a,
  };
}

/** Seconds of non-silent audio in a window (to assert "nothing heard on hold"). */
function activeSeconds(file, opts = {}) {
  const wav = typeof file === 'string' ? readWav(file) : file;
  return analyze(wav.samples, wav.rate, [], opts).activeSec;
}

/** First time (s) `freq` dominates a block: time to first audio in a recording. */
function firstToneTime(file, freq, opts = {}) {
  const o = { ...DEFAULTS, ...opts };
  const wav = typeof file === 'string' ? readWav(file) : file;
  const block = Math.round(o.blockSec * wav.rate);
  for (let b = 0; b + block <= wav.samples.length; b += block) {
    const ms = meanSquare(wav.samples, b, b + block);
    if (Math.sqrt(ms) < o.silenceRms) continue;
    if (goertzelPower(wav.samples, wav.rate, freq, b, b + block) / ms >= o.minFraction) return b / wav.rate;
  }
  return null;
}

module.exports = { goertzelPower, analyze, dominantTone, toneReport, activeSeconds, firstToneTime, DEFAULTS };
