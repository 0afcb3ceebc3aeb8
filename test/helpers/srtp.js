'use strict';
// An independent SRTP (RFC 3711) implementation of AES_CM_128_HMAC_SHA1_80 on
// node's crypto, used as an oracle: packets the engine protects must decrypt
// here, and packets protected here must be accepted by the engine.
const crypto = require('node:crypto');

/** RFC 3711 4.3.1 key derivation with key_derivation_rate 0. */
function deriveKeys(masterKey, masterSalt) {
  const prf = (label, len) => {
    const iv = Buffer.alloc(16);
    masterSalt.copy(iv, 0, 0, 14);
    iv[7] ^= label;
    const c = crypto.createCipheriv('aes-128-ctr', masterKey, iv);
    return c.update(Buffer.alloc(len));
  };
  return { encKey: prf(0, 16), authKey: prf(1, 20), salt: prf(2, 14) };
}

function headerLength(pkt) {
  let len = 12 + 4 * (pkt[0] & 0x0f);
  if (pkt[0] & 0x10) len += 4 + 4 * pkt.readUInt16BE(len + 2);
  return len;
}

function keystreamIv(salt, ssrc, index) {
  const iv = Buffer.alloc(16);
  salt.copy(iv, 0, 0, 14);
  const s = Buffer.alloc(4);
  s.writeUInt32BE(ssrc >>> 0);
  for (let i = 0; i < 4; i++) iv[4 + i] ^= s[i];
  const idx = Buffer.alloc(8);
  idx.writeBigUInt64BE(BigInt(index));
  for (let i = 0; i < 6; i++) iv[8 + i] ^= idx[2 + i];
  return iv;
}

/** One direction of an SRTP stream (tracks ROC for one SSRC, in order). */
class SrtpStream {
  /** keySalt: 30 bytes, master key || master salt */
  constructor(keySalt) {
    this.keys = deriveKeys(keySalt.subarray(0, 16), keySalt.subarray(16, 30));
    this.roc = 0;
    this.lastSeq = null;
  }

  indexFor(seq) {
    if (this.lastSeq !== null && seq < 0x1000 && this.lastSeq > 0xf000) this.roc += 1;
    this.lastSeq = seq;
    return this.roc * 65536 + seq;
  }

  protect(rtp) {
    const hl = headerLength(rtp);
    const seq = rtp.readUInt16BE(2);
    const ssrc = rtp.readUInt32BE(8);
    const index = this.indexFor(seq);
    const c = crypto.createCipheriv('aes-128-ctr', this.keys.encKey, keystreamIv(this.keys.salt, ssrc, index));
    const body = Buffer.concat([rtp.subarray(0, hl), c.update(rtp.subarray(hl))]);
    return Buffer.concat([body, this.tag(body, Math.floor(index / 65536))]);
  }

  /** Returns the RTP packet, or null when authentication fails. */
  unprotect(srtp) {
    if (srtp.length < 22) return null;
    const body = srtp.subarray(0, srtp.length - 10);
    const seq = body.readUInt16BE(2);
    const roc = this.lastSeq !== null && seq < 0x1000 && this.lastSeq > 0xf000 ? this.roc + 1 : this.roc;
    if (!crypto.timingSafeEqual(this.tag(body, roc), srtp.subarray(srtp.length - 10))) return null;
    const index = this.indexFor(seq);
    const hl = headerLength(body);
    const d = crypto.createDecipheriv('aes-128-ctr', this.keys.encKey, keystreamIv(this.keys.salt, body.readUInt32BE(8), index));
    return Buffer.concat([body.subarray(0, hl), d.update(body.subarray(hl))]);
  }

  tag(body, roc) {
    const r = Buffer.alloc(4);
    r.writeUInt32BE(roc >>> 0);
    return crypto.createHmac('sha1', this.keys.authKey).update(body).update(r).digest().subarray(0, 10);
  }
}

/** A plain RTP packet (PCMU, 8 kHz, 20 ms). */
function rtpPacket({ seq, ts, ssrc, payload, pt = 0, marker = false }) {
  const h = Buffer.alloc(12);
  h[0] = 0x80;
  h[1] = (marker ? 0x80 : 0) | pt;
  h.writeUInt16BE(seq & 0xffff, 2);
  h.writeUInt32BE(ts >>> 0, 4);
  h.writeUInt32BE(ssrc >>> 0, 8);
  return Buffer.concat([h, payload]);
}

module.exports = { SrtpStream, rtpPacket, deriveKeys };
