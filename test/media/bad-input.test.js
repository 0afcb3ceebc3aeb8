'use strict';
// Hostile and broken datagrams on every port are dropped and counted, and the
// engine keeps serving this call and others.
const test = require('node:test');
const assert = require('node:assert');
const crypto = require('node:crypto');
const { MediaEngine } = require('../../dist');
const { SrtpStream, rtpPacket } = require('../helpers/srtp');
const { udpSocket, waitUntil } = require('../helpers/udp');
const { sdesCall } = require('../helpers/pipelines');

test('garbage, truncated, oversized, forged, replayed and hijack packets are dropped and counted', async (t) => {
  const engine = new MediaEngine({ portMin: 42000, portMax: 42999, workers: 2, mediaTimeoutSecs: 0 });
  t.after(() => engine.shutdown());
  const call = await sdesCall(engine, t);
  const other = await sdesCall(engine, t);
  const attacker = await udpSocket();
  t.after(() => attacker.close());
  const { p } = call;

  // Latch both legs with valid media first.
  const tx = new SrtpStream(call.k2);
  const valid = tx.protect(rtpPacket({ seq: 1, ts: 0, ssrc: 5, payload: Buffer.alloc(160, 1) }));
  await call.srtpPeer.sendTo(valid, p.local.b.rtpPort);
  await call.rtpPeer.sendTo(rtpPacket({ seq: 1, ts: 0, ssrc: 6, payload: Buffer.alloc(160, 2) }), p.local.a.rtpPort);
  await call.rtpPeer.waitFor(1);
  await call.srtpPeer.waitFor(1);

  // Each leg's junk comes from that leg's own (latched) peer, so it is judged
  // on its content, not its source.
  const ports = [
    [call.rtpPeer, p.local.a.rtpPort],
    [call.rtpPeer, p.local.a.rtcpPort],
    [call.srtpPeer, p.local.b.rtpPort],
    [call.srtpPeer, p.local.b.rtcpPort],
  ];
  const junk = [
    Buffer.from([0x40, 1, 2, 3]), // outside every RFC 7983 range
    Buffer.alloc(0),
    Buffer.from([0x80, 0x00, 0x01]), // truncated RTP
    Buffer.from([0x8f, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]), // 15 CSRCs announced, none present
    Buffer.alloc(3000, 0x80), // oversized
    Buffer.from([0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42, ...crypto.randomBytes(12)]), // STUN
    Buffer.alloc(200, 0xff), // first byte above every range
  ];
  for (const [from, port] of ports) for (const j of junk) await from.sendTo(j, port);
  // Forged SRTP (bad tag) and a replay, from the latched SRTP peer.
  const forged = Buffer.from(tx.protect(rtpPacket({ seq: 2, ts: 160, ssrc: 5, payload: Buffer.alloc(160, 3) })));
  forged[forged.length - 1] ^= 0x55;
  await call.srtpPeer.sendTo(forged, p.local.b.rtpPort);
  await call.srtpPeer.sendTo(valid, p.local.b.rtpPort);
  // A second source on each leg after latching (RTP bleed / hijack).
  await attacker.sendTo(rtpPacket({ seq: 9, ts: 0, ssrc: 6, payload: Buffer.alloc(160, 9) }), p.local.a.rtpPort);
  await attacker.sendTo(tx.protect(rtpPacket({ seq: 3, ts: 320, ssrc: 5, payload: Buffer.alloc(160, 9) })), p.local.b.rtpPort);
  // DTLS on a leg that does not speak it.
  await attacker.sendTo(Buffer.from([22, 254, 253, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), p.local.a.rtpPort);

  await waitUntil(() => {
    const s = p.stats();
    return s.a.packetsIn + s.b.packetsIn >= 2 + 4 * junk.length + 5 - 4; // empty datagrams may not count
  }, 3000, 'all hostile datagrams processed');
  const s = p.stats();
  const drops = (k) => s.a.drops[k] + s.b.drops[k];
  if (process.env.DEBUG_DROPS) console.log(JSON.stringify(s, null, 1));
  assert.ok(drops('malformed') >= 4 * 4, `malformed ${drops('malformed')}`);
  assert.equal(drops('oversized'), 4);
  assert.equal(drops('stun'), 4);
  assert.equal(s.b.drops.auth_fail, 1);
  assert.equal(s.b.drops.replay, 1);
  assert.equal(s.a.drops.wrong_source + s.b.drops.wrong_source, 2);
  assert.equal(s.a.drops.unexpected_dtls + s.a.drops.wrong_source, 2);
  assert.equal(attacker.received.length, 0, 'nothing answered the attacker');
  assert.equal(call.rtpPeer.received.length, 1, 'no hostile packet reached the RTP peer');
  assert.equal(call.srtpPeer.received.length, 1, 'no hostile packet reached the SRTP peer');

  // This call and the other one still relay.
  await call.srtpPeer.sendTo(tx.protect(rtpPacket({ seq: 4, ts: 480, ssrc: 5, payload: Buffer.alloc(160, 4) })), p.local.b.rtpPort);
  await call.rtpPeer.waitFor(2);
  assert.deepEqual(call.rtpPeer.received[1].msg.subarray(12), Buffer.alloc(160, 4));
  await other.rtpPeer.sendTo(rtpPacket({ seq: 1, ts: 0, ssrc: 8, payload: Buffer.alloc(160, 8) }), other.p.local.a.rtpPort);
  await other.srtpPeer.waitFor(1);
  assert.deepEqual(new SrtpStream(other.k1).unprotect(other.srtpPeer.received[0].msg).subarray(12), Buffer.alloc(160, 8));
});

test('an SSRC flood on the plain leg does not grow state without bound', async (t) => {
  const engine = new MediaEngine({ portMin: 42000, portMax: 42999, workers: 1, mediaTimeoutSecs: 0 });
  t.after(() => engine.shutdown());
  const call = await sdesCall(engine, t);
  for (let ssrc = 0; ssrc < 200; ssrc++) {
    await call.rtpPeer.sendTo(rtpPacket({ seq: 1, ts: 0, ssrc, payload: Buffer.alloc(20) }), call.p.local.a.rtpPort);
  }
  await waitUntil(() => call.p.stats().a.packetsIn === 200, 3000, '200 packets');
  const s = call.p.stats();
  assert.equal(s.b.packetsOut, 16, 'one SRTP stream per SSRC up to the cap');
  assert.equal(s.b.drops.ssrc_limit, 184);
});

test('invalid specifications are refused with clear errors', () => {
  const engine = new MediaEngine({ portMin: 42000, portMax: 42999, workers: 1 });
  try {
    assert.throws(() => engine.createPipeline({ a: { kind: 'rtp' }, b: { kind: 'bogus' } }), { code: 'InvalidSpec', message: /leg kind/ });
    assert.throws(
      () => engine.createPipeline({ a: { kind: 'rtp' }, b: { kind: 'dtls-srtp', role: 'passive', remoteFingerprints: [{ hash: 'md5', value: 'AA' }] } }),
      { code: 'InvalidSpec', message: /unsupported fingerprint hash 'md5'/ },
    );
    assert.throws(
      () => engine.createPipeline({ a: { kind: 'rtp' }, b: { kind: 'sdes-srtp', localKey: { suite: 'AES_CM_128_HMAC_SHA1_80', key: 'AAAA' } } }),
      { code: 'InvalidSpec', message: /must be 30 bytes/ },
    );
    assert.throws(() => new MediaEngine({ portMin: 5000, portMax: 5001 }), /portMax/);
    assert.equal(engine.counters().portPairsInUse, 0, 'refused specs hold no ports');
  } finally {
    engine.shutdown();
  }
});

test('port exhaustion is reported as PortsExhausted (maps to 503); a closed call frees its ports', async () => {
  const engine = new MediaEngine({ portMin: 43000, portMax: 43008, workers: 1 });
  try {
    const made = [];
    made.push(engine.createPipeline({ a: { kind: 'rtp' }, b: { kind: 'rtp' } }));
    made.push(engine.createPipeline({ a: { kind: 'rtp' }, b: { kind: 'rtp' } }));
    let err;
    try {
      engine.createPipeline({ a: { kind: 'rtp' }, b: { kind: 'rtp' } });
    } catch (e) {
      err = e;
    }
    assert.equal(err.code, 'PortsExhausted');
    assert.equal(err.sipStatus, 503);
    await made[0].close();
    engine.createPipeline({ a: { kind: 'rtp' }, b: { kind: 'rtp' } });
  } finally {
    engine.shutdown();
  }
});

test('a stray DTLS alert before the handshake does not take the association: the real client still connects', async (t) => {
  const engine = new MediaEngine({ portMin: 45800, portMax: 45899, workers: 1, mediaTimeoutSecs: 0, retransmitInitialMs: 200 });
  t.after(() => engine.shutdown());
  const fp = engine.currentFingerprint('sha-256');
  const server = engine.createPipeline({ a: { kind: 'dtls-srtp', role: 'passive', remoteFingerprints: [fp] }, b: { kind: 'rtp' } });
  // What a previous user of this port would still get: an encrypted alert
  // record (epoch 1) such as a late close_notify, from another address.
  const stray = await udpSocket();
  t.after(() => stray.close());
  const alert = Buffer.concat([Buffer.from([21, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 7, 0, 26]), crypto.randomBytes(26)]);
  await stray.sendTo(alert, server.local.a.rtpPort);
  await waitUntil(() => server.stats().a.drops.unexpected_dtls === 1, 3000, 'the stray alert dropped');
  const client = engine.createPipeline({
    a: { kind: 'rtp' },
    b: { kind: 'dtls-srtp', role: 'active', remoteFingerprints: [fp], remoteAddress: '127.0.0.1', remotePort: server.local.a.rtpPort },
  });
  await waitUntil(() => server.stats().a.dtlsState === 'connected' && client.stats().b.dtlsState === 'connected', 5000, 'the real client connected');
  assert.equal(server.stats().a.drops.wrong_source, 0, 'nothing of the real client was dropped');
});
