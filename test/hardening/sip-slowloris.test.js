'use strict';
// Slowloris against the SBC's TCP and TLS listeners: connections over the
// per-source limit are closed at once, a connection that sends nothing is
// closed after firstMessageSecs, one that trickles a message that never
// completes is closed partialMessageSecs after its first byte (trickling does
// not extend it), and legitimate calls meanwhile complete.
const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { selfSignedCert } = require('../helpers/certs');
const tls = require('node:tls');
const { startTestSbc } = require('../helpers/sbc');
const { runSipp, startSipp } = require('../helpers/sipp');
const raw = require('./sip-raw');

const LIMITS = { partialMessageSecs: 2, firstMessageSecs: 4, maxConnectionsPerSource: 10 };

/** Resolves the time (ms after `since`) at which `sock` closes. */
function closedAt(sock, since) {
  return new Promise((r) => sock.once('close', () => r(Date.now() - since)));
}

/** Writes `text` one byte every `everyMs` until the socket closes; resolves when the first byte went out. */
function trickle(sock, text, everyMs) {
  let i = 0;
  return new Promise((firstSent) => {
    const timer = setInterval(() => {
      if (sock.destroyed || i >= text.length) return clearInterval(timer);
      sock.write(text[i++]);
      if (i === 1) firstSent(Date.now());
    }, everyMs);
    sock.once('close', () => clearInterval(timer));
  });
}

test('TCP slowloris: per-source connection limit, first-message and partial-message timeouts; a legitimate TCP call completes', async (t) => {
  const uas = await startSipp({ builtin: 'uas', calls: 1000, timeoutSec: 60 });
  t.after(() => uas.stop());
  const sbc = await startTestSbc({
    realms: [
      { name: 'in', security: 'rtp', transport: 'tcp' },
      { name: 'out', security: 'rtp', nextHop: `sip:127.0.0.1:${uas.port}` },
    ],
    media: { portMin: 51200, portMax: 51399 },
    sip: { embedded: { limits: LIMITS } },
  });
  t.after(() => sbc.stop());
  const target = { host: '127.0.0.1', port: sbc.port('in') };
  const src = '127.0.0.5';

  const start = Date.now();
  const socks = [];
  for (let i = 0; i < 14; i++) {
    const s = await raw.connectFrom(src, target);
    s.on('error', () => {});
    socks.push({ s, closed: closedAt(s, start) });
  }
  t.after(() => socks.forEach(({ s }) => s.destroy()));
  // Refused ones are closed by the engine right away.
  await new Promise((r) => setTimeout(r, 800));
  const open = socks.filter(({ s }) => !s.destroyed && s.readyState === 'open');
  assert.equal(open.length, 10, `${socks.length - open.length} closed at once`);
  const partial = 'INVITE sip:slow@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.5:5060;branch=z9hG4bK-slow\r\nX-Padding: ' + 'a'.repeat(200);
  const trickled = open.slice(0, 5).map(({ s, closed }) => ({ first: trickle(s, partial, 250), closed }));
  const silent = open.slice(5);

  // A legitimate TCP call stream from another source while the slow connections hang.
  const legit = await runSipp({ builtin: 'uac', remote: `127.0.0.1:${target.port}`, service: 'legit', calls: 3, rate: 2, transport: 't1', timeoutSec: 30 });
  assert.equal(legit.code, 0, legit.errors.slice(0, 1500));

  for (const { closed } of silent) {
    const at = await closed;
    assert.ok(at >= 3800 && at < 7000, `silent connection closed after ${at} ms (firstMessageSecs 4)`);
  }
  for (const { first, closed } of trickled) {
    const at = await closed;
    const sinceFirst = at - ((await first) - start);
    assert.ok(sinceFirst >= 1800 && sinceFirst < 5000, `trickling connection closed ${sinceFirst} ms after its first byte (partialMessageSecs 2)`);
  }
  // Their slots are free again: a new connection from the same source is served.
  const r = await raw.tcpExchange((port) => raw.request({ method: 'OPTIONS', port: target.port, transport: 'TCP', src, srcPort: port }), target, { src, waitMs: 1500 });
  assert.ok(r.messages.length >= 1 && raw.statusOf(r.messages[0]) > 0, `answered: ${r.messages[0]}`);
  const s = await sbc.sipEngine.stats();
  t.diagnostic(JSON.stringify(s.rejections));
  assert.equal(s.rejections.conn_limit_source, 4);
  assert.equal(s.rejections.slow_first, 5);
  assert.equal(s.rejections.slow_partial, 5);
});

test('TLS slowloris: handshaken connections that never complete a message are closed; a full request is answered', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'esbc-slow-tls-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const { cert, key } = selfSignedCert(dir, { cn: 'esbc-test' });
  const sbc = await startTestSbc({
    realms: [
      { name: 'in', security: 'rtp', transport: 'tls' },
      { name: 'out', security: 'rtp', nextHop: 'sip:127.0.0.1:9' },
    ],
    media: { portMin: 51400, portMax: 51499 },
    sip: { embedded: { tls: { cert, key }, limits: LIMITS } },
  });
  t.after(() => sbc.stop());
  const port = sbc.port('in');
  const connect = () =>
    new Promise((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port, localAddress: '127.0.0.6', rejectUnauthorized: false }, () => resolve(s));
      s.once('error', reject);
    });
  const start = Date.now();
  const slow = [];
  for (let i = 0; i < 3; i++) {
    const s = await connect();
    s.on('error', () => {});
    slow.push({ closed: closedAt(s, start), first: trickle(s, 'OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.6:1;branch=z9hG4bK-x', 300), s });
  }
  t.after(() => slow.forEach(({ s }) => s.destroy()));
  // A complete request on another TLS connection is answered meanwhile.
  const ok = await connect();
  const answers = [];
  ok.on('data', raw.streamParser((m) => answers.push(m)));
  ok.write(raw.request({ method: 'OPTIONS', port, transport: 'TLS', src: '127.0.0.6', srcPort: ok.localPort }));
  await new Promise((r) => setTimeout(r, 1000));
  ok.destroy();
  assert.equal(answers.length, 1, 'OPTIONS answered over TLS');
  for (const { closed, first } of slow) {
    const sinceFirst = (await closed) - ((await first) - start);
    assert.ok(sinceFirst >= 1800 && sinceFirst < 5000, `closed ${sinceFirst} ms after the first byte`);
  }
  const s = await sbc.sipEngine.stats();
  assert.equal(s.rejections.slow_partial, 3, JSON.stringify(s.rejections));
});
