'use strict';
// A pipeline created through the typed API relays real UDP: RTP into SRTP and
// back, payloads verified byte for byte (SRTP checked by an independent
// implementation), with stats and events observed and ports freed on close.
const test = require('node:test');
const assert = require('node:assert');
const crypto = require('node:crypto');
const { MediaEngine } = require('../../dist');
const { SrtpStream, rtpPacket } = require('../helpers/srtp');
const { udpSocket, udpTap, waitUntil, portIsFree } = require('../helpers/udp');
const { sdesCall } = require('../helpers/pipelines');

const PORTS = { portMin: 41000, portMax: 41999 };

function collectEvents(emitter) {
  const events = [];
  emitter.on('event', (e) => events.push(e));
  return events;
}

function payload(i) {
  return crypto.createHash('sha512').update(String(i)).digest().subarray(0, 40);
}

// Both socket I/O backends (ESBC_IO_BACKEND, read when an engine starts):
// io_uring is what this machine selects by default, epoll the fallback.
function engineOn(io, options) {
  const before = process.env.ESBC_IO_BACKEND;
  process.env.ESBC_IO_BACKEND = io;
  try {
    const engine = new MediaEngine(options);
    assert.equal(engine.counters().ioBackend, io);
    return engine;
  } finally {
    if (before === undefined) delete process.env.ESBC_IO_BACKEND;
    else process.env.ESBC_IO_BACKEND = before;
  }
}

for (const io of ['io_uring', 'epoll']) test(`RTP <-> SDES-SRTP relay through the engine (${io})`, async (t) => {
  const engine = engineOn(io, { ...PORTS, workers: 2, mediaTimeoutSecs: 0 });
  t.after(() => engine.shutdown());
  // The engine sends with k1, the peer with k2.
  const { p, rtpPeer, srtpPeer, k1, k2 } = await sdesCall(engine, t);
  const events = collectEvents(p);
  assert.equal(p.local.a.rtcpPort, p.local.a.rtpPort + 1);
  assert.equal(p.local.a.rtpPort % 2, 0);

  // RTP -> SRTP: sequence numbers cross the 16-bit wrap on the way.
  const rx = new SrtpStream(k1);
  const sent = [];
  for (let i = 0; i < 20; i++) {
    const pkt = rtpPacket({ seq: (65530 + i) & 0xffff, ts: i * 160, ssrc: 0x1111, payload: payload(i) });
    sent.push(pkt);
    await rtpPeer.sendTo(pkt, p.local.a.rtpPort);
  }
  await srtpPeer.waitFor(20);
  srtpPeer.received.forEach(({ msg }, i) => {
    assert.equal(msg.length, sent[i].length + 10, 'SRTP adds an 80-bit tag');
    assert.notDeepEqual(msg.subarray(12, 52), sent[i].subarray(12), 'payload encrypted on the wire');
    assert.deepEqual(rx.unprotect(msg), sent[i], `packet ${i} decrypts to what was sent`);
  });

  // SRTP -> RTP.
  const tx = new SrtpStream(k2);
  const back = [];
  for (let i = 0; i < 10; i++) {
    const pkt = rtpPacket({ seq: 100 + i, ts: i * 160, ssrc: 0x2222, payload: payload(1000 + i) });
    back.push(pkt);
    await srtpPeer.sendTo(tx.protect(pkt), p.local.b.rtpPort);
  }
  await rtpPeer.waitFor(10);
  rtpPeer.received.forEach(({ msg, from }, i) => {
    assert.deepEqual(msg, back[i]);
    assert.equal(from, `127.0.0.1:${p.local.a.rtpPort}`, 'sent from the leg\'s own port (symmetric RTP)');
  });

  const s = p.stats();
  assert.equal(s.a.packetsIn, 20);
  assert.equal(s.b.packetsOut, 20);
  assert.equal(s.b.packetsIn, 10);
  assert.equal(s.a.packetsOut, 10);
  assert.equal(s.b.profile, 'SRTP_AES128_CM_SHA1_80');
  assert.equal(s.a.latched, `127.0.0.1:${rtpPeer.port}`);
  assert.equal(s.b.latched, `127.0.0.1:${srtpPeer.port}`);
  await waitUntil(() => events.filter((e) => e.type === 'media-latched').length === 2, 2000, 'latch events');
  assert.deepEqual(events.map((e) => `${e.type}:${e.side}`).sort(), ['media-latched:a', 'media-latched:b']);

  const ports = [p.local.a.rtpPort, p.local.a.rtcpPort, p.local.b.rtpPort, p.local.b.rtcpPort];
  const final = await p.close();
  assert.equal(final.a.packetsIn, 20);
  for (const port of ports) assert.ok(await portIsFree(port), `port ${port} freed on close`);
  assert.equal(engine.counters().portPairsInUse, 0);
});

