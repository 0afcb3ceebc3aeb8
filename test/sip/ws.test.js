'use strict';
// SIP over WebSocket (RFC 7118) through the engine, with the npm `ws` client
// as the browser side and unmodified drachtio-srf as the app: requests
// framed one per WebSocket message (Via host `*.invalid` as JsSIP sends it),
// answers and the app's in-dialog BYE on the same socket, the upgrade
// refused without the `sip` subprotocol, WSS with a self-signed certificate,
// and a BYE toward a browser whose socket is gone failing at once.
const test = require('node:test');
const assert = require('node:assert');
const WebSocket = require('ws');
const { selfSignedCert } = require('../helpers/certs');
const { setup, tmpDir, SDP, delay } = require('./helpers');

const makeCert = () => {
  const { cert, key } = selfSignedCert(tmpDir('esbc-wss-'));
  return { cert, key };
};

/** A WebSocket client that queues incoming SIP messages; `next(re)` waits for one matching. */
async function connect(url, opts = {}) {
  const ws = new WebSocket(url, 'sip', opts);
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
  });
  const inbox = [];
  const waiters = [];
  ws.on('message', (data) => {
    const text = data.toString();
    const i = waiters.findIndex((w) => w.re.test(text));
    if (i >= 0) waiters.splice(i, 1)[0].resolve(text);
    else inbox.push(text);
  });
  ws.next = (re, ms = 5000) => {
    const i = inbox.findIndex((m) => re.test(m));
    if (i >= 0) return Promise.resolve(inbox.splice(i, 1)[0]);
    return new Promise((resolve, reject) => {
      const w = { re, resolve: (m) => { clearTimeout(timer); resolve(m); } };
      const timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(w), 1);
        reject(new Error(`no message matching ${re} within ${ms} ms; got:\n${inbox.join('\n---\n')}`));
      }, ms);
      waiters.push(w);
    });
  };
  return ws;
}

/** What the upgrade was refused with (HTTP status and body), for a given subprotocol list. */
function refusal(url, protocols) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols);
    ws.once('open', () => { ws.close(); reject(new Error('upgrade accepted')); });
    ws.once('error', () => undefined);
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
  });
}

const VIA_HOST = 'k2j4d8f7a1.invalid';
function request(method, { transport = 'WS', n = 1, callId, toTag = '', uri = 'sip:svc@127.0.0.1', body = '', extra = [] } = {}) {
  return [
    `${method} ${uri} SIP/2.0`,
    `Via: SIP/2.0/${transport} ${VIA_HOST};branch=z9hG4bK-ws-${callId}-${method}-${n}`,
    'Max-Forwards: 70',
    'From: <sip:webrtc@127.0.0.1>;tag=wsft1',
    `To: <sip:svc@127.0.0.1>${toTag}`,
    `Call-ID: ${callId}`,
    `CSeq: ${n} ${method}`,
    `Contact: <sip:u7x2@${VIA_HOST};transport=${transport.toLowerCase()};ob>`,
    ...extra,
    `Content-Length: ${Buffer.byteLength(body)}`,
    '', body,
  ].join('\r\n');
}

test('WS: OPTIONS and an INVITE dialog over one WebSocket; the app\'s BYE comes back on it', async (t) => {
  const { engine, srf } = await setup(t, { listen: [{ transport: 'ws', address: '127.0.0.1', port: 0 }] });
  const seen = [];
  srf.options((req, res) => { seen.push(req.protocol); res.send(200, { headers: { 'X-Over': 'ws' } }); });
  let dialog;
  srf.invite(async (req, res) => {
    seen.push(req.protocol);
    dialog = await srf.createUAS(req, res, { localSdp: SDP(40000) });
  });
  const port = engine.port('ws');
  const ws = await connect(`ws://127.0.0.1:${port}`);
  t.after(() => ws.terminate());
  assert.equal(ws.protocol, 'sip');

  ws.send(request('OPTIONS', { callId: 'ws-opt' }));
  const ok = await ws.next(/^SIP\/2\.0 200 OK/);
  assert.match(ok, /X-Over: ws/);
  assert.match(ok, new RegExp(`Via: SIP/2\\.0/WS ${VIA_HOST};branch=z9hG4bK-ws-ws-opt-OPTIONS-1;received=127\\.0\\.0\\.1\\r\\n`));

  ws.send(request('INVITE', { callId: 'ws-inv', body: SDP(5000), extra: ['Content-Type: application/sdp'] }));
  await ws.next(/^SIP\/2\.0 100 Trying/);
  const answer = await ws.next(/^SIP\/2\.0 200 OK/);
  assert.match(answer, /m=audio 40000/);
  const contact = /Contact: <(sip:[^>]+)>/.exec(answer)[1];
  assert.equal(contact, `sip:127.0.0.1:${port};transport=ws`, 'our Contact names the WS listener');
  const toTag = /To: [^\r\n]*(;tag=[^\r\n;]+)/.exec(answer)[1];
  ws.send(request('ACK', { callId: 'ws-inv', toTag, uri: contact }));
  for (let i = 0; i < 50 && !dialog; i++) await delay(50);
  assert.ok(dialog, 'srf has the UAS dialog');

  // The app hangs up: the BYE must arrive on this socket, to the browser's
  // Contact (an .invalid host no one could connect to).
  const destroyed = dialog.destroy();
  const bye = await ws.next(/^BYE /);
  assert.match(bye, new RegExp(`^BYE sip:u7x2@${VIA_HOST};transport=ws;ob SIP/2\\.0\\r\\n`));
  assert.match(bye, new RegExp(`Via: SIP/2\\.0/WS 127\\.0\\.0\\.1:${port};branch=`));
  const byeResp = bye.split('\r\n').filter((l) => /^(Via|From|To|Call-ID|CSeq):/i.test(l));
  ws.send(['SIP/2.0 200 OK', ...byeResp, 'Content-Length: 0', '', ''].join('\r\n'));
  await destroyed;
  assert.deepStrictEqual(seen, ['ws', 'ws']);

  // The engine counted the traffic as ws; the dialog is gone.
  let s;
  for (let i = 0; i < 40; i++) {
    s = await engine.stats();
    if (s.active.dialogs === 0) break;
    await delay(50);
  }
  const count = (dir, method, status) => s.messages.filter((m) => m.direction === dir && m.transport === 'ws' && m.method === method && m.status === status).reduce((a, m) => a + m.count, 0);
  assert.equal(count('in', 'INVITE', ''), 1);
  assert.equal(count('out', 'INVITE', '200'), 1);
  assert.equal(count('out', 'BYE', ''), 1);
  assert.equal(count('in', 'BYE', '200'), 1);
  assert.equal(s.active.dialogs, 0);
});

