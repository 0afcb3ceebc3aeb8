'use strict';
// Pipeline updates (direction, late fingerprints), certificate rotation that
// leaves live calls alone, and media timeouts.
const test = require('node:test');
const assert = require('node:assert');
const { MediaEngine } = require('../../dist');
const { rtpPacket } = require('../helpers/srtp');
const { udpSocket, waitUntil } = require('../helpers/udp');
const { rtpCall } = require('../helpers/pipelines');

const PORTS = { portMin: 44000, portMax: 44999 };
const pkt = (seq, fill) => rtpPacket({ seq, ts: seq * 160, ssrc: 77, payload: Buffer.alloc(160, fill) });

test('direction is enforced for RTP and can change mid-call', async (t) => {
  const engine = new MediaEngine({ ...PORTS, workers: 1, mediaTimeoutSecs: 0 });
  t.after(() => engine.shutdown());
  const { p, x, y } = await rtpCall(engine, t);
  await x.sendTo(pkt(1, 1), p.local.a.rtpPort);
  await y.waitFor(1);
  // A holds B: A's SDP says sendonly. A may still send (music), B's media to A stops.
  await p.update('a', { direction: 'sendonly' });
  await y.sendTo(pkt(1, 2), p.local.b.rtpPort);
  await x.sendTo(pkt(2, 3), p.local.a.rtpPort);
  await y.waitFor(2);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(x.received.length, 0, 'nothing to the holder');
  assert.equal(p.stats().b.drops.direction, 1);
  assert.equal(p.stats().a.direction, 'sendonly');
  // RTCP keeps flowing on hold.
  await y.sendTo(Buffer.from([0x81, 201, 0, 7, 0, 0, 0, 1, 0, 0, 0, 77, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), p.local.b.rtpPort);
  await x.waitFor(1);
  // Resume.
  await p.update('a', { direction: 'sendrecv' });
  await y.sendTo(pkt(2, 4), p.local.b.rtpPort);
  await x.waitFor(2);
  assert.deepEqual(x.received[1].msg.subarray(12), Buffer.alloc(160, 4));
  // Inactive blocks both ways.
  await p.update('b', { direction: 'inactive' });
  await x.sendTo(pkt(3, 5), p.local.a.rtpPort);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(y.received.length, 2);
});

test('certificate rotation: new calls get a new identity, live calls keep theirs', async (t) => {
  const engine = new MediaEngine({ ...PORTS, workers: 2, mediaTimeoutSecs: 0, retransmitInitialMs: 200 });
  t.after(() => engine.shutdown());
  const y = await udpSocket();
  const x = await udpSocket();
  t.after(() => (x.close(), y.close()));
  const oldFp = engine.currentFingerprint('sha-256');
  // Offer sent with the old identity; the answer (fingerprint) comes later.
  const p2 = engine.createPipeline({
    a: { kind: 'dtls-srtp', role: 'passive', remoteFingerprints: [] },
    b: { kind: 'rtp', remoteAddress: '127.0.0.1', remotePort: y.port },
  });
  engine.rotateCertificate();
  const newFp = engine.currentFingerprint('sha-256');
  assert.notEqual(newFp.value, oldFp.value);
  assert.equal(engine.counters().certRotations, 1);
  assert.deepEqual(p2.fingerprint('sha-256'), oldFp, 'a live call keeps the fingerprint it advertised');
  const p1 = engine.createPipeline({
    a: { kind: 'rtp', remoteAddress: '127.0.0.1', remotePort: x.port },
    b: { kind: 'dtls-srtp', role: 'active', remoteFingerprints: [oldFp], remoteAddress: '127.0.0.1', remotePort: p2.local.a.rtpPort },
  });
  assert.deepEqual(p1.local.b.fingerprint, newFp);
  const events = [];
  engine.on('event', (e) => events.push(e));
  // The ClientHello arrives before the answer: the server completes the
  // handshake but holds the keys until it learns the fingerprint.
  await waitUntil(() => p2.stats().a.dtlsState === 'awaitingfingerprint', 5000, 'handshake done, awaiting fingerprint');
  assert.ok(!events.some((e) => e.pipeline === p2.id && e.type === 'dtls-connected'));
  await p2.update('a', { kind: 'dtls-srtp', role: 'passive', remoteFingerprints: [newFp] });
  await waitUntil(() => events.filter((e) => e.type === 'dtls-connected').length === 2, 5000, 'both connected');
  assert.equal(p2.stats().a.handshakes, 1, 'the late fingerprint did not restart the handshake');
  await x.sendTo(pkt(1, 9), p1.local.a.rtpPort);
  await y.waitFor(1);
  assert.deepEqual(y.received[0].msg.subarray(12), Buffer.alloc(160, 9));
});

test('a changed fingerprint starts exactly one new handshake; the same one keeps the association', async (t) => {
  const engine = new MediaEngine({ ...PORTS, workers: 1, mediaTimeoutSecs: 0, retransmitInitialMs: 200 });
  t.after(() => engine.shutdown());
  const fp = engine.currentFingerprint('sha-256');
  const p2 = engine.createPipeline({ a: { kind: 'dtls-srtp', role: 'passive', remoteFingerprints: [fp] }, b: { kind: 'rtp' } });
  const p1 = engine.createPipeline({
    a: { kind: 'rtp' },
    b: { kind: 'dtls-srtp', role: 'active', remoteFingerprints: [fp], remoteAddress: '127.0.0.1', remotePort: p2.local.a.rtpPort },
  });
  const connected = () => engine.counters() && [p1.stats().b.dtlsState, p2.stats().a.dtlsState];
  await waitUntil(() => connected().every((s) => s === 'connected'), 5000, 'connected');
  // Re-offer with the same fingerprint and role (hold): nothing restarts.
  await p1.update('b', { kind: 'dtls-srtp', role: 'active', remoteFingerprints: [{ hash: 'SHA-256', value: fp.value.toLowerCase() }], direction: 'sendonly' });
  assert.equal(p1.stats().b.handshakes, 1);
  assert.equal(p1.stats().b.dtlsState, 'connected');
  // The peer rotated its certificate (new fingerprint): exactly one new handshake.
  engine.rotateCertificate();
  const p3 = engine.createPipeline({ a: { kind: 'dtls-srtp', role: 'passive', remoteFingerprints: [fp] }, b: { kind: 'rtp' } });
  const fp3 = p3.local.a.fingerprint;
  await p1.update('b', { kind: 'dtls-srtp', role: 'active', remoteFingerprints: [fp3], remoteAddress: '127.0.0.1', remotePort: p3.local.a.rtpPort });
  await waitUntil(() => p1.stats().b.dtlsState === 'connected' && p3.stats().a.dtlsState === 'connected', 5000, 're-keyed');
  assert.equal(p1.stats().b.handshakes, 2);
});

test('RFC 8842 tls-id: a changed peer tls-id (same certificate) starts one new association with a new tls-id of ours', async (t) => {
  const engine = new MediaEngine({ ...PORTS, workers: 1, mediaTimeoutSecs: 0, retransmitInitialMs: 200 });
  t.after(() => engine.shutdown());
  const fp = engine.currentFingerprint('sha-256');
  const dtls = (role, remoteTlsId) => ({ kind: 'dtls-srtp', role, remoteFingerprints: [fp], remoteTlsId });
  const server = engine.createPipeline({ a: dtls('passive', 'peer-association-0001'), b: { kind: 'rtp' } });
  const firstId = server.local.a.tlsId;
  assert.match(firstId, /^[A-Za-z0-9_-]{32}$/);
  assert.equal(server.local.b.tlsId, undefined, 'no tls-id on a plain leg');
  const client = engine.createPipeline({
    a: { kind: 'rtp' },
    b: { ...dtls('active', firstId), remoteAddress: '127.0.0.1', remotePort: server.local.a.rtpPort },
  });
  const bothConnected = () => server.stats().a.dtlsState === 'connected' && client.stats().b.dtlsState === 'connected';
  await waitUntil(bothConnected, 5000, 'first association');
  // Same tls-id and certificate (hold): the association and our tls-id stay.
  const hold = await server.update('a', { ...dtls('passive', 'peer-association-0001'), direction: 'sendonly' });
  assert.equal(hold.tlsId, firstId);
  assert.equal(server.stats().a.handshakes, 1);
  assert.equal(server.stats().a.dtlsState, 'connected');
  // The peer asks for a new association (new tls-id, same certificate): exactly
  // one new association on each side, and a new tls-id of ours.
  const rekey = await server.update('a', dtls('passive', 'peer-association-0002'));
  assert.notEqual(rekey.tlsId, firstId);
  assert.equal(server.local.a.tlsId, rekey.tlsId, 'Pipeline.local follows the update');
  assert.equal(server.stats().a.handshakes, 2);
  assert.equal(server.stats().a.dtlsState, 'handshaking');
  await client.update('b', dtls('active', rekey.tlsId)); // the client side learns our new tls-id and restarts too
  await waitUntil(bothConnected, 5000, 'second association');
  assert.equal(server.stats().a.handshakes, 2);
  assert.equal(client.stats().b.handshakes, 2);
});

test('media timeout is reported for silent legs but not for a party on hold', async (t) => {
  const engine = new MediaEngine({ ...PORTS, workers: 1, mediaTimeoutSecs: 1 });
  t.after(() => engine.shutdown());
  const p = engine.createPipeline({ a: { kind: 'rtp' }, b: { kind: 'rtp', direction: 'recvonly' } });
  const events = [];
  p.on('event', (e) => events.push(e));
  await waitUntil(() => events.some((e) => e.type === 'media-timeout'), 4000, 'media-timeout');
  await new Promise((r) => setTimeout(r, 1200));
  assert.deepEqual(events.map((e) => `${e.type}:${e.side}`), ['media-timeout:a'], 'reported once, and not for the recvonly party');
});

test('RTCP on separate ports (no rtcp-mux) is relayed port to port', async (t) => {
  const engine = new MediaEngine({ ...PORTS, workers: 1, mediaTimeoutSecs: 0 });
  t.after(() => engine.shutdown());
  const [x, xc, y, yc] = await Promise.all([udpSocket(), udpSocket(), udpSocket(), udpSocket()]);
  t.after(() => [x, xc, y, yc].forEach((s) => s.close()));
  const p = engine.createPipeline({
    a: { kind: 'rtp', remoteAddress: '127.0.0.1', remotePort: x.port, remoteRtcpPort: xc.port },
    b: { kind: 'rtp', remoteAddress: '127.0.0.1', remotePort: y.port, remoteRtcpPort: yc.port },
  });
  const sr = Buffer.alloc(28);
  sr.writeUInt8(0x80, 0);
  sr.writeUInt8(200, 1);
  sr.writeUInt16BE(6, 2);
  sr.writeUInt32BE(0xabcdef, 4);
  await xc.sendTo(sr, p.local.a.rtcpPort);
  await yc.waitFor(1);
  assert.deepEqual(yc.received[0].msg, sr);
  assert.equal(yc.received[0].from, `127.0.0.1:${p.local.b.rtcpPort}`);
  assert.equal(y.received.length, 0, 'RTCP did not go to the RTP port');
  await yc.sendTo(sr, p.local.b.rtcpPort);
  await xc.waitFor(1);
  const s = p.stats();
  assert.equal(s.a.rtcpIn + s.b.rtcpIn, 2);
  assert.equal(s.a.rtcpOut + s.b.rtcpOut, 2);
});

test('a certificate loaded from PEM files is the one the engine presents', async (t) => {
  const { execFileSync } = require('node:child_process');
  const fs = require('node:fs');
  const os = require('node:os');
  const path = require('node:path');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'esbc-pem-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=esbc-test',
    '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem')], { stdio: 'ignore' });
  const certPem = fs.readFileSync(path.join(dir, 'cert.pem'), 'utf8');
  const keyPem = fs.readFileSync(path.join(dir, 'key.pem'), 'utf8');
  const expected = execFileSync('openssl', ['x509', '-noout', '-fingerprint', '-sha256', '-in', path.join(dir, 'cert.pem')], { encoding: 'utf8' })
    .trim().split('=')[1];
  const engine = new MediaEngine({ ...PORTS, workers: 1, certPem, keyPem, mediaTimeoutSecs: 0, retransmitInitialMs: 200 });
  t.after(() => engine.shutdown());
  assert.equal(engine.currentFingerprint('sha-256').value, expected);
  // And it really is what a DTLS peer sees: a pipeline pair verifies it.
  const fp = engine.currentFingerprint('sha-256');
  const p2 = engine.createPipeline({ a: { kind: 'dtls-srtp', role: 'passive', remoteFingerprints: [fp] }, b: { kind: 'rtp' } });
  const p1 = engine.createPipeline({ a: { kind: 'rtp' }, b: { kind: 'dtls-srtp', role: 'active', remoteFingerprints: [fp], remoteAddress: '127.0.0.1', remotePort: p2.local.a.rtpPort } });
  await waitUntil(() => p1.stats().b.dtlsState === 'connected' && p2.stats().a.dtlsState === 'connected', 5000, 'connected with the PEM identity');
  assert.throws(() => new MediaEngine({ ...PORTS, certPem, keyPem: certPem }), /private key PEM/);
  assert.throws(() => new MediaEngine({ ...PORTS, certPem }), /together/);
});

