'use strict';
// Engine-level answers a raw UDP peer can observe: 503 with no route, 481 for
// unknown dialogs and CANCELs, CANCEL of a pending INVITE (200 + 487 and the
// app's 'cancel'), 491 for overlapping re-INVITEs, 400 for malformed input,
// and two applications served round-robin.
const test = require('node:test');
const assert = require('node:assert');
const dgram = require('node:dgram');
const { setup, connectSrf, closeSrf, delay, SDP } = require('./helpers');

async function rawPeer() {
  const sock = dgram.createSocket('udp4');
  const received = [];
  sock.on('message', (m) => { received.push(m.toString()); sock.emit('sip', m.toString()); });
  await new Promise((r) => sock.bind(0, '127.0.0.1', r));
  const port = sock.address().port;
  const waitFor = (re, ms = 3000) => new Promise((resolve, reject) => {
    const hit = received.find((x) => re.test(x));
    if (hit) return resolve(hit);
    const t = setTimeout(() => { sock.off('sip', on); reject(new Error(`no message matching ${re}; got:\n${received.join('\n---\n')}`)); }, ms);
    const on = (x) => { if (re.test(x)) { clearTimeout(t); sock.off('sip', on); resolve(x); } };
    sock.on('sip', on);
  });
  return { sock, received, port, waitFor };
}

function req(method, { port, enginePort, callId, branch, cseq = 1, fromTag = 'f1', toTag, body = '', extra = [] }) {
  return [
    `${method} sip:svc@127.0.0.1:${enginePort} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${port};branch=z9hG4bK${branch}`,
    `From: <sip:raw@127.0.0.1:${port}>;tag=${fromTag}`,
    `To: <sip:svc@127.0.0.1:${enginePort}>${toTag ? `;tag=${toTag}` : ''}`,
    `Call-ID: ${callId}`,
    `CSeq: ${cseq} ${method}`,
    `Contact: <sip:raw@127.0.0.1:${port}>`,
    'Max-Forwards: 70',
    ...extra,
    `Content-Length: ${Buffer.byteLength(body)}`,
    '', body,
  ].join('\r\n');
}

test('503 when no app routed the method; 481 for unknown dialog and unknown CANCEL; 400 for garbage', async (t) => {
  const { engine } = await setup(t);
  const p = await rawPeer();
  t.after(() => p.sock.close());
  const ep = engine.port('udp');
  const send = (m) => p.sock.send(m, ep, '127.0.0.1');
  send(req('MESSAGE', { port: p.port, enginePort: ep, callId: 'c503', branch: 'a1' }));
  assert.match(await p.waitFor(/^SIP\/2\.0 503 /), /CSeq: 1 MESSAGE/);
  send(req('BYE', { port: p.port, enginePort: ep, callId: 'c481', branch: 'a2', toTag: 'nope' }));
  assert.match(await p.waitFor(/^SIP\/2\.0 481 [\s\S]*CSeq: 1 BYE/), /Call-ID: c481/);
  send(req('CANCEL', { port: p.port, enginePort: ep, callId: 'cc481', branch: 'a3' }));
  assert.match(await p.waitFor(/^SIP\/2\.0 481 [\s\S]*CSeq: 1 CANCEL/), /Call-ID: cc481/);
  // Mismatched CSeq method: syntactically a request, so it can be answered 400.
  send(req('OPTIONS', { port: p.port, enginePort: ep, callId: 'c400', branch: 'a4' }).replace('CSeq: 1 OPTIONS', 'CSeq: 1 INVITE'));
  assert.match(await p.waitFor(/^SIP\/2\.0 400 /), /Call-ID: c400/);
  // Pure garbage is dropped; the engine keeps serving.
  send(Buffer.from([0, 1, 2, 255, 13, 10, 13, 10]));
  send(req('MESSAGE', { port: p.port, enginePort: ep, callId: 'alive', branch: 'a5' }));
  assert.match(await p.waitFor(/Call-ID: alive/), /^SIP\/2\.0 503/);
});