test('WS: upgrade without the sip subprotocol is refused with 400; plain HTTP gets 426', async (t) => {
  const { engine } = await setup(t, { listen: [{ transport: 'ws', address: '127.0.0.1', port: 0 }] });
  const url = `ws://127.0.0.1:${engine.port('ws')}`;
  const chat = await refusal(url, 'chat');
  assert.equal(chat.status, 400);
  assert.match(chat.body, /Sec-WebSocket-Protocol must offer sip/);
  assert.equal((await refusal(url, undefined)).status, 400);
  const plain = await fetch(`http://127.0.0.1:${engine.port('ws')}/`);
  assert.equal(plain.status, 426);
  assert.equal(plain.headers.get('upgrade'), 'websocket');
  const s = await engine.stats();
  assert.equal(s.rejections.ws_handshake_failed, 3);
});

test('WSS with a self-signed certificate: OPTIONS answered over the TLS WebSocket', async (t) => {
  const tls = makeCert();
  const { engine, srf } = await setup(t, { tls, listen: [{ transport: 'wss', address: '127.0.0.1', port: 0 }] });
  const seen = [];
  srf.options((req, res) => { seen.push(req.protocol); res.send(200); });
  const ws = await connect(`wss://127.0.0.1:${engine.port('wss')}`, { rejectUnauthorized: false });
  t.after(() => ws.terminate());
  ws.send(request('OPTIONS', { transport: 'WSS', callId: 'wss-opt' }));
  const ok = await ws.next(/^SIP\/2\.0 200 OK/);
  assert.match(ok, new RegExp(`Via: SIP/2\\.0/WSS ${VIA_HOST};`));
  assert.deepStrictEqual(seen, ['wss']);
});

test('WS: once the browser\'s socket is gone, a BYE toward it fails at once (503), the dialog ends', async (t) => {
  const { engine, srf } = await setup(t, { listen: [{ transport: 'ws', address: '127.0.0.1', port: 0 }] });
  let dialog;
  srf.invite(async (req, res) => { dialog = await srf.createUAS(req, res, { localSdp: SDP(40002) }); });
  const ws = await connect(`ws://127.0.0.1:${engine.port('ws')}`);
  ws.send(request('INVITE', { callId: 'ws-gone', body: SDP(5002), extra: ['Content-Type: application/sdp'] }));
  const answer = await ws.next(/^SIP\/2\.0 200 OK/);
  const toTag = /To: [^\r\n]*(;tag=[^\r\n;]+)/.exec(answer)[1];
  ws.send(request('ACK', { callId: 'ws-gone', toTag, uri: /Contact: <(sip:[^>]+)>/.exec(answer)[1] }));
  for (let i = 0; i < 50 && !dialog; i++) await delay(50);
  ws.close();
  for (let i = 0; i < 40 && (await engine.stats()).active.connections > 0; i++) await delay(50);
  const t0 = Date.now();
  await dialog.destroy();
  let s;
  for (let i = 0; i < 40; i++) {
    s = await engine.stats();
    if (s.active.dialogs === 0) break;
    await delay(50);
  }
  assert.equal(s.active.dialogs, 0, 'dialog released without waiting for Timer F');
  assert.ok(Date.now() - t0 < 3000, `released in ${Date.now() - t0} ms`);
  assert.equal(s.rejections.ws_peer_gone, 1, 'the BYE was dropped for want of a connection, and counted');
});
