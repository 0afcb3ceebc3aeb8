'use strict';
// The detector must be able to say "no": prove it on silence and noise,
// and that it tells 440 from 880, including per-window checks.
const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { writeToneWav, writeWav, readWav, encodeWav } = require('./wav');
const { toneReport, dominantTone, activeSeconds, firstToneTime, goertzelPower } = require('./goertzel');

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'esbc-goertzel-'));
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));

// Deterministic PRNG so the noise test cannot flake.
function noise(n, amp, seed = 12345) {
  let x = seed;
  const s = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    s[i] = amp * ((x / 0xffffffff) * 2 - 1);
  }
  return s;
}

test('440 Hz tone: detects 440, rejects 880', () => {
  const f = writeToneWav(path.join(dir, 't440.wav'), { freq: 440, seconds: 2, amplitude: 0.5 });
  const w = readWav(f);
  assert.strictEqual(w.rate, 8000);
  assert.strictEqual(w.channels, 1);
  assert.strictEqual(w.frames, 16000);
  const yes = toneReport(f, 440, [880]);
  assert.ok(yes.ok, yes.reason);
  const no = toneReport(f, 880, [440]);
  assert.ok(!no.ok, `880 must not be detected: ${no.reason}`);
  assert.strictEqual(dominantTone(w.samples, w.rate, [440, 880]).freq, 440);
  // Power is normalised to mean square: A=0.5 -> 0.125.
  assert.ok(Math.abs(goertzelPower(w.samples, w.rate, 440) - 0.125) < 0.005);
});

test('silence: detects nothing', () => {
  const f = writeWav(path.join(dir, 'silence.wav'), new Float64Array(16000));
  const r = toneReport(f, 440, [880]);
  assert.ok(!r.ok, r.reason);
  assert.strictEqual(dominantTone(readWav(f).samples, 8000, [440, 880]).freq, null);
  assert.strictEqual(activeSeconds(f), 0);
});

test('white noise: detects nothing', () => {
  const f = writeWav(path.join(dir, 'noise.wav'), noise(16000, 0.5));
  for (const hz of [440, 880]) {
    const r = toneReport(f, hz, [hz === 440 ? 880 : 440]);
    assert.ok(!r.ok, r.reason);
  }
  assert.strictEqual(dominantTone(readWav(f).samples, 8000, [440, 880]).freq, null);
  assert.ok(activeSeconds(f) > 1.9);
});

test('mixed 440+880 equal level: neither dominates', () => {
  const n = 16000;
  const s = new Float64Array(n);
  for (let i = 0; i < n; i++) s[i] = 0.3 * Math.sin((2 * Math.PI * 440 * i) / 8000) + 0.3 * Math.sin((2 * Math.PI * 880 * i) / 8000);
  const f = writeWav(path.join(dir, 'mix.wav'), s);
  assert.ok(!toneReport(f, 440, [880]).ok);
  assert.ok(!toneReport(f, 880, [440]).ok);
});

test('leading silence is skipped; windows see phases', () => {
  // 1 s silence, 1 s 440, 1 s silence, 1 s 880 (like a call with a hold).
  const r = 8000;
  const s = new Float64Array(4 * r);
  for (let i = 0; i < r; i++) {
    s[r + i] = 0.4 * Math.sin((2 * Math.PI * 440 * i) / r);
    s[3 * r + i] = 0.4 * Math.sin((2 * Math.PI * 880 * i) / r);
  }
  const f = writeWav(path.join(dir, 'phases.wav'), s);
  const whole = toneReport(f, 440, [880]);
  assert.ok(!whole.ok, 'whole file is half 880: ' + whole.reason);
  assert.ok(Math.abs(whole.firstActiveSec - 1) < 0.06, `audio starts at ${whole.firstActiveSec}`);
  assert.ok(toneReport(f, 440, [880], { fromSec: 0, toSec: 2 }).ok);
  assert.ok(toneReport(f, 880, [440], { fromSec: 3, toSec: 4 }).ok);
  assert.ok(!toneReport(f, 880, [440], { fromSec: 2, toSec: 3 }).ok, 'silent window has no tone');
  assert.strictEqual(activeSeconds(f, { fromSec: 2, toSec: 3 }), 0);
  assert.ok(Math.abs(firstToneTime(f, 880) - 3) < 0.06);
});

test('reader: stereo, 16 kHz, extra chunks before fmt, unfinalised data size', () => {
  const rate = 16000;
  const pcm = new Int16Array(rate * 2); // 1 s stereo: L=440, R=silence
  for (let i = 0; i < rate; i++) pcm[2 * i] = Math.round(16000 * Math.sin((2 * Math.PI * 440 * i) / rate));
  const std = encodeWav(pcm, rate, 2);
  // Reorder: RIFF hdr, odd-sized LIST chunk (padded), data, then fmt.
  const list = Buffer.concat([Buffer.from('LIST'), Buffer.from([3, 0, 0, 0]), Buffer.from('abc'), Buffer.from([0])]);
  const fmt = std.subarray(12, 36);
  const data = Buffer.from(std.subarray(36));
  const file = Buffer.concat([std.subarray(0, 12), list, data, fmt]);
  const f1 = path.join(dir, 'odd.wav');
  fs.writeFileSync(f1, file);
  const w = readWav(f1);
  assert.deepStrictEqual([w.rate, w.channels, w.frames], [rate, 2, rate]);
  assert.ok(toneReport(w, 440, [880]).ok);
  assert.strictEqual(activeSeconds({ ...w, samples: w.channelData[1] }), 0);
  // data size left at 0 by a writer that was killed: reader takes the rest.
  const killed = Buffer.from(std);
  killed.writeUInt32LE(0, 40);
  const f2 = path.join(dir, 'killed.wav');
  fs.writeFileSync(f2, killed);
  assert.strictEqual(readWav(f2).frames, rate);
  fs.writeFileSync(path.join(dir, 'bad.wav'), Buffer.from('RIFX....WAVE'));
  assert.throws(() => readWav(path.join(dir, 'bad.wav')), /not a RIFF/);
});
