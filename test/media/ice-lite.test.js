'use strict';
// ICE-lite on a DTLS-SRTP leg, checked by an independent STUN implementation
// (the `stun` npm package builds the connectivity checks and verifies our
// MESSAGE-INTEGRITY and FINGERPRINT), then DTLS with an OpenSSL-backed peer
// (a second pipeline as DTLS client) over the nominated pair, and media both
// ways. The "browser" is one UDP socket: it sends the checks and carries the
// DTLS/SRTP of the peer pipeline, so ICE and media share one 5-tuple.
const test = require('node:test');
const assert = require('node:assert');
const crypto = require('node:crypto');
const zlib = require('node:zlib');
const stun = require('stun');
const { MediaEngine } = require('../../dist');
const { rtpPacket } = require('../helpers/srtp');
const { udpSocket, waitUntil } = require('../helpers/udp');

const PORTS = { portMin: 54000, portMax: 54999 };
const BROWSER = { ufrag: 'BrWs', pwd: 'browserpassword012345678' };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A connectivity check as a controlling full agent sends it. */
function check(user, pwd, { useCandidate = false, integrity = true, fingerprint = true } = {}) {
  const m = stun.createMessage(stun.constants.STUN_BINDING_REQUEST);
  m.addUsername(user);
  m.addPriority(1845501695);
  m.addIceControlling(crypto.randomBytes(8));
  if (useCandidate) m.addUseCandidate();
  if (integrity) m.addMessageIntegrity(pwd);
  if (fingerprint) m.addFingerprint();
  return { tid: m.transactionId, buf: m.toBuffer() };
}

/**
 * ERROR-CODE read from the wire (RFC 8489 14.8: class * 100 + number). The
 * `stun` package's decoder computes class * (number + 100), so 401 would
 * read as 404 there.
 */
function errorCode(m) {
  const raw = m.raw;
  for (let off = 20; off + 4 <= raw.length; off += 4 + ((raw.readUInt16BE(off + 2) + 3) & ~3)) {
    if (raw.readUInt16BE(off) === 0x0009) return (raw[off + 6] & 7) * 100 + raw[off + 7];
  }
  return undefined;
}

/** FINGERPRINT checked on the raw bytes with node's own CRC-32 (RFC 8489 14.7). */
function rawFingerprintOk(m) {
  const raw = m.raw;
  const n = raw.length;
  if (n < 28 || raw.readUInt16BE(n - 8) !== 0x8028) return false;
  return ((zlib.crc32(raw.subarray(0, n - 8)) ^ 0x5354554e) >>> 0) === raw.readUInt32BE(n - 4);
}

/** The browser's socket: STUN responses are kept, everything else is relayed to/from the DTLS peer. */
async function browserSocket() {
  const s = await udpSocket();
  s.stun = [];
  s.sbcPort = null;
  s.peerPort = null;
  s.on('message', (msg, r) => {
    if (msg[0] < 4) return void s.stun.push(Object.assign(stun.decode(msg), { raw: msg }));
    if (r.port === s.sbcPort && s.peerPort) s.send(msg, s.peerPort, '127.0.0.1');
    else if (r.port === s.peerPort && s.sbcPort) s.send(msg, s.sbcPort, '127.0.0.1');
  });
  s.ask = async (req) => {
    await s.sendTo(req.buf, s.sbcPort);
    await waitUntil(() => s.stun.some((m) => m.transactionId.equals(req.tid)), 2000, 'STUN response');
    return s.stun.find((m) => m.transactionId.equals(req.tid));
  };
  return s;
}

function events(emitter) {
  const list = [];
  emitter.on('event', (e) => list.push(e));
  return list;
}

