'use strict';
// Hostile SRTP through a running pipeline: wrong key, bad tag, replays, packets
// older than the replay window, sequence jumps of more than 2^15 either way, and
// SSRC floods on both legs. Each is dropped and counted, and the call's real
// stream is still relayed and decrypts correctly (test/helpers/srtp.js oracle).
const test = require('node:test');
const assert = require('node:assert');
const crypto = require('node:crypto');
const { MediaEngine } = require('../../dist');
const { SrtpStream, rtpPacket } = require('../helpers/srtp');
const { waitUntil } = require('../helpers/udp');
const { sdesCall } = require('../helpers/pipelines');

const PORTS = { portMin: 50000, portMax: 50199 };
/**
 * Sends `pkts` in chunks of 50 and after each waits until `progress()` has
 * grown by what was sent: a burst of thousands would overflow the socket
 * buffers (~200 datagrams) on the way, which is not what these tests measure.
 */
async function sendPaced(from, port, pkts, progress) {
  const base = progress();
  for (let i = 0; i < pkts.length; i += 50) {
    for (const pkt of pkts.slice(i, i + 50)) await from.sendTo(pkt, port);
    const want = base + Math.min(i + 50, pkts.length);
    await waitUntil(() => progress() >= want, 5000, `${want - base} of ${pkts.length} processed`);
  }
}

/** A payload that names its packet, so what arrives can be checked. */
const payload = (tag, seq) => Buffer.concat([Buffer.from(`${tag}:${seq}:`), Buffer.alloc(140, seq & 0xff)]);

/** A sender of genuine SRTP for `ssrc` under `key`, at a chosen ROC. */
function sender(key, ssrc, roc = 0) {
  const s = new SrtpStream(key);
  s.roc = roc;
  return (seq, tag = 'real') => s.protect(rtpPacket({ seq, ts: seq * 160, ssrc, payload: payload(tag, seq) }));
}

test('wrong key, bad tag, replayed, too old and far-jumping SRTP is dropped; the real stream is untouched', async (t) => {
  const engine = new MediaEngine({ ...PORTS, workers: 1, mediaTimeoutSecs: 0 });
  t.after(() => engine.shutdown());
  const { p, rtpPeer, srtpPeer, k2 } = await sdesCall(engine, t);
  const port = p.local.b.rtpPort;
  // The real stream starts at seq 40000 (RTP starts anywhere), leaves a gap
  // at 40100-40109 and runs to 42000: more than the 1024-packet replay window.
  const real = sender(k2, 0x5eed);
  const sent = [];
  for (let seq = 40000; seq <= 42000; seq++) {
    if (seq < 40100 || seq >= 40110) sent.push([seq, real(seq)]);
  }
  await sendPaced(srtpPeer, port, sent.map(([, pkt]) => pkt), () => rtpPeer.received.length);
  const before = p.stats().b;

  const attacks = [];
  // A wrong key, under the stream's SSRC and under 50 others.
  const wrong = crypto.randomBytes(30);
  for (let i = 0; i < 50; i++) attacks.push(['auth_fail', sender(wrong, i === 0 ? 0x5eed : 1000 + i)(42001 + i, 'forged')]);
  // Bad tags: genuine packets for the next sequence numbers, one bit flipped.
  const ahead = sender(k2, 0x5eed);
  for (let i = 0; i < 5; i++) {
    const pkt = Buffer.from(ahead(42001 + i, 'tampered'));
    pkt[pkt.length - 1 - i] ^= 0x10;
    attacks.push(['auth_fail', pkt]);
  }
  // Replays of packets already relayed.
  for (const [, pkt] of sent.slice(-20, -10)) attacks.push(['replay', pkt]);
  // Genuine packets never sent before but older than the window (the gap).
  const gap = sender(k2, 0x5eed);
  for (let seq = 40100; seq < 40110; seq++) attacks.push(['replay', gap(seq, 'old')]);
  // Genuine packets more than 2^15 ahead (index 82000, ROC 1) and behind
  // (index 2000): RFC 3711 puts them in the wrong rollover period.
  attacks.push(['far', sender(k2, 0x5eed, 1)(82000 - 65536, 'far-ahead')]);
  attacks.push(['far', sender(k2, 0x5eed)(2000, 'far-behind')]);
  await sendPaced(srtpPeer, port, attacks.map(([, pkt]) => pkt), () => p.stats().b.packetsIn);
  const s = p.stats().b;
  const delta = (k) => s.drops[k] - before.drops[k];
  const expected = (k) => attacks.filter(([kind]) => kind === k).length;
  assert.equal(delta('auth_fail') + delta('replay'), attacks.length, JSON.stringify(s.drops));
  assert.ok(delta('auth_fail') >= expected('auth_fail'), `auth_fail ${delta('auth_fail')}`);
  assert.ok(delta('replay') >= expected('replay'), `replay ${delta('replay')}`);
  assert.equal(rtpPeer.received.length, sent.length, 'no attack packet was relayed');

  // The real stream goes on, in order, with its own content.
  const more = [];
  for (let seq = 42001; seq <= 42100; seq++) more.push(real(seq));
  await sendPaced(srtpPeer, port, more, () => rtpPeer.received.length);
  const got = rtpPeer.received.slice(sent.length).map(({ msg }) => msg);
  got.forEach((msg, i) => {
    assert.equal(msg.readUInt16BE(2), 42001 + i);
    assert.deepEqual(msg.subarray(12), payload('real', 42001 + i));
  });
  assert.equal(p.stats().b.latched, `127.0.0.1:${srtpPeer.port}`);
});

