'use strict';
// SRTP rollover counters and replay windows survive hold/resume across the
// 16-bit sequence wrap: the wrap happens while the call is on hold.
const test = require('node:test');
const assert = require('node:assert');
const { MediaEngine } = require('../../dist');
const { SrtpStream, rtpPacket } = require('../helpers/srtp');
const { waitUntil } = require('../helpers/udp');
const { sdesCall } = require('../helpers/pipelines');

test('sequence wrap during hold: audio still decrypts both ways after resume', async (t) => {
  const engine = new MediaEngine({ portMin: 44500, portMax: 44999, workers: 1, mediaTimeoutSecs: 0 });
  t.after(() => engine.shutdown());
  const { p, rtpPeer: plain, srtpPeer: secure, k1: engineKey, k2: peerKey } = await sdesCall(engine, t);
  const toEngine = new SrtpStream(peerKey); // the SRTP party's sender
  const fromEngine = new SrtpStream(engineKey); // the SRTP party's receiver
  const payload = (tag, seq) => Buffer.concat([Buffer.from(tag), Buffer.alloc(4, seq & 0xff), Buffer.alloc(150, 0x55)]);
  let seqS = 65500; // SRTP party
  let seqP = 65510; // plain party
  const sendBoth = async (n) => {
    for (let i = 0; i < n; i++) {
      await secure.sendTo(toEngine.protect(rtpPacket({ seq: seqS & 0xffff, ts: seqS * 160, ssrc: 0xaaaa, payload: payload('SRTP', seqS) })), p.local.b.rtpPort);
      await plain.sendTo(rtpPacket({ seq: seqP & 0xffff, ts: seqP * 160, ssrc: 0xbbbb, payload: payload('RTP!', seqP) }), p.local.a.rtpPort);
      seqS++;
      seqP++;
    }
  };
  await sendBoth(10);
  await plain.waitFor(10);
  await secure.waitFor(10);
  for (const { msg } of secure.received) assert.ok(fromEngine.unprotect(msg), 'before hold');
  // The SRTP party holds the plain party and streams music: its packets keep
  // arriving (and authenticating) while the plain party's are not relayed.
  await p.update('b', { direction: 'sendonly' });
  await p.update('a', { direction: 'recvonly' });
  await sendBoth(60); // both sequences cross 65535 during hold
  await plain.waitFor(70);
  assert.equal(secure.received.length, 10, 'nothing toward the holder on hold');
  await p.update('b', { direction: 'sendrecv' });
  await p.update('a', { direction: 'sendrecv' });
  await sendBoth(20);
  await plain.waitFor(90);
  await secure.waitFor(30);
  // Everything the plain party got decrypted correctly, wrap included.
  plain.received.slice(-20).forEach(({ msg }) => assert.equal(msg.subarray(12, 16).toString(), 'SRTP'));
  assert.ok(plain.received.some(({ msg }) => msg.readUInt16BE(2) < 100), 'packets after the wrap arrived');
  // And the SRTP party can decrypt what the engine sent after the wrap.
  for (const { msg } of secure.received.slice(10)) {
    // (the receiver infers ROC 1 from the jump 65519 -> 44 across the wrap)
    const rtp = fromEngine.unprotect(msg);
    assert.ok(rtp, `authenticates (seq ${msg.readUInt16BE(2)})`);
    assert.equal(rtp.subarray(12, 16).toString(), 'RTP!');
  }
  const s = p.stats();
  assert.equal(s.b.drops.auth_fail, 0);
  assert.equal(s.b.drops.replay, 0);
  assert.equal(s.a.drops.direction, 60);
});
