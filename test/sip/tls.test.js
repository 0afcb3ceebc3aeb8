'use strict';
// SIP over TLS with a peer nobody here wrote: openssl s_client sends a
// hand-written OPTIONS and an INVITE to the engine's TLS listener.
const test = require('node:test');
const assert = require('node:assert');
const { spawn } = require('node:child_process');
const { selfSignedCert } = require('../helpers/certs');
const { setup, tmpDir, SDP } = require('./helpers');

const makeCert = () => {
  const { cert, key } = selfSignedCert(tmpDir('esbc-tls-'));
  return { cert, key };
};

/** Send `text` through openssl s_client and collect what comes back until `until` matches. */
function sClient(port, text, until, ms = 5000) {
  return new Promise((resolve, reject) => {
    const c = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-quiet', '-verify_quiet'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    const t = setTimeout(() => { c.kill(); reject(new Error(`s_client: no match for ${until}; got:\n${out}`)); }, ms);
    c.stdout.on('data', (d) => {
      out += d;
      if (until.test(out)) { clearTimeout(t); c.kill(); resolve(out); }
    });
    c.stdin.write(text);
  });
}

function request(method, port, callId, extra = [], body = '') {
  return [
    `${method} sip:svc@127.0.0.1:${port};transport=tls SIP/2.0`,
    'Via: SIP/2.0/TLS 127.0.0.1:5999;branch=z9hG4bK-tls-' + callId,
    'From: <sip:client@127.0.0.1>;tag=tls1',
    `To: <sip:svc@127.0.0.1:${port}>`,
    `Call-ID: ${callId}`,
    `CSeq: 1 ${method}`,
    'Contact: <sip:client@127.0.0.1:5999;transport=tls>',
    'Max-Forwards: 70',
    ...extra,
    `Content-Length: ${Buffer.byteLength(body)}`,
    '', body,
  ].join('\r\n');
}

test('TLS: hand-written OPTIONS and INVITE through openssl s_client reach the app and get answers on the same connection', async (t) => {
  const tls = makeCert();
  const { engine, srf } = await setup(t, { tls, listen: [{ transport: 'tls', address: '127.0.0.1', port: 0 }] });
  const seen = [];
  srf.options((req, res) => { seen.push(req.protocol); res.send(200, { headers: { 'X-Over': 'tls' } }); });
  srf.invite(async (req, res) => {
    seen.push(req.protocol);
    await srf.createUAS(req, res, { localSdp: SDP(40000) });
  });
  const port = engine.port('tls');
  const out = await sClient(port, request('OPTIONS', port, 'tls-opt'), /SIP\/2\.0 200 OK[\s\S]*\r\n\r\n/);
  assert.match(out, /X-Over: tls/);
  assert.match(out, /Via: SIP\/2\.0\/TLS 127\.0\.0\.1:5999;branch=z9hG4bK-tls-tls-opt\r\n/);
  const inv = await sClient(port, request('INVITE', port, 'tls-inv', ['Content-Type: application/sdp'], SDP(5000)),
    /SIP\/2\.0 200 OK[\s\S]*m=audio 40000/);
  assert.match(inv, /SIP\/2\.0 100 Trying/);
  assert.match(inv, /Contact: <sip:[^>]*transport=tls>/);
  assert.deepStrictEqual(seen, ['tls', 'tls']);
});
