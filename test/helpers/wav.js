'use strict';
// Minimal WAV (RIFF) writer/reader for audio-verification tests.
// Reader handles chunks in any order, odd-size padding, WAVE_FORMAT_EXTENSIBLE,
// and truncated/unfinalised files (a killed baresip leaves a data chunk whose
// size field was never updated), which is why it clamps rather than throws.
const fs = require('node:fs');

/** Encode Int16Array (interleaved) as a 16-bit PCM WAV buffer. */
function encodeWav(int16, rate = 8000, channels = 1) {
  const dataBytes = int16.length * 2;
  const buf = Buffer.alloc(44 + dataBytes);
  buf.write('RIFF', 0, 'ascii');
  buf.writeUInt32LE(36 + dataBytes, 4);
  buf.write('WAVE', 8, 'ascii');
  buf.write('fmt ', 12, 'ascii');
  buf.writeUInt32LE(16, 16);
  buf.writeUInt16LE(1, 20); // PCM
  buf.writeUInt16LE(channels, 22);
  buf.writeUInt32LE(rate, 24);
  buf.writeUInt32LE(rate * channels * 2, 28);
  buf.writeUInt16LE(channels * 2, 32);
  buf.writeUInt16LE(16, 34);
  buf.write('data', 36, 'ascii');
  buf.writeUInt32LE(dataBytes, 40);
  // Typed-array copy (little-endian host, as node on x86/arm): ~50x faster
  // than writeInt16LE per sample, which matters for minutes-long tone files.
  if ((buf.byteOffset + 44) % 2 === 0) new Int16Array(buf.buffer, buf.byteOffset + 44, int16.length).set(int16);
  else for (let i = 0; i < int16.length; i++) buf.writeInt16LE(int16[i], 44 + i * 2);
  return buf;
}

/** Write float samples in [-1, 1] (mono) as 16-bit PCM. */
function writeWav(path, samples, rate = 8000) {
  const pcm = new Int16Array(samples.length);
  for (let i = 0; i < samples.length; i++) {
    const v = Math.max(-1, Math.min(1, samples[i]));
    pcm[i] = Math.round(v * 32767);
  }
  fs.writeFileSync(path, encodeWav(pcm, rate, 1));
  return path;
}

/**
 * Sine tone, 8 kHz mono 16-bit by default (what baresip's aufile source needs).
 * amplitude is linear full scale (0..1); 0.5 is about -6 dBFS.
 */
function writeToneWav(path, { freq = 440, seconds = 5, amplitude = 0.5, rate = 8000 } = {}) {
  const n = Math.round(seconds * rate);
  const s = new Float64Array(n);
  const w = (2 * Math.PI * freq) / rate;
  for (let i = 0; i < n; i++) s[i] = amplitude * Math.sin(w * i);
  return writeWav(path, s, rate);
}

/** G.711 mu-law encode one sample in [-1, 1] (ITU-T reference, bias 0x84). */
function linearToUlaw(v) {
  let x = Math.max(-32635, Math.min(32635, Math.round(v * 32767)));
  const sign = x < 0 ? 0x80 : 0;
  if (x < 0) x = -x;
  x += 0x84;
  let exp = 7;
  for (let mask = 0x4000; (x & mask) === 0 && exp > 0; mask >>= 1) exp--;
  const mant = (x >> (exp + 3)) & 0x0f;
  return ~(sign | (exp << 4) | mant) & 0xff;
}

/**
 * Sine tone as an 8 kHz mu-law WAV (format 7): what sipp's
 * <exec rtp_stream="file.wav,loops,0"/> streams as PCMU payload.
 */
function writeToneUlawWav(path, { freq = 440, seconds = 5, amplitude = 0.5 } = {}) {
  const rate = 8000;
  const n = Math.round(seconds * rate);
  const buf = Buffer.alloc(46 + 12 + n);
  buf.write('RIFF', 0, 'ascii');
  buf.writeUInt32LE(buf.length - 8, 4);
  buf.write('WAVEfmt ', 8, 'ascii');
  buf.writeUInt32LE(18, 16);
  buf.writeUInt16LE(7, 20); // WAVE_FORMAT_MULAW
  buf.writeUInt16LE(1, 22);
  buf.writeUInt32LE(rate, 24);
  buf.writeUInt32LE(rate, 28);
  buf.writeUInt16LE(1, 32);
  buf.writeUInt16LE(8, 34);
  buf.writeUInt16LE(0, 36); // cbSize
  buf.write('fact', 38, 'ascii');
  buf.writeUInt32LE(4, 42);
  buf.writeUInt32LE(n, 46);
  buf.write('data', 50, 'ascii');
  buf.writeUInt32LE(n, 54);
  const w = (2 * Math.PI * freq) / rate;
  for (let i = 0; i < n; i++) buf[58 + i] = linearToUlaw(amplitude * Math.sin(w * i));
  fs.writeFileSync(path, buf);
  return path;
}

/**
 * Parse a 16-bit PCM WAV. Returns { rate, channels, bits, frames,
 * channelData: Float64Array[] (each in [-1,1]), samples: mono mix }.
 */
function readWav(path) {
  const buf = fs.readFileSync(path);
  if (buf.length < 12 || buf.toString('ascii', 0, 4) !== 'RIFF' || buf.toString('ascii', 8, 12) !== 'WAVE') {
    throw new Error(`${path}: not a RIFF/WAVE file`);
  }
  let fmt = null;
  let data = null;
  let off = 12;
  while (off + 8 <= buf.length) {
    const id = buf.toString('ascii', off, off + 4);
    let size = buf.readUInt32LE(off + 4);
    const body = off + 8;
    if (body + size > buf.length) size = buf.length - body; // unfinalised/truncated
    if (id === 'fmt ') {
      let format = buf.readUInt16LE(body);
      if (format === 0xfffe && size >= 26) format = buf.readUInt16LE(body + 24); // EXTENSIBLE subformat
      fmt = {
        format,
        channels: buf.readUInt16LE(body + 2),
        rate: buf.readUInt32LE(body + 4),
        bits: buf.readUInt16LE(body + 14),
      };
    } else if (id === 'data') {
      // A size of 0 with bytes following means the writer never patched the header.
      if (size === 0 && body < buf.length) size = buf.length - body;
      data = buf.subarray(body, body + size);
    }
    off = body + size + (size & 1); // chunks are word-aligned
  }
  if (!fmt) throw new Error(`${path}: no fmt chunk`);
  if (!data) throw new Error(`${path}: no data chunk`);
  if (fmt.format !== 1 || fmt.bits !== 16) {
    throw new Error(`${path}: only 16-bit PCM supported (format ${fmt.format}, ${fmt.bits} bits)`);
  }
  const { channels, rate } = fmt;
  const frames = Math.floor(data.length / (2 * channels));
  const channelData = Array.from({ length: channels }, () => new Float64Array(frames));
  const samples = new Float64Array(frames);
  for (let i = 0; i < frames; i++) {
    let sum = 0;
    for (let c = 0; c < channels; c++) {
      const v = data.readInt16LE((i * channels + c) * 2) / 32768;
      channelData[c][i] = v;
      sum += v;
    }
    samples[i] = sum / channels;
  }
  return { rate, channels, bits: 16, frames, durationSec: frames / rate, channelData, samples };
}

module.exports = { encodeWav, writeWav, writeToneWav, writeToneUlawWav, linearToUlaw, readWav };