test('re-targeting a DTLS leg to a new peer: the old peer cannot re-latch with the old keys', async (t) => {
  const engine = new MediaEngine({ ...PORTS, workers: 1, mediaTimeoutSecs: 0, retransmitInitialMs: 200 });
  t.after(() => engine.shutdown());
  const oldFp = engine.currentFingerprint('sha-256');
  const x = await udpSocket();
  t.after(() => x.close());
  // The old peer: pipeline P's passive leg; X.b connects to it.
  const peer = engine.createPipeline({ a: { kind: 'dtls-srtp', role: 'passive', remoteFingerprints: [oldFp] }, b: { kind: 'rtp' } });
  const X = engine.createPipeline({
    a: { kind: 'rtp', remoteAddress: '127.0.0.1', remotePort: x.port },
    b: { kind: 'dtls-srtp', role: 'active', remoteFingerprints: [oldFp], remoteAddress: '127.0.0.1', remotePort: peer.local.a.rtpPort },
  });
  await waitUntil(() => X.stats().b.dtlsState === 'connected' && peer.stats().a.dtlsState === 'connected', 5000, 'first association');
  // The new peer has another certificate (rotated identity).
  engine.rotateCertificate();
  const target = engine.createPipeline({ a: { kind: 'dtls-srtp', role: 'passive', remoteFingerprints: [oldFp] }, b: { kind: 'rtp' } });
  const y = await udpSocket();
  t.after(() => y.close());
  await target.update('b', { remoteAddress: '127.0.0.1', remotePort: y.port });
  await X.update('b', { kind: 'dtls-srtp', role: 'active', remoteFingerprints: [target.local.a.fingerprint], remoteAddress: '127.0.0.1', remotePort: target.local.a.rtpPort });
  // The old peer keeps sending (its RTP side feeds it) while the new handshake runs.
  const feeder = await udpSocket();
  t.after(() => feeder.close());
  await peer.update('b', { remoteAddress: '127.0.0.1', remotePort: feeder.port });
  for (let i = 0; i < 20; i++) await feeder.sendTo(pkt(i, 7), peer.local.b.rtpPort);
  await waitUntil(() => X.stats().b.dtlsState === 'connected' && target.stats().a.dtlsState === 'connected', 5000, 'new association');
  assert.equal(X.stats().b.handshakes, 2);
  for (let i = 20; i < 30; i++) await feeder.sendTo(pkt(i, 7), peer.local.b.rtpPort);
  // Media from the new peer flows both ways, and the leg latches to it.
  await y.sendTo(pkt(1, 8), target.local.b.rtpPort);
  await waitUntil(() => x.received.some(({ msg }) => msg[12] === 8), 3000, 'new peer heard');
  assert.equal(X.stats().b.latched, `127.0.0.1:${target.local.a.rtpPort}`, 'latched to the new peer');
  await x.sendTo(pkt(1, 9), X.local.a.rtpPort);
  await y.waitFor(1);
  assert.deepEqual(y.received[0].msg.subarray(12), Buffer.alloc(160, 9));
  assert.ok(!x.received.some(({ msg }) => msg[12] === 7), 'nothing from the old peer was relayed');
});