test('CANCEL of a pending INVITE: 200 to CANCEL, 487 to INVITE, the app is told', async (t) => {
  const { engine, srf } = await setup(t);
  const p = await rawPeer();
  t.after(() => p.sock.close());
  const ep = engine.port('udp');
  const cancelled = new Promise((resolve) => {
    srf.invite((request) => { request.on('cancel', () => resolve(true)); });
  });
  const inv = { port: p.port, enginePort: ep, callId: 'ccancel', branch: 'inv1', body: SDP(5000), extra: ['Content-Type: application/sdp'] };
  p.sock.send(req('INVITE', inv), ep, '127.0.0.1');
  await p.waitFor(/^SIP\/2\.0 100 /);
  p.sock.send(req('CANCEL', { ...inv, body: '', extra: [] }), ep, '127.0.0.1');
  await p.waitFor(/^SIP\/2\.0 200 [\s\S]*CSeq: 1 CANCEL/);
  const r487 = await p.waitFor(/^SIP\/2\.0 487 /);
  assert.match(r487, /CSeq: 1 INVITE/);
  assert.match(r487, /To: .*;tag=/);
  assert.strictEqual(await cancelled, true);
});

test('491 for a re-INVITE while one is pending; in-dialog requests reach the dialog', async (t) => {
  const { engine, srf } = await setup(t);
  const p = await rawPeer();
  t.after(() => p.sock.close());
  const ep = engine.port('udp');
  let dlg;
  const modified = [];
  srf.invite(async (rq, rs) => {
    dlg = await srf.createUAS(rq, rs, { localSdp: SDP(40000) });
    dlg.on('modify', (r2) => { modified.push(r2); /* never answered: stays pending */ });
  });
  const base = { port: p.port, enginePort: ep, callId: 'c491', body: SDP(5000), extra: ['Content-Type: application/sdp'] };
  p.sock.send(req('INVITE', { ...base, branch: 'i1' }), ep, '127.0.0.1');
  const ok = await p.waitFor(/^SIP\/2\.0 200 /);
  const toTag = ok.match(/^To: .*;tag=([^;\r\n]+)/m)[1];
  p.sock.send(req('ACK', { ...base, branch: 'ack1', toTag, body: '', extra: [] }), ep, '127.0.0.1');
  await delay(200);
  p.sock.send(req('INVITE', { ...base, branch: 'i2', toTag, cseq: 2, body: SDP(5002) }), ep, '127.0.0.1');
  await delay(300);
  p.sock.send(req('INVITE', { ...base, branch: 'i3', toTag, cseq: 3, body: SDP(5004) }), ep, '127.0.0.1');
  const r491 = await p.waitFor(/^SIP\/2\.0 491 /);
  assert.match(r491, /CSeq: 3 INVITE/);
  assert.strictEqual(modified.length, 1);
  assert.ok(dlg);
});

test('two applications connected at once receive new INVITEs round-robin', async (t) => {
  const { engine, srf } = await setup(t);
  const srf2 = await connectSrf(engine);
  const p = await rawPeer();
  t.after(() => p.sock.close());
  const ep = engine.port('udp');
  const got = { a: [], b: [] };
  srf.invite((rq, rs) => { got.a.push(rq.get('Call-ID')); rs.send(480); });
  srf2.invite((rq, rs) => { got.b.push(rq.get('Call-ID')); rs.send(480); });
  await delay(200);
  for (let i = 0; i < 6; i++) {
    p.sock.send(req('INVITE', { port: p.port, enginePort: ep, callId: `rr${i}`, branch: `rr${i}` }), ep, '127.0.0.1');
    await p.waitFor(new RegExp(`^SIP/2\\.0 480 [\\s\\S]*Call-ID: rr${i}`));
  }
  assert.strictEqual(got.a.length, 3, JSON.stringify(got));
  assert.strictEqual(got.b.length, 3, JSON.stringify(got));
  // Strict alternation.
  const order = [...got.a.map((c) => [c, 'a']), ...got.b.map((c) => [c, 'b'])].sort().map((x) => x[1]).join('');
  assert.ok(order === 'ababab' || order === 'bababa', order);
  // Disconnect the second app while the engine is still up (else it reconnects forever).
  closeSrf(srf2);
});
