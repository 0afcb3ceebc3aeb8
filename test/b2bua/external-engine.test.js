'use strict';
// The "external drachtio-server" switch: the SIP engine runs on its own (here
// the embedded engine started by hand with startEmbeddedSipEngine, standing in
// for a drachtio-server) and the SBC, configured with sip.engine 'external',
// connects to it over the drachtio protocol instead of spawning one.
const test = require('node:test');
const assert = require('node:assert');
const { randomBytes } = require('node:crypto');
const net = require('node:net');
const { startEmbeddedSipEngine } = require('../../dist');
const { startTestSbc } = require('../helpers/sbc');
const { freePort } = require('../helpers/ports');
const h = require('../helpers/b2bua');

const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test('SBC with sip.engine "external" places a DTLS-SRTP -> RTP call through a separately started engine', async (t) => {
  const [inPort, outPort] = [await freePort(), await freePort()];
  const secret = randomBytes(12).toString('hex');
  const logs = [];
  const engine = await startEmbeddedSipEngine({
    listen: [
      { transport: 'udp', address: '127.0.0.1', port: inPort },
      { transport: 'udp', address: '127.0.0.1', port: outPort },
    ],
    secret,
    onLog: (e) => logs.push(e),
  });
  assert.deepEqual(engine.sipListen.map((l) => l.port), [inPort, outPort]);

  const callee = await h.startScenario('uas-answer', { SDP: h.sdpBody(h.answers.rtp()), RTP: '' });
  // t.after hooks run in registration order: stop the SBC before its engine.
  const sbc = await startTestSbc({
    realms: [
      { name: 'in', security: 'dtls-srtp', port: inPort },
      { name: 'out', security: 'rtp', port: outPort, nextHop: `sip:127.0.0.1:${callee.port}` },
    ],
    media: { portMin: 49500, portMax: 49999 },
    sip: { engine: 'external', external: { host: engine.controlHost, port: engine.controlPort, secret } },
  });
  t.after(() => sbc.stop());
  t.after(() => engine.stop());
  assert.equal(sbc.sipEngine, undefined, 'the SBC did not spawn an engine of its own');
  assert.equal(sbc.port('in'), inPort);

  const r = await h.sippCall(t, { sbc, callee, uac: ['uac-bye', { SDP: h.sdpBody(h.offers.baresip()), TALK_MS: 300 }] });
  const offer = h.bodyLines(r.offerToCallee).join('\n');
  assert.match(offer, /^m=audio 49\d\d[02468] RTP\/AVP 0 8 101$/m);
  assert.doesNotMatch(offer, /a=(fingerprint|setup|crypto)/);
  // Sent by the external engine (from one of its listeners: today always the
  // first UDP one, see test/b2bua/wip/outbound-realm-socket.test.js).
  const via = /^Via: SIP\/2\.0\/UDP 127\.0\.0\.1:(\d+)/m.exec(r.offerToCallee.text);
  assert.ok(via && [inPort, outPort].includes(Number(via[1])), r.offerToCallee.text);
  const answer = h.bodyLines(r.answerToCaller).join('\n');
  assert.match(answer, /^m=audio 49\d\d[02468] UDP\/TLS\/RTP\/SAVPF 0 101$/m);
  assert.match(answer, /^a=setup:passive$/m);
  assert.match(answer, new RegExp(`^a=fingerprint:sha-256 ${h.hexFp(32).source}$`, 'm'));
  assert.ok(h.findMessage(r.b.messages, { sent: false, first: /^BYE / }), 'callee got BYE');

  // Stopping the SBC leaves an external engine running; it is stopped on its own.
  await sbc.stop();
  assert.ok(alive(engine.pid), 'external engine still running after sbc.stop()');
  await engine.stop();
  assert.ok(!alive(engine.pid), 'engine stopped');
});

test('stop() survives drachtio data that arrives after the SBC disconnected (a frame cut by the disconnect)', async (t) => {
  const secret = randomBytes(12).toString('hex');
  const engine = await startEmbeddedSipEngine({ listen: [{ transport: 'udp', address: '127.0.0.1', port: await freePort() }], secret });
  t.after(() => engine.stop());
  // A TCP proxy on the control connection: when the SBC half-closes it, the
  // proxy delivers the tail of a frame, as an engine still answering the
  // SBC's last BYEs does. drachtio-srf's disconnect() used to leave the socket
  // readable with a fresh parse buffer, and then threw from the data handler.
  let sawEnd;
  const ended = new Promise((r) => (sawEnd = r));
  const proxy = net.createServer((client) => {
    const upstream = net.connect(engine.controlPort, engine.controlHost);
    client.on('error', () => undefined);
    upstream.on('error', () => undefined);
    upstream.pipe(client, { end: false });
    client.on('data', (d) => upstream.write(d));
    client.on('end', () => {
      upstream.destroy();
      client.write('\r\nContent-Length: 0\r\n\r\n41#a-message-that-lost-its-first-half|sip|x\r\n', () => sawEnd());
      setTimeout(() => client.destroy(), 200);
    });
  });
  await new Promise((r) => proxy.listen(0, '127.0.0.1', r));
  t.after(() => proxy.close());
  const sbc = await startTestSbc({
    realms: [{ name: 'in', security: 'rtp', port: await freePort() }],
    media: { portMin: 49500, portMax: 49999 },
    sip: { engine: 'external', external: { host: '127.0.0.1', port: proxy.address().port, secret } },
  });
  const crashed = [];
  const onCrash = (err) => crashed.push(err);
  process.on('uncaughtException', onCrash);
  t.after(() => process.off('uncaughtException', onCrash));
  await sbc.stop();
  await Promise.race([ended, new Promise((r) => setTimeout(r, 1000))]);
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(crashed.map(String), [], 'no exception escaped from the drachtio connection');
});