test('ICE-lite leg: checks verified by an independent STUN stack, nominated pair, DTLS + media, ICE restart keeps DTLS', async (t) => {
  const engine = new MediaEngine({ ...PORTS, workers: 1, mediaTimeoutSecs: 0, retransmitInitialMs: 200 });
  t.after(() => engine.shutdown());
  const browser = await browserSocket();
  const x = await udpSocket(); // RTP party behind the peer pipeline
  const y = await udpSocket(); // RTP party on the SBC's plain leg
  t.after(() => (browser.close(), x.close(), y.close()));
  const fp = engine.currentFingerprint('sha-256');

  const sbc = engine.createPipeline({
    a: { kind: 'dtls-srtp', role: 'passive', remoteFingerprints: [fp], rtcpMux: true, ice: { remoteUfrag: BROWSER.ufrag, remotePwd: BROWSER.pwd, lite: true } },
    b: { kind: 'rtp', remoteAddress: '127.0.0.1', remotePort: y.port },
  });
  const sbcEvents = events(sbc);
  const local = sbc.local.a.ice;
  assert.ok(local, 'the engine reports its ICE credentials');
  assert.match(local.ufrag, /^[A-Za-z0-9+/]{8}$/);
  assert.match(local.pwd, /^[A-Za-z0-9+/]{24}$/);
  assert.equal(sbc.local.b.ice, undefined);
  browser.sbcPort = sbc.local.a.rtpPort;
  const user = `${local.ufrag}:${BROWSER.ufrag}`;

  // Before ICE: media toward the ICE leg has no destination.
  await y.sendTo(rtpPacket({ seq: 1, ts: 0, ssrc: 7, payload: Buffer.alloc(160, 1) }), sbc.local.b.rtpPort);
  await waitUntil(() => sbc.stats().a.drops.no_destination === 1, 2000, 'no_destination before nomination');

  // Wrong password and missing integrity: error responses without integrity, counted.
  const wrong = await browser.ask(check(user, 'notthepassword0123456789', { useCandidate: true }));
  assert.equal(errorCode(wrong), 401);
  // (The package's validateFingerprint re-encodes the message, which its
  // ERROR-CODE bug changes; check the CRC on the received bytes instead.)
  assert.ok(rawFingerprintOk(wrong), 'FINGERPRINT on the error response');
  assert.equal(wrong.getMessageIntegrity(), undefined);
  const bare = await browser.ask(check(user, '', { useCandidate: true, integrity: false }));
  assert.equal(errorCode(bare), 400);
  const stranger = await browser.ask(check(`${local.ufrag}:Othr`, local.pwd, { useCandidate: true }));
  assert.equal(errorCode(stranger), 401);
  // Bad fingerprint: silently dropped, counted.
  const bad = check(user, local.pwd, { useCandidate: true });
  bad.buf[bad.buf.length - 1] ^= 0x5a;
  await browser.sendTo(bad.buf, browser.sbcPort);
  await waitUntil(() => sbc.stats().a.drops.stun_fingerprint === 1, 2000, 'bad fingerprint counted');
  await sleep(100);
  assert.ok(!browser.stun.some((m) => m.transactionId.equals(bad.tid)), 'no answer to a bad fingerprint');
  assert.equal(sbc.stats().a.drops.stun_auth, 3);
  assert.equal(sbc.stats().a.latched, undefined, 'nothing nominated by failed checks');

  // A valid check: success with our integrity and fingerprint and the browser's address.
  const ok = await browser.ask(check(user, local.pwd));
  assert.equal(ok.type, stun.constants.STUN_BINDING_RESPONSE);
  assert.ok(stun.validateMessageIntegrity(ok, local.pwd), 'MESSAGE-INTEGRITY with the local password');
  assert.ok(!stun.validateMessageIntegrity(ok, BROWSER.pwd));
  assert.ok(stun.validateFingerprint(ok), 'FINGERPRINT');
  assert.ok(rawFingerprintOk(ok));
  assert.deepEqual(ok.getXorAddress(), { family: 'IPv4', address: '127.0.0.1', port: browser.port });
  // Nomination.
  const nom = await browser.ask(check(user, local.pwd, { useCandidate: true }));
  assert.ok(stun.validateMessageIntegrity(nom, local.pwd));
  await waitUntil(() => sbcEvents.some((e) => e.type === 'media-latched' && e.side === 'a'), 2000, 'nomination event');
  assert.deepEqual(sbcEvents.find((e) => e.type === 'media-latched' && e.side === 'a'), { type: 'media-latched', pipeline: sbc.id, side: 'a', address: `127.0.0.1:${browser.port}` });
  assert.equal(sbc.stats().a.latched, `127.0.0.1:${browser.port}`);

  // The DTLS peer (client) behind the browser socket.
  const peer = engine.createPipeline({
    a: { kind: 'rtp', remoteAddress: '127.0.0.1', remotePort: x.port },
    b: { kind: 'dtls-srtp', role: 'active', remoteFingerprints: [fp], remoteAddress: '127.0.0.1', remotePort: browser.port, rtcpMux: true },
  });
  const peerEvents = events(peer);
  browser.peerPort = peer.local.b.rtpPort;
  await waitUntil(
    () => sbcEvents.some((e) => e.type === 'dtls-connected') && peerEvents.some((e) => e.type === 'dtls-connected'),
    8000, 'DTLS over the nominated pair',
  );

  // Media both ways through ICE + DTLS-SRTP.
  for (let i = 0; i < 5; i++) await x.sendTo(rtpPacket({ seq: 10 + i, ts: i * 160, ssrc: 1, payload: Buffer.alloc(160, 10 + i) }), peer.local.a.rtpPort);
  await y.waitFor(5);
  assert.deepEqual(y.received[4].msg.subarray(12), Buffer.alloc(160, 14));
  for (let i = 0; i < 5; i++) await y.sendTo(rtpPacket({ seq: 20 + i, ts: i * 160, ssrc: 2, payload: Buffer.alloc(160, 20 + i) }), sbc.local.b.rtpPort);
  await x.waitFor(5);
  assert.deepEqual(x.received[4].msg.subarray(12), Buffer.alloc(160, 24));

  // ICE restart: new remote credentials, new local ones, same DTLS association.
  const NEW = { ufrag: 'NeWb', pwd: 'newbrowserpassword012345' };
  const res = await sbc.update('a', { kind: 'dtls-srtp', role: 'passive', remoteFingerprints: [fp], rtcpMux: true, ice: { remoteUfrag: NEW.ufrag, remotePwd: NEW.pwd, lite: true } });
  assert.ok(res.ice && res.ice.ufrag !== local.ufrag && res.ice.pwd !== local.pwd, 'new local credentials on restart');
  const old = await browser.ask(check(user, local.pwd, { useCandidate: true }));
  assert.equal(errorCode(old), 401, 'old credentials refused after the restart');
  const fresh = await browser.ask(check(`${res.ice.ufrag}:${NEW.ufrag}`, res.ice.pwd, { useCandidate: true }));
  assert.ok(stun.validateMessageIntegrity(fresh, res.ice.pwd));
  const before = x.received.length;
  await y.sendTo(rtpPacket({ seq: 30, ts: 800, ssrc: 2, payload: Buffer.alloc(160, 30) }), sbc.local.b.rtpPort);
  await x.waitFor(before + 1);
  const s = sbc.stats();
  assert.equal(s.a.handshakes, 1, 'no new DTLS handshake on ICE restart');
  assert.equal(s.a.dtlsState, 'connected');
  assert.equal(s.a.drops.stun_auth, 4);
  assert.equal(sbcEvents.filter((e) => e.type === 'dtls-connected').length, 1);
});

