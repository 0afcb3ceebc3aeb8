'use strict';
// A flood of ClientHellos from many (spoofed) sources gets no more bytes back
// than it sent (HelloVerifyRequest cookies, one DTLS peer per association),
// and the real handshake still completes.
const test = require('node:test');
const assert = require('node:assert');
const { MediaEngine } = require('../../dist');
const { udpSocket, waitUntil } = require('../helpers/udp');

test('ClientHello flood: no amplification, the real peer still connects', async (t) => {
  const engine = new MediaEngine({ portMin: 43400, portMax: 43499, workers: 1, mediaTimeoutSecs: 0, retransmitInitialMs: 200 });
  t.after(() => engine.shutdown());
  const fp = engine.currentFingerprint('sha-256');
  // Capture a genuine ClientHello: an active leg sends one to our socket.
  const sink = await udpSocket();
  t.after(() => sink.close());
  const client = engine.createPipeline({
    a: { kind: 'rtp' },
    b: { kind: 'dtls-srtp', role: 'active', remoteFingerprints: [fp], remoteAddress: '127.0.0.1', remotePort: sink.port },
  });
  await sink.waitFor(1);
  const hello = sink.received[0].msg;
  assert.equal(hello[0], 22, 'a DTLS handshake record');
  assert.equal(hello[13], 1, 'ClientHello');
  client.close();

  const target = engine.createPipeline({ a: { kind: 'dtls-srtp', role: 'passive', remoteFingerprints: [fp] }, b: { kind: 'rtp' } });
  const attackers = await Promise.all(Array.from({ length: 20 }, () => udpSocket()));
  t.after(() => attackers.forEach((s) => s.close()));
  let sent = 0;
  for (let round = 0; round < 5; round++) {
    for (const a of attackers) {
      await a.sendTo(hello, target.local.a.rtpPort);
      sent += hello.length;
    }
  }
  await new Promise((r) => setTimeout(r, 300));
  const back = attackers.reduce((n, a) => n + a.received.reduce((m, x) => m + x.msg.length, 0), 0);
  assert.ok(back <= sent, `bytes back ${back} <= bytes sent ${sent}`);
  for (const a of attackers) {
    for (const { msg } of a.received) assert.equal(msg[13], 3, 'only HelloVerifyRequests (or nothing) go back');
  }
  // The association belongs to the first source; a real client elsewhere is
  // refused, and a fresh pipeline still completes a real handshake.
  const fresh = engine.createPipeline({ a: { kind: 'dtls-srtp', role: 'passive', remoteFingerprints: [fp] }, b: { kind: 'rtp' } });
  const real = engine.createPipeline({
    a: { kind: 'rtp' },
    b: { kind: 'dtls-srtp', role: 'active', remoteFingerprints: [fp], remoteAddress: '127.0.0.1', remotePort: fresh.local.a.rtpPort },
  });
  await waitUntil(() => real.stats().b.dtlsState === 'connected' && fresh.stats().a.dtlsState === 'connected', 5000, 'real handshake');
  assert.ok(target.stats().a.drops.wrong_source >= 19 * 5 - 1, 'other sources dropped once the first one owns the association');
});