test('DTLS-SRTP between two pipelines over UDP, RTP on the outer legs', async (t) => {
  const engine = new MediaEngine({ ...PORTS, workers: 2, mediaTimeoutSecs: 0, retransmitInitialMs: 200 });
  t.after(() => engine.shutdown());
  const x = await udpSocket();
  const y = await udpSocket();
  const tap = await udpTap();
  t.after(() => (x.close(), y.close(), tap.close()));
  const fp = engine.currentFingerprint('sha-256');
  // P2.a is the DTLS server; P1.b the client. The tap sits between them.
  const p2 = engine.createPipeline({
    a: { kind: 'dtls-srtp', role: 'passive', remoteFingerprints: [fp], rtcpMux: true },
    b: { kind: 'rtp', remoteAddress: '127.0.0.1', remotePort: y.port },
  });
  tap.rightPeer = p2.local.a.rtpPort;
  const p1 = engine.createPipeline({
    a: { kind: 'rtp', remoteAddress: '127.0.0.1', remotePort: x.port },
    b: { kind: 'dtls-srtp', role: 'active', remoteFingerprints: [fp], remoteAddress: '127.0.0.1', remotePort: tap.left.port, rtcpMux: true },
  });
  const e1 = collectEvents(p1);
  const e2 = collectEvents(p2);
  await waitUntil(() => e1.some((e) => e.type === 'dtls-connected') && e2.some((e) => e.type === 'dtls-connected'), 5000, 'DTLS connected');
  const c1 = e1.find((e) => e.type === 'dtls-connected');
  assert.equal(c1.side, 'b');
  assert.equal(c1.profile, 'SRTP_AES128_CM_SHA1_80');
  assert.deepEqual(c1.peerFingerprint, fp);
  for (let i = 0; i < 10; i++) {
    await x.sendTo(rtpPacket({ seq: i, ts: i * 160, ssrc: 7, payload: payload(i) }), p1.local.a.rtpPort);
  }
  await y.waitFor(10);
  y.received.forEach(({ msg }, i) => assert.deepEqual(msg.subarray(12), payload(i)));
  const srtpOnWire = tap.toRight.filter((m) => m[0] >= 128 && m[0] <= 191);
  assert.equal(srtpOnWire.length, 10);
  for (const m of srtpOnWire) assert.equal(m.indexOf(payload(0).subarray(0, 8)), -1, 'no plaintext between the pipelines');
  // And back.
  for (let i = 0; i < 5; i++) await y.sendTo(rtpPacket({ seq: i, ts: 0, ssrc: 9, payload: payload(50 + i) }), p2.local.b.rtpPort);
  await x.waitFor(5);
  assert.deepEqual(x.received[4].msg.subarray(12), payload(54));
  assert.equal(p1.stats().b.handshakes, 1);
  assert.equal(p2.stats().a.dtlsState, 'connected');
});

test('DTLS peer whose certificate does not match the SDP fingerprint gets no media', async (t) => {
  const engine = new MediaEngine({ ...PORTS, workers: 1, mediaTimeoutSecs: 0, retransmitInitialMs: 200 });
  t.after(() => engine.shutdown());
  const x = await udpSocket();
  const y = await udpSocket();
  t.after(() => (x.close(), y.close()));
  const fp = engine.currentFingerprint('sha-256');
  const wrong = { hash: 'sha-256', value: fp.value.replace(/^../, fp.value.startsWith('00') ? '11' : '00') };
  const p2 = engine.createPipeline({
    a: { kind: 'dtls-srtp', role: 'passive', remoteFingerprints: [wrong] },
    b: { kind: 'rtp', remoteAddress: '127.0.0.1', remotePort: y.port },
  });
  const p1 = engine.createPipeline({
    a: { kind: 'rtp', remoteAddress: '127.0.0.1', remotePort: x.port },
    b: { kind: 'dtls-srtp', role: 'active', remoteFingerprints: [fp], remoteAddress: '127.0.0.1', remotePort: p2.local.a.rtpPort },
  });
  const e2 = collectEvents(p2);
  await waitUntil(() => e2.some((e) => e.type === 'dtls-failed'), 5000, 'dtls-failed');
  assert.equal(e2.find((e) => e.type === 'dtls-failed').reason, 'fingerprint mismatch');
  assert.ok(!e2.some((e) => e.type === 'dtls-connected'));
  for (let i = 0; i < 5; i++) await x.sendTo(rtpPacket({ seq: i, ts: 0, ssrc: 1, payload: payload(i) }), p1.local.a.rtpPort);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(y.received.length, 0, 'nothing relayed');
  assert.equal(p1.stats().b.drops.no_keys, 5, 'the client leg had no keys to send with');
});