test('ICE spec validation: bad credentials and non-lite are refused', () => {
  const engine = new MediaEngine({ ...PORTS, workers: 1 });
  try {
    const mk = (ice) => () => engine.createPipeline({ a: { kind: 'dtls-srtp', role: 'passive', remoteFingerprints: [], ice }, b: { kind: 'rtp' } });
    assert.throws(mk({ remoteUfrag: 'ab', remotePwd: BROWSER.pwd, lite: true }), { code: 'InvalidSpec', message: /ufrag/ });
    assert.throws(mk({ remoteUfrag: BROWSER.ufrag, remotePwd: 'short', lite: true }), { code: 'InvalidSpec', message: /pwd/ });
    assert.throws(mk({ localUfrag: 'abcd', lite: true }), { code: 'InvalidSpec', message: /together/ });
    assert.throws(mk({ lite: false }), { code: 'InvalidSpec', message: /ICE-lite/ });
    const p = engine.createPipeline({ a: { kind: 'rtp', ice: { localUfrag: 'Mine', localPwd: 'mylocalpassword012345678', lite: true } }, b: { kind: 'rtp' } });
    assert.deepEqual(p.local.a.ice, { ufrag: 'Mine', pwd: 'mylocalpassword012345678' }, 'given credentials are used');
    assert.equal(engine.counters().portPairsInUse, 2);
  } finally {
    engine.shutdown();
  }
});
