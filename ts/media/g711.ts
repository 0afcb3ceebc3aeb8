/**
 * Music-on-hold audio: a WAV file decoded, mixed to mono, resampled to 8 kHz
 * and encoded once at start to G.711 (ITU-T G.711 mu-law and A-law).
 */
import { readFileSync } from 'node:fs';

export interface EncodedMusic {
  pcmu: Buffer;
  pcma: Buffer;
  seconds: number;
}

export function loadMusicWav(path: string): EncodedMusic {
  const { samples, rate } = decodeWav(readFileSync(path), path);
  const mono8k = resample(samples, rate, 8000);
  if (mono8k.length < 160) throw new Error(`${path}: music must be at least 20 ms long`);
  const pcmu = Buffer.alloc(mono8k.length);
  const pcma = Buffer.alloc(mono8k.length);
  for (let i = 0; i < mono8k.length; i++) {
    const s = Math.max(-32768, Math.min(32767, Math.round(mono8k[i]! * 32767)));
    pcmu[i] = linearToUlaw(s);
    pcma[i] = linearToAlaw(s);
  }
  return { pcmu, pcma, seconds: mono8k.length / 8000 };
}

/** 16-bit PCM WAV (any rate, mono or stereo; chunks in any order). */
export function decodeWav(buf: Buffer, name = 'WAV'): { samples: Float32Array; rate: number } {
  if (buf.toString('ascii', 0, 4) !== 'RIFF' || buf.toString('ascii', 8, 12) !== 'WAVE') throw new Error(`${name}: not a RIFF/WAVE file`);
  let off = 12;
  let fmt: { channels: number; rate: number; bits: number; format: number } | undefined;
  let data: Buffer | undefined;
  while (off + 8 <= buf.length) {
    const id = buf.toString('ascii', off, off + 4);
    const size = buf.readUInt32LE(off + 4);
    const body = buf.subarray(off + 8, Math.min(buf.length, off + 8 + size));
    if (id === 'fmt ') fmt = { format: body.readUInt16LE(0), channels: body.readUInt16LE(2), rate: body.readUInt32LE(4), bits: body.readUInt16LE(14) };
    if (id === 'data') data = body;
    off += 8 + size + (size & 1);
  }
  if (!fmt || !data) throw new Error(`${name}: missing fmt or data chunk`);
  if ((fmt.format !== 1 && fmt.format !== 0xfffe) || fmt.bits !== 16) throw new Error(`${name}: only 16-bit PCM WAV is supported`);
  const frames = Math.floor(data.length / (2 * fmt.channels));
  const samples = new Float32Array(frames);
  for (let i = 0; i < frames; i++) {
    let sum = 0;
    for (let c = 0; c < fmt.channels; c++) sum += data.readInt16LE((i * fmt.channels + c) * 2);
    samples[i] = sum / fmt.channels / 32768;
  }
  return { samples, rate: fmt.rate };
}

function resample(x: Float32Array, from: number, to: number): Float32Array {
  if (from === to) return x;
  const n = Math.floor((x.length * to) / from);
  const out = new Float32Array(n);
  // Average over the source span of each output sample (a box filter is
  // enough to keep hold music from aliasing badly when downsampling).
  const step = from / to;
  for (let i = 0; i < n; i++) {
    const start = i * step;
    const a = Math.floor(start);
    const b = Math.min(x.length, Math.max(a + 1, Math.floor(start + step)));
    let sum = 0;
    for (let j = a; j < b; j++) sum += x[j]!;
    out[i] = sum / (b - a);
  }
  return out;
}

export function linearToUlaw(sample: number): number {
  const BIAS = 0x84;
  const sign = sample < 0 ? 0x80 : 0;
  let s = Math.min(32635, Math.abs(sample)) + BIAS;
  let exponent = 7;
  for (let mask = 0x4000; (s & mask) === 0 && exponent > 0; mask >>= 1) exponent--;
  const mantissa = (s >> (exponent + 3)) & 0x0f;
  s = ~(sign | (exponent << 4) | mantissa) & 0xff;
  return s;
}

export function linearToAlaw(sample: number): number {
  const sign = sample >= 0 ? 0x80 : 0;
  let s = Math.min(32767, Math.abs(sample)) >> 3;
  let out: number;
  if (s < 32) {
    out = s >> 1;
  } else {
    let exponent = 1;
    while (s >= 64 && exponent < 7) {
      s >>= 1;
      exponent++;
    }
    out = (exponent << 4) | ((s >> 1) & 0x0f);
  }
  return (out | sign) ^ 0x55;
}
