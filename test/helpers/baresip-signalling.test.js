'use strict';
// Harness features beyond a plain call: SIP over TLS, outbound proxy
// (Route to a sipp that plays proxy/UAS), and blind transfer between baresips.
const test = require('node:test');
const assert = require('node:assert');
const { startBaresip } = require('./baresip');
const { startSipp } = require('./sipp');
const { toneReport } = require('./goertzel');

test('SIP over TLS (self-signed) with dtls_srtp media', async (t) => {
  const a = await startBaresip({ name: 'alice', toneHz: 440, mediaenc: 'dtls_srtp', transport: 'tls' });
  t.after(() => a.cleanup());
  const b = await startBaresip({ name: 'bob', toneHz: 880, mediaenc: 'dtls_srtp', transport: 'tls' });
  t.after(() => b.cleanup());
  assert.match(b.uri, new RegExp(`:${b.sipPort + 1};transport=tls$`));
  await a.dial(b.uri);
  await Promise.all([a.waitEvent('CALL_MENC'), b.waitEvent('CALL_MENC')]);
  await Promise.all([a.waitHeard(1), b.waitHeard(1)]);
  const invite = a.sipMessages(/^INVITE /)[0];
  assert.strictEqual(invite.transport, 'TLS');
  assert.strictEqual(invite.sent, true);
  assert.ok(a.sipMessages(/^SIP\/2\.0 200 /).some((m) => m.sent === false && m.transport === 'TLS'));
  await a.hangup();
  await b.waitEvent('CALL_CLOSED');
  await Promise.all([a.stop(), b.stop()]);
  const r = toneReport(a.heardFiles()[0], 880, [440]);
  assert.ok(r.ok, r.reason);
});

test('outboundProxy: INVITE for another host goes to the proxy with a Route', async (t) => {
  const proxy = await startSipp({ builtin: 'uas' }); // stands in for the SBC
  t.after(() => proxy.cleanup());
  const c = await startBaresip({ name: 'carol', outboundProxy: `127.0.0.1:${proxy.port}` });
  t.after(() => c.cleanup());
  await c.dial('sip:dave@127.0.0.1:5999'); // nothing listens there: must not matter
  await c.waitEvent('CALL_ESTABLISHED');
  await c.hangup();
  await c.waitEvent('CALL_CLOSED');
  const r = await proxy.stop();
  const invite = r.messages.find((m) => !m.sent && m.firstLine.startsWith('INVITE'));
  assert.ok(invite, 'proxy got the INVITE');
  assert.match(invite.firstLine, /^INVITE sip:dave@127\.0\.0\.1:5999 /);
  assert.match(invite.text, new RegExp(`^Route: <sip:127\\.0\\.0\\.1:${proxy.port};lr>`, 'm'));
});

test('blind transfer: B transfers A to C; A then hears C', async (t) => {
  const menc = 'dtls_srtp';
  const a = await startBaresip({ name: 'alice', toneHz: 440, mediaenc: menc });
  t.after(() => a.cleanup());
  const b = await startBaresip({ name: 'bob', toneHz: 880, mediaenc: menc });
  t.after(() => b.cleanup());
  const c = await startBaresip({ name: 'carol', toneHz: 1320, mediaenc: menc });
  t.after(() => c.cleanup());
  await a.dial(b.uri);
  await a.waitEvent('CALL_MENC');
  await a.waitHeard(1.2); // >1 s: sndfile names are per second, a new call must not reuse one
  await b.transfer(c.uri);
  await a.waitEvent('TRANSFER');
  await b.waitEvent('CALL_CLOSED');
  await a.waitEvent((e) => e.type === 'CALL_MENC' && e.peeruri.startsWith('sip:carol@'));
  await a.waitHeard(1.5);
  await a.hangup();
  await c.waitEvent('CALL_CLOSED');
  await Promise.all([a.stop(), b.stop(), c.stop()]);

  const refer = b.sipMessages(/^REFER /).find((m) => m.sent);
  assert.match(refer.text, new RegExp(`^Refer-To: sip:carol@127\\.0\\.0\\.1:${c.sipPort}$`, 'm'));
  const notifies = b.sipMessages(/^NOTIFY /).filter((m) => !m.sent);
  assert.deepStrictEqual(notifies.map((m) => m.text.trim().split('\n').pop()), ['SIP/2.0 100 Trying', 'SIP/2.0 200 OK']);
  const [withB, withC] = a.heardFiles();
  assert.ok(toneReport(withB, 880, [440, 1320]).ok, toneReport(withB, 880, [440, 1320]).reason);
  assert.ok(toneReport(withC, 1320, [440, 880]).ok, toneReport(withC, 1320, [440, 880]).reason);
  const cr = toneReport(c.heardFiles()[0], 440, [880, 1320]);
  assert.ok(cr.ok, cr.reason);
});
