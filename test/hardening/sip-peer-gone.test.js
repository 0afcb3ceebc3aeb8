'use strict';
// The peer disappears: a TCP next hop that refuses the connection fails the
// call with 503 at once (not 408 at Timer B); a callee killed mid-call over
// UDP (silence: Timer F) and over TCP (connection refused: at once) leaves
// no dialog, transaction or call behind after the caller hangs up.
const test = require('node:test');
const assert = require('node:assert');
const { startTestSbc } = require('../helpers/sbc');
const { runSipp, startSipp } = require('../helpers/sipp');
const { freePort } = require('../helpers/ports');
const raw = require('./sip-raw');

const OFFER = ['v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', 'm=audio 40000 RTP/AVP 0', 'a=rtpmap:0 PCMU/8000', ''].join('\r\n');

async function waitFor(pred, timeoutMs, what) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('TCP next hop refusing connections: the caller gets 503 at once, not 408 at Timer B', async (t) => {
  const closed = await freePort();
  const sbc = await startTestSbc({
    realms: [
      { name: 'in', security: 'rtp' },
      { name: 'out', security: 'rtp', transport: 'tcp', nextHop: `sip:127.0.0.1:${closed};transport=tcp` },
    ],
    media: { portMin: 52000, portMax: 52099 },
  });
  t.after(() => sbc.stop());
  const target = { host: '127.0.0.1', port: sbc.port('in') };
  const started = Date.now();
  const got = await raw.udpExchange((p) => raw.request({ user: 'bob', port: target.port, src: '127.0.0.1', srcPort: p, body: OFFER }), target, { waitMs: 2500 });
  const fin = got.find((g) => raw.statusOf(g) >= 200);
  assert.ok(fin, `final answer within 2.5 s: ${got.map(raw.statusOf)}`);
  assert.equal(raw.statusOf(fin), 503, fin);
  assert.match(raw.headerOf(fin, 'Reason') || '', new RegExp(`^SIP;cause=503;text="tcp connection to 127\\.0\\.0\\.1:${closed} failed"$`), fin);
  t.diagnostic(`answered ${raw.statusOf(fin)} after < ${Date.now() - started} ms; Reason: ${raw.headerOf(fin, 'Reason')}`);
  await waitFor(() => sbc.app.calls.size === 0, 2000, 'call released');
  const s = await sbc.sipEngine.stats();
  assert.equal(s.active.client_transactions, 0, JSON.stringify(s.active));
});

for (const transport of ['udp', 'tcp']) {
  test(`callee killed mid-call over ${transport}: the caller's BYE is answered and nothing is left behind`, async (t) => {
    const uas = await startSipp({ builtin: 'uas', calls: 5, transport: transport === 'tcp' ? 't1' : 'u1', timeoutSec: 30 });
    t.after(() => uas.stop());
    const sbc = await startTestSbc({
      realms: [
        { name: 'in', security: 'rtp' },
        { name: 'out', security: 'rtp', transport, nextHop: `sip:127.0.0.1:${uas.port}${transport === 'tcp' ? ';transport=tcp' : ''}` },
      ],
      media: { portMin: transport === 'udp' ? 52100 : 52200, portMax: transport === 'udp' ? 52199 : 52299 },
      // Timer F = 64 * T1 = 3.2 s, so the silent UDP peer is given up on quickly.
      sip: { embedded: { timers: { t1Ms: 50, t2Ms: 400 } } },
    });
    t.after(() => sbc.stop());
    // One call of 2.5 s; the callee dies after 1 s.
    const call = runSipp({ builtin: 'uac', remote: `127.0.0.1:${sbc.port('in')}`, service: 'bob', calls: 1, extraArgs: ['-d', '2500'], timeoutSec: 20 });
    await waitFor(() => sbc.app.calls.size === 1, 5000, 'call up');
    await new Promise((r) => setTimeout(r, 1000));
    uas.child.kill('SIGKILL');
    const r = await call;
    assert.equal(r.code, 0, `caller's call (BYE answered by the SBC):\n${r.errors.slice(0, 1000)}`);
    const byeSent = Date.now();
    // UDP: nothing answers the BYE toward the dead callee (ICMP is not seen
    // on an unconnected socket): Timer F ends it. TCP: the connection is
    // refused and the BYE fails at once.
    await waitFor(async () => {
      const s = await sbc.sipEngine.stats();
      return s.active.dialogs === 0 && s.active.client_transactions === 0 && sbc.app.calls.size === 0;
    }, transport === 'udp' ? 8000 : 2000, 'dialog, transactions and call gone');
    const took = Date.now() - byeSent;
    t.diagnostic(`${transport}: cleaned up ${took} ms after the caller's BYE`);
    if (transport === 'tcp') assert.ok(took < 1500, `TCP refusal handled at once (${took} ms)`);
    // The SBC did send its BYE toward the dead callee (UDP: with retransmissions).
    const s = await sbc.sipEngine.stats();
    const byes = s.messages.filter((m) => m.method === 'BYE' && m.direction === 'out' && m.status === '' && m.transport === transport);
    assert.ok(byes.length === 1 && byes[0].count >= (transport === 'udp' ? 2 : 1), JSON.stringify(s.messages));
  });
}
