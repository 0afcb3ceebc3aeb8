'use strict';
// Transaction/dialog timers with a peer that drops packets, using raw UDP
// sockets as the misbehaving peer and a small T1 so that 64*T1 is short.
const test = require('node:test');
const assert = require('node:assert');
const dgram = require('node:dgram');
const { setup, once, SDP } = require('./helpers');

const T1 = 50; // ms: 64*T1 = 3.2 s

function udpPeer() {
  const sock = dgram.createSocket('udp4');
  const received = [];
  sock.on('message', (m, rinfo) => {
    const text = m.toString();
    received.push({ text, at: Date.now(), rinfo });
    sock.emit('sip', text, rinfo);
  });
  return new Promise((resolve) => sock.bind(0, '127.0.0.1', () => resolve({ sock, received, port: sock.address().port })));
}

function invite(peerPort, enginePort, callId) {
  const body = SDP(42000);
  return [
    `INVITE sip:svc@127.0.0.1:${enginePort} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${peerPort};branch=z9hG4bK-${callId}`,
    `From: <sip:raw@127.0.0.1:${peerPort}>;tag=raw1`,
    `To: <sip:svc@127.0.0.1:${enginePort}>`,
    `Call-ID: ${callId}`,
    'CSeq: 1 INVITE',
    `Contact: <sip:raw@127.0.0.1:${peerPort}>`,
    'Max-Forwards: 70',
    'Content-Type: application/sdp',
    `Content-Length: ${Buffer.byteLength(body)}`,
    '', body,
  ].join('\r\n');
}

test('UAS 2xx that is never ACKed is retransmitted, then the engine sends BYE and tells the app', async (t) => {
  const { engine, srf } = await setup(t, { timers: { t1Ms: T1, t2Ms: 400, t4Ms: 500 } });
  const peer = await udpPeer();
  t.after(() => peer.sock.close());
  const destroyed = new Promise((resolve) => {
    srf.invite(async (req, res) => {
      const dlg = await srf.createUAS(req, res, { localSdp: SDP(40000) });
      dlg.on('destroy', (msg, reason) => resolve({ msg, reason }));
    });
  });
  // Answer the BYE so the engine's BYE transaction completes.
  peer.sock.on('sip', (text, rinfo) => {
    if (text.startsWith('BYE ')) {
      const hdr = (n) => text.match(new RegExp(`^${n}: .*$`, 'mi'))[0];
      const resp = ['SIP/2.0 200 OK', hdr('Via'), hdr('From'), hdr('To'), hdr('Call-ID'), hdr('CSeq'), 'Content-Length: 0', '', ''].join('\r\n');
      peer.sock.send(resp, rinfo.port, rinfo.address);
    }
  });
  const started = Date.now();
  peer.sock.send(invite(peer.port, engine.port('udp'), 'noack-1'), engine.port('udp'), '127.0.0.1');
  const { reason } = await destroyed;
  const elapsed = Date.now() - started;
  const oks = peer.received.filter((m) => m.text.startsWith('SIP/2.0 200'));
  const byes = peer.received.filter((m) => m.text.startsWith('BYE '));
  assert.ok(oks.length >= 5, `expected several 200 retransmissions, got ${oks.length}`);
  // T1 doubling capped at T2: gaps grow then stop growing.
  const gaps = oks.slice(1).map((m, i) => m.at - oks[i].at);
  assert.ok(gaps[gaps.length - 1] <= 400 + 150, `gaps ${gaps}`);
  assert.strictEqual(byes.length, 1);
  assert.match(byes[0].text, /Reason: SIP;cause=408;text="ACK timeout"/);
  assert.strictEqual(reason, 'ACK timeout');
  assert.ok(elapsed >= 64 * T1 - 100, `BYE came after ${elapsed} ms`);
});

test('UAC request to a silent peer times out with 408 passed to the app (INVITE and non-INVITE)', async (t) => {
  const { srf } = await setup(t, { timers: { t1Ms: T1, t2Ms: 400, t4Ms: 500 } });
  const peer = await udpPeer();
  t.after(() => peer.sock.close());
  const started = Date.now();
  await assert.rejects(srf.createUAC(`sip:silent@127.0.0.1:${peer.port}`, { localSdp: SDP(41000) }), (err) => err.status === 408);
  const elapsed = Date.now() - started;
  const invites = peer.received.filter((m) => m.text.startsWith('INVITE '));
  // Timer A: T1, 2T1, 4T1... until Timer B (64*T1): 7 transmissions in all.
  assert.strictEqual(invites.length, 7, `INVITE sent ${invites.length} times`);
  assert.ok(elapsed >= 64 * T1 - 50 && elapsed < 64 * T1 + 1500, `timed out after ${elapsed} ms`);

  peer.received.length = 0;
  const res = await new Promise((resolve, reject) => {
    srf.request(`sip:silent@127.0.0.1:${peer.port}`, { method: 'OPTIONS' }, (err, req) => {
      if (err) return reject(err);
      req.on('response', resolve);
    });
  });
  assert.strictEqual(res.status, 408);
  const options = peer.received.filter((m) => m.text.startsWith('OPTIONS '));
  assert.ok(options.length >= 5, `OPTIONS sent ${options.length} times (Timer E)`);
});

test('retransmitted INVITE is absorbed: the app sees it once, the peer gets the 100/200 again', async (t) => {
  const { engine, srf } = await setup(t, { timers: { t1Ms: 200, t2Ms: 4000, t4Ms: 5000 } });
  const peer = await udpPeer();
  t.after(() => peer.sock.close());
  let invites = 0;
  let release;
  const answered = new Promise((r) => { release = r; });
  srf.invite(async (req, res) => {
    invites++;
    await answered;
    res.send(486);
  });
  const msg = invite(peer.port, engine.port('udp'), 'retrans-1');
  peer.sock.send(msg, engine.port('udp'), '127.0.0.1');
  await once(peer.sock, 'sip');
  peer.sock.send(msg, engine.port('udp'), '127.0.0.1');
  await new Promise((r) => setTimeout(r, 200));
  release();
  await new Promise((r) => setTimeout(r, 400));
  assert.strictEqual(invites, 1);
  const trying = peer.received.filter((m) => m.text.startsWith('SIP/2.0 100'));
  assert.strictEqual(trying.length, 2, 'the 100 Trying is resent for the retransmission');
  const busy = peer.received.filter((m) => m.text.startsWith('SIP/2.0 486'));
  assert.ok(busy.length >= 2, `486 retransmitted until ACK (Timer G), got ${busy.length}`);
});
