'use strict';
// Shared helpers of the SDP tests (not a test file).
const fs = require('node:fs');
const path = require('node:path');
const assert = require('node:assert/strict');

const sdp = require('../../dist');

function fixture(name) {
  return fs.readFileSync(path.join(__dirname, 'fixtures', `${name}.sdp`), 'utf8');
}

const HASH_BYTES = { 'sha-1': 20, 'sha-224': 28, 'sha-256': 32, 'sha-384': 48, 'sha-512': 64 };

/** A deterministic SBC fingerprint in `hash` (bytes 0xC0, 0xC1, ...). */
function sbcFingerprint(hash = 'sha-256') {
  const n = HASH_BYTES[hash];
  return { hash, value: Array.from({ length: n }, (_, i) => (0xc0 + (i % 64)).toString(16).toUpperCase()).join(':') };
}

/** The engine's LocalLeg for one side. */
function localLeg(side, hash = 'sha-256', address = '10.9.8.7') {
  const base = side === 'a' ? 40000 : 40002;
  return { address, rtpPort: base, rtcpPort: base + 1, fingerprint: sbcFingerprint(hash) };
}

function lines(text) {
  return text.split('\r\n').filter((l) => l.length > 0);
}

/** Lines of m-section `i` (the m= line and its attributes). */
function section(text, i) {
  const ls = lines(text);
  const starts = ls.map((l, k) => (l.startsWith('m=') ? k : -1)).filter((k) => k >= 0);
  return ls.slice(starts[i], starts[i + 1] ?? ls.length);
}

/**
 * Strings of the peer's SDP that must never reach the other side: addresses,
 * o= identity, ICE credentials and candidates, ssrc/msid/cname, fingerprints,
 * SDES keys. Short tokens (< 4 chars) are left out to avoid false matches.
 */
function secretsOf(text) {
  const out = new Set();
  for (const l of lines(text)) {
    let m;
    if ((m = /^c=IN IP[46] (\S+)/.exec(l))) out.add(m[1]);
    if ((m = /^o=(\S+) (\S+) (\S+) IN IP[46] (\S+)/.exec(l))) [m[1], m[2], m[4]].forEach((x) => out.add(x));
    if ((m = /^a=candidate:(.*)$/.exec(l))) out.add(l.slice(2)), m[1].split(' ').forEach((x) => out.add(x));
    if ((m = /^a=ice-(?:ufrag|pwd):(\S+)/.exec(l))) out.add(m[1]);
    if ((m = /^a=ssrc:(\d+) (?:cname|msid):(\S+)/.exec(l))) [m[1], m[2]].forEach((x) => out.add(x));
    if ((m = /^a=msid:(\S+) (\S+)/.exec(l))) [m[1], m[2]].forEach((x) => out.add(x));
    if ((m = /^a=fingerprint:\s*\S+\s+(\S+)/.exec(l))) out.add(m[1]), out.add(m[1].slice(0, 11));
    if ((m = /^a=crypto:\d+ \S+ inline:([^|\s]+)/.exec(l))) out.add(m[1]);
    if ((m = /^m=\w+ (\d+) /.exec(l)) && m[1] !== '0') out.add(`m=audio ${m[1]} `);
  }
  for (const word of ['candidate', 'ice-', 'ssrc', 'msid', 'extmap', 'group:BUNDLE', '0.0.0.0', 'tool:', 'label:']) out.add(word);
  return [...out].filter((s) => s.length >= 4 && s !== 'IN IP4');
}

function assertNoLeak(output, ...inputs) {
  for (const input of inputs) {
    for (const s of secretsOf(input)) {
      assert.ok(!output.includes(s), `output leaks ${JSON.stringify(s)}:\n${output}`);
    }
  }
}

/** Asserts fn throws an SdpError with `status` and a reason matching `reason`. */
function assertSdpError(fn, status, reason) {
  assert.throws(fn, (err) => {
    assert.ok(err instanceof sdp.SdpError, `not an SdpError: ${err}`);
    assert.ok(err instanceof Error);
    assert.equal(err.status, status);
    if (reason instanceof RegExp) assert.match(err.reason, reason);
    else assert.equal(err.reason, reason);
    return true;
  });
}

/** Builds an SDP body from lines (CRLF). */
function body(...ls) {
  return ls.join('\r\n') + '\r\n';
}

module.exports = { sdp, fixture, sbcFingerprint, localLeg, lines, section, secretsOf, assertNoLeak, assertSdpError, body };
