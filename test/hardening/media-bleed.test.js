'use strict';
// RTP bleed: once a leg has latched, media from any other address or port
// (other ports on the same host, other hosts, RTP and RTCP ports) is never
// relayed, however much of it arrives and however it interleaves with the real
// stream. A re-INVITE that moves the peer (engine update with a new address)
// re-latches to the new peer, and the old address is refused afterwards.
// (test/media/bad-input.test.js covers a single packet from a second source.)
const test = require('node:test');
const assert = require('node:assert');
const crypto = require('node:crypto');
const dgram = require('node:dgram');
const { MediaEngine } = require('../../dist');
const { SrtpStream, rtpPacket } = require('../helpers/srtp');
const { udpSocket, waitUntil } = require('../helpers/udp');

const PORTS = { portMin: 51000, portMax: 51199 };

/** A UDP socket on another loopback address (127.0.0.0/8 is all local). */
async function socketOn(host) {
  const s = dgram.createSocket('udp4');
  await new Promise((resolve, reject) => {
    s.once('error', reject);
    s.bind(0, host, resolve);
  });
  s.sendTo = (buf, port) => new Promise((resolve, reject) => s.send(buf, port, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
  return s;
}

const pkt = (seq, ssrc, tag) => rtpPacket({ seq, ts: seq * 160, ssrc, payload: Buffer.concat([Buffer.from(tag), Buffer.alloc(150, seq & 0xff)]) });
const tagOf = (msg) => msg.subarray(12, 18).toString('latin1');

test('after latching, nothing from other ports or hosts is relayed, on RTP or RTCP ports', async (t) => {
  const engine = new MediaEngine({ ...PORTS, workers: 2, mediaTimeoutSecs: 0 });
  t.after(() => engine.shutdown());
  const a = await udpSocket();
  const b = await udpSocket();
  const sameHost = await udpSocket();
  const otherHost = await socketOn('127.0.0.2');
  t.after(() => (a.close(), b.close(), sameHost.close(), otherHost.close()));
  // No rtcp-mux: separate RTCP ports on both legs (the peers send RTCP from
  // their RTP socket, so RTCP comes back there).
  const p = engine.createPipeline({
    a: { kind: 'rtp', remoteAddress: '127.0.0.1', remotePort: a.port, remoteRtcpPort: a.port },
    b: { kind: 'rtp', remoteAddress: '127.0.0.1', remotePort: b.port, remoteRtcpPort: b.port },
  });
  await a.sendTo(pkt(1, 1, 'real-a'), p.local.a.rtpPort);
  await b.sendTo(pkt(1, 2, 'real-b'), p.local.b.rtpPort);
  await b.waitFor(1);
  await a.waitFor(1);
  assert.equal(p.stats().a.latched, `127.0.0.1:${a.port}`);

  // 400 bleed packets per source and port, real packets in between.
  const targets = [p.local.a.rtpPort, p.local.b.rtpPort];
  const rtcpTargets = [p.local.a.rtcpPort, p.local.b.rtcpPort];
  // RTCP latches too: give each RTCP port its real peer first.
  const rr = (ssrc) => Buffer.from([0x80, 201, 0, 1, 0, 0, 0, ssrc]);
  await a.sendTo(rr(1), p.local.a.rtcpPort);
  await b.sendTo(rr(2), p.local.b.rtcpPort);
  const processed = () => {
    const st = p.stats();
    return st.a.packetsIn + st.b.packetsIn;
  };
  let bleed = 0;
  let sent = processed();
  for (let i = 0; i < 400; i++) {
    for (const src of [sameHost, otherHost]) {
      for (const port of targets) await src.sendTo(pkt(100 + i, 66, 'bleed!'), port);
      for (const port of rtcpTargets) await src.sendTo(rr(66), port);
      bleed += 4;
      sent += 4;
    }
    if (i % 40 === 0) {
      await a.sendTo(pkt(2 + i, 1, 'real-a'), p.local.a.rtpPort);
      await b.sendTo(pkt(2 + i, 2, 'real-b'), p.local.b.rtpPort);
      sent += 2;
    }
    // Paced: a burst of thousands would overflow the sockets' buffers.
    if (i % 10 === 9) await waitUntil(() => processed() >= sent, 5000, `${sent} datagrams processed`);
  }
  const s = p.stats();
  assert.equal(s.a.drops.wrong_source + s.b.drops.wrong_source, bleed, JSON.stringify([s.a.drops, s.b.drops]));
  assert.equal(sameHost.received.length, 0, 'the bleeding source heard nothing back');
  // Each peer got exactly the other's real RTP (11 packets) and its RTCP.
  for (const [peer, tag] of [[a, 'real-b'], [b, 'real-a']]) {
    await waitUntil(() => peer.received.length >= 12, 3000, `${tag} relayed`);
    const rtp = peer.received.filter(({ msg }) => msg[1] !== 201);
    assert.equal(rtp.length, 11);
    assert.ok(rtp.every(({ msg }) => tagOf(msg) === tag), 'only real media relayed');
  }
});

test('a re-INVITE that moves the peer re-latches to the new address; the old one is refused', async (t) => {
  const engine = new MediaEngine({ ...PORTS, workers: 1, mediaTimeoutSecs: 0 });
  t.after(() => engine.shutdown());
  const a = await udpSocket();
  const oldB = await udpSocket();
  const newB = await socketOn('127.0.0.2');
  newB.received = [];
  newB.on('message', (msg) => newB.received.push(msg));
  const attacker = await udpSocket();
  t.after(() => (a.close(), oldB.close(), newB.close(), attacker.close()));
  // Leg b is SDES-SRTP: after the move, only a packet that authenticates
  // may take the latch; an attacker racing the new peer cannot.
  const kIn = crypto.randomBytes(30);
  const kOut = crypto.randomBytes(30);
  const suite = 'AES_CM_128_HMAC_SHA1_80';
  const p = engine.createPipeline({
    a: { kind: 'rtp', remoteAddress: '127.0.0.1', remotePort: a.port },
    b: {
      kind: 'sdes-srtp',
      localKey: { suite, key: kOut.toString('base64') },
      remoteKey: { suite, key: kIn.toString('base64') },
      remoteAddress: '127.0.0.1',
      remotePort: oldB.port,
      rtcpMux: true,
    },
  });
  const fromB = new SrtpStream(kIn);
  let seq = 1;
  await oldB.sendTo(fromB.protect(pkt(seq++, 7, 'old-b!')), p.local.b.rtpPort);
  await a.waitFor(1);
  assert.equal(p.stats().b.latched, `127.0.0.1:${oldB.port}`);

  // re-INVITE: the callee's media moves to 127.0.0.2:newB (same keys).
  await p.update('b', { remoteAddress: '127.0.0.2', remotePort: newB.address().port });
  // Caller media goes to the new address at once.
  await a.sendTo(pkt(1, 9, 'from-a'), p.local.a.rtpPort);
  await waitUntil(() => newB.received.length === 1, 3000, 'caller media at the new address');
  // An attacker without the key cannot take the free latch.
  await attacker.sendTo(new SrtpStream(crypto.randomBytes(30)).protect(pkt(seq, 7, 'attack')), p.local.b.rtpPort);
  await waitUntil(() => p.stats().b.drops.auth_fail === 1, 3000, 'forged packet dropped');
  assert.ok(!p.stats().b.latched, 'not latched to the attacker');
  // The new peer's first genuine packet latches it and is relayed.
  const viaNew = (buf) => newB.sendTo(buf, p.local.b.rtpPort);
  await viaNew(fromB.protect(pkt(seq++, 7, 'new-b!')));
  await waitUntil(() => a.received.length === 2, 3000, 'new peer relayed');
  assert.equal(p.stats().b.latched, `127.0.0.2:${newB.address().port}`);
  // Late packets from the old address (and the attacker) are refused now.
  for (let i = 0; i < 20; i++) {
    await oldB.sendTo(fromB.protect(pkt(seq++, 7, 'old-b!')), p.local.b.rtpPort);
    await attacker.sendTo(pkt(1000 + i, 7, 'attack'), p.local.b.rtpPort);
  }
  await viaNew(fromB.protect(pkt(seq++, 7, 'new-b!')));
  await waitUntil(() => a.received.length === 3, 3000, 'new peer still relayed');
  const s = p.stats().b;
  assert.equal(s.drops.wrong_source, 40);
  assert.deepEqual(a.received.map(({ msg }) => tagOf(msg)), ['old-b!', 'new-b!', 'new-b!']);
  assert.equal(oldB.received.length, 0, 'nothing went back to the old address after the move');
  assert.equal(attacker.received.length, 0);
});
