'use strict';
const test = require('node:test');
const assert = require('node:assert');
const { deriveKeys, SrtpStream, rtpPacket } = require('./srtp');

test('key derivation matches RFC 3711 appendix B.3', () => {
  const k = deriveKeys(Buffer.from('E1F97A0D3E018BE0D64FA32C06DE4139', 'hex'), Buffer.from('0EC675AD498AFEEBB6960B3AABE6', 'hex'));
  assert.equal(k.encKey.toString('hex').toUpperCase(), 'C61E7A93744F39EE10734AFE3FF7A087');
  assert.equal(k.salt.toString('hex').toUpperCase(), '30CBBC08863D8C85D49DB34A9AE1');
  assert.equal(k.authKey.toString('hex').toUpperCase(), 'CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4');
});

test('protect/unprotect round trip, tamper detection and rollover', () => {
  const key = Buffer.alloc(30, 7);
  const tx = new SrtpStream(key);
  const rx = new SrtpStream(key);
  for (const seq of [65533, 65534, 65535, 0, 1]) {
    const p = rtpPacket({ seq, ts: seq * 160, ssrc: 42, payload: Buffer.alloc(160, seq & 0xff) });
    const w = tx.protect(p);
    assert.notDeepEqual(w.subarray(12, 172), p.subarray(12));
    const bad = Buffer.from(w);
    bad[20] ^= 1;
    assert.equal(new SrtpStream(key).unprotect(bad), null);
    assert.deepEqual(rx.unprotect(w), p);
  }
});