test('SSRC floods: capped on the plain leg, free for forged SRTP; the real stream still decrypts', async (t) => {
  const engine = new MediaEngine({ ...PORTS, workers: 1, mediaTimeoutSecs: 0 });
  t.after(() => engine.shutdown());
  const { p, rtpPeer, srtpPeer, k1, k2 } = await sdesCall(engine, t);
  const oracle = new SrtpStream(k1);
  let seq = 1;
  const realPacket = () => {
    const n = seq++;
    return rtpPacket({ seq: n, ts: n * 160, ssrc: 0xabc, payload: payload('real', n) });
  };
  const inA = () => p.stats().a.packetsIn;
  await sendPaced(rtpPeer, p.local.a.rtpPort, Array.from({ length: 20 }, realPacket), inA);
  await srtpPeer.waitFor(20);

  // 3000 packets from the latched RTP peer, each with a new SSRC, with real
  // packets in between. The SRTP side keeps at most 16 streams.
  const FLOOD = 3000;
  const flood = [];
  for (let i = 0; i < FLOOD; i++) {
    flood.push(rtpPacket({ seq: 1, ts: 0, ssrc: 0x10000 + i, payload: payload('flood', i) }));
    if (i % 100 === 99) flood.push(realPacket());
  }
  for (let i = 0; i < 20; i++) flood.push(realPacket());
  await sendPaced(rtpPeer, p.local.a.rtpPort, flood, inA);
  const realSent = seq - 1;
  assert.equal(inA(), FLOOD + realSent);
  const s = p.stats();
  assert.equal(s.b.drops.ssrc_limit, FLOOD - 15, 'one SRTP stream per SSRC up to 16 (the real one included)');
  assert.equal(s.b.packetsOut, realSent + 15);

  // Every real packet arrived and decrypts with the independent oracle, in order.
  await srtpPeer.waitFor(realSent + 15);
  const real = srtpPeer.received.map(({ msg }) => msg).filter((m) => m.readUInt32BE(8) === 0xabc);
  assert.equal(real.length, realSent);
  real.forEach((msg, i) => {
    const plain = oracle.unprotect(msg);
    assert.ok(plain, `packet ${i + 1} authenticates`);
    assert.deepEqual(plain.subarray(12), payload('real', i + 1));
  });

  // On the SRTP leg, 500 SSRCs under a wrong key take no stream slot: the
  // peer's own new SSRCs (a second stream) are still accepted afterwards.
  const wrong = crypto.randomBytes(30);
  const forged = Array.from({ length: 500 }, (_, i) => sender(wrong, 0x20000 + i)(1, 'forged'));
  const second = Array.from({ length: 10 }, (_, i) => sender(k2, 0x30000 + i)(7, 'second'));
  await sendPaced(srtpPeer, p.local.b.rtpPort, [...forged, ...second], () => p.stats().b.packetsIn);
  assert.equal(p.stats().b.drops.auth_fail, 500);
  assert.equal(p.stats().b.drops.ssrc_limit, FLOOD - 15, 'no inbound SSRC was refused');
  await rtpPeer.waitFor(10);
  assert.deepEqual(rtpPeer.received.map(({ msg }) => msg.subarray(12).toString('latin1', 0, 9)), Array(10).fill('second:7:'));
});
