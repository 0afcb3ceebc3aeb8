'use strict';
// SIP torture through the running SBC (embedded engine + app): the RFC 4475
// invalid messages and a real-world malformed corpus, raw over UDP and TCP,
// each answered 400/505/501 or dropped (a stream closed where framing is
// lost), while a sipp call goes through the SBC and completes; afterwards the
// engine still answers and keeps no state. Then INVITEs with broken SDP get
// 4xx with a Reason naming the problem (cases not in test/sdp/reject.test.js).
const test = require('node:test');
const assert = require('node:assert');
const path = require('node:path');
const { startTestSbc } = require('../helpers/sbc');
const { runSipp, startSipp } = require('../helpers/sipp');
const raw = require('./sip-raw');

const FIXTURE = require(path.join(__dirname, 'fixtures', 'rfc4475-invalid.json'));

/** RFC 4475 text: \n -> CRLF, {CL} -> body length (as native/sip/tests/rfc4475.rs). */
function rfcMessage(text) {
  const crlf = text.replace(/\r\n/g, '\n').replace(/\n/g, '\r\n');
  const i = crlf.indexOf('\r\n\r\n');
  const [head, body] = i < 0 ? [crlf, ''] : [crlf.slice(0, i), crlf.slice(i + 4)];
  return Buffer.from(`${head.replace('{CL}', String(Buffer.byteLength(body)))}\r\n\r\n${body}`, 'utf8');
}

// What the SBC does with each RFC 4475 invalid message. 'drop': a response
// (3.1.2.5, 3.1.2.19: never answered) or no usable Via to answer to (3.1.2.1).
const RFC_EXPECT = {
  '3.1.2.1 badinv01': 'drop', '3.1.2.2 clerr': 400, '3.1.2.3 ncl': 400, '3.1.2.4 scalar02': 400, '3.1.2.5 scalarlg': 'drop',
  '3.1.2.6 quotbal': 400, '3.1.2.7 ltgtruri': 400, '3.1.2.8 lwsruri': 400, '3.1.2.9 lwsstart': 400, '3.1.2.10 trws': 400,
  '3.1.2.11 escruri': 400, '3.1.2.12 baddate': 400, '3.1.2.13 regbadct': 400, '3.1.2.14 badaspec': 400, '3.1.2.15 baddn': 400,
  '3.1.2.16 badvers': 505, '3.1.2.17 mismatch01': 400, '3.1.2.18 mismatch02': 400, '3.1.2.19 bigcode': 'drop', '3.3.1 insuf': 400,
  '3.3.8 multi01': 400, '3.3.9 mcl01': 400,
};

/** A well-formed request from `src:port` with `edit` applied to its text. */
function edited(method, edit, transport = 'UDP') {
  return (port, target) => {
    const text = raw.request({ method, user: 'torture', port: target.port, transport, src: '127.0.0.1', srcPort: port });
    return Buffer.isBuffer(edit) ? edit : edit(text);
  };
}
const drop = (name) => (t) => t.replace(new RegExp(`^${name}:.*\\r\\n`, 'm'), '');

/** Real-world malformed corpus: [name, build(port, target), expected]. */
function corpus(transport) {
  const T = transport.toUpperCase();
  const nested = (depth) => {
    let body = 'v=0\r\n';
    for (let i = 0; i < depth; i++) body = `--b${i}\r\nContent-Type: multipart/mixed;boundary=b${i + 1}\r\n\r\n${body}\r\n--b${i}--\r\n`;
    return body;
  };
  return [
    ['missing Call-ID', edited('INVITE', drop('Call-ID'), T), 400],
    ['missing From', edited('INVITE', drop('From'), T), 400],
    ['missing CSeq', edited('OPTIONS', drop('CSeq'), T), 400],
    ['missing Via', edited('INVITE', drop('Via'), T), 'drop'],
    ['Content-Length not a number', edited('OPTIONS', (t) => t.replace('Content-Length: 0', 'Content-Length: abc'), T), transport === 'tcp' ? 'close' : 400],
    ['two different Content-Length', edited('OPTIONS', (t) => t.replace('Content-Length: 0', 'Content-Length: 0\r\nContent-Length: 5'), T), transport === 'tcp' ? 'close' : 400],
    ['Content-Length beyond the datagram', edited('OPTIONS', (t) => t.replace('Content-Length: 0', 'Content-Length: 300'), T), transport === 'tcp' ? 'drop' : 400],
    ['5000 headers', edited('OPTIONS', (t) => t.replace('Max-Forwards: 70\r\n', `Max-Forwards: 70\r\n${'X-Junk: y\r\n'.repeat(5000)}`), T), 503],
    ['one 60 kB header', edited('OPTIONS', (t) => t.replace('Max-Forwards: 70\r\n', `Max-Forwards: 70\r\nX-Huge: ${'h'.repeat(60000)}\r\n`), T), 503],
    ['deep multipart body', edited('INVITE', (t) => t.replace('Content-Length: 0\r\n', '').replace(/\r\n$/, '') + `Content-Type: multipart/mixed;boundary=b0\r\nContent-Length: ${Buffer.byteLength(nested(200))}\r\n\r\n${nested(200)}`), 415],
    ['invalid UTF-8 in a header', (p, tg) => Buffer.concat([Buffer.from(raw.request({ method: 'OPTIONS', port: tg.port, transport: T, src: '127.0.0.1', srcPort: p }).replace(/\r\n\r\n$/, '')), Buffer.from('\r\nX-Bad: \xff\xfe\xc0\r\n\r\n', 'latin1')]), transport === 'tcp' ? 'close' : 'drop'],
    ['unknown method', edited('FOOBAR', (t) => t, T), 501],
    ['overlong Call-ID', edited('INVITE', (t) => t.replace(/^Call-ID: .*$/m, `Call-ID: ${'c'.repeat(5000)}@x`), T), 400],
    ['NUL bytes', () => Buffer.from('\0\0\0\0INVITE\0 sip:x SIP/2.0\r\n\r\n', 'latin1'), transport === 'tcp' ? 'close' : 'drop'],
    ['binary garbage', () => Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 131 + 7) & 0xff)), 'drop'],
  ];
}

/**
 * Sends one message and classifies the outcome: the final status, 'drop'
 * (no answer; over TCP the connection stays open: unanswerable but framed,
 * or waiting for bytes a Content-Length promised), or 'close' (TCP framing
 * lost: the engine closes the connection).
 */
async function outcome(transport, build, target) {
  if (transport === 'udp') {
    const got = await raw.udpExchange((p) => build(p, target), target, { waitMs: 400 });
    const finals = got.map(raw.statusOf).filter((c) => c >= 200);
    return { result: finals.length ? finals[0] : 'drop', got };
  }
  const r = await raw.tcpExchange((p) => build(p, target), target, { waitMs: 600 });
  const finals = r.messages.map(raw.statusOf).filter((c) => c >= 200);
  return { result: finals.length ? finals[0] : r.closed ? 'close' : 'drop', got: r.messages };
}

async function tortureRun(t, transport) {
  const uas = await startSipp({ builtin: 'uas', calls: 100, timeoutSec: 90 });
  t.after(() => uas.stop());
  const sbc = await startTestSbc({
    realms: [
      { name: 'in', security: 'rtp', transport },
      { name: 'out', security: 'rtp', nextHop: `sip:127.0.0.1:${uas.port}` },
    ],
    media: { portMin: transport === 'udp' ? 51600 : 51700, portMax: transport === 'udp' ? 51699 : 51799 },
    // The torture comes from the caller's own address: no rate limit in the way.
    // Short timers (Timer H/J/M = 64*T1 = 6.4 s, K = T4) so the leftovers of
    // the answered requests are gone when the test checks for state.
    sip: { embedded: { limits: { trustedSources: ['127.0.0.1'] }, timers: { t1Ms: 100, t2Ms: 800, t4Ms: 1000 } } },
  });
  t.after(() => sbc.stop());
  const target = { host: '127.0.0.1', port: sbc.port('in') };
  // A legitimate call stream runs through the whole torture.
  const legit = runSipp({ builtin: 'uac', remote: `127.0.0.1:${target.port}`, service: 'legit', calls: 10, rate: 2, transport: transport === 'udp' ? 'u1' : 't1', timeoutSec: 60 });

  const wrong = [];
  for (const v of FIXTURE.vectors) {
    const msg = rfcMessage(v.text);
    // Over a stream, framing comes first: a Content-Length the bytes do not
    // satisfy waits for more (clerr), a negative one or two different ones
    // lose framing (ncl, mcl01).
    let want = RFC_EXPECT[v.name];
    if (transport === 'tcp' && v.name.endsWith('clerr')) want = 'drop';
    if (transport === 'tcp' && (v.name.endsWith('ncl') || v.name.endsWith('mcl01'))) want = 'close';
    const { result, got } = await outcome(transport, () => msg, target);
    if (result !== want) wrong.push(`${v.name}: ${result}, expected ${want}\n${got[0] || ''}`);
    else for (const g of got.filter((x) => raw.statusOf(x) === 400)) if (!/^Warning: 399 esbc "/m.test(g)) wrong.push(`${v.name}: 400 without Warning`);
  }
  for (const [name, build, want] of corpus(transport)) {
    const { result, got } = await outcome(transport, build, target);
    if (result !== want) wrong.push(`${name}: ${result}, expected ${want}\n${(got[0] || '').slice(0, 300)}`);
  }
  assert.deepEqual(wrong, []);

  const r = await legit;
  assert.equal(r.code, 0, `legitimate calls failed during the torture:\n${r.errors.slice(0, 1500)}`);
  // Still healthy: a valid OPTIONS is answered, and nothing is left behind.
  const again = await outcome(transport, edited('OPTIONS', (x) => x, transport.toUpperCase()), target);
  assert.equal(again.result, 503, 'OPTIONS answered (no app routes it)');
  const s = await sbc.sipEngine.stats();
  t.diagnostic(JSON.stringify({ rejections: s.rejections, active: s.active }));
  assert.ok(s.rejections.malformed_400 >= 15, JSON.stringify(s.rejections));
  await new Promise((res) => setTimeout(res, 7000));
  const after = await sbc.sipEngine.stats();
  assert.deepEqual([after.active.dialogs, after.active.server_transactions, after.active.client_transactions], [0, 0, 0], JSON.stringify(after.active));
  assert.equal(sbc.app.calls.size, 0);
}

test('torture over UDP: RFC 4475 invalid messages and a malformed corpus through the running SBC', (t) => tortureRun(t, 'udp'));
test('torture over TCP: the same, one connection per message', (t) => tortureRun(t, 'tcp'));

// Broken SDP in an INVITE through the running SBC (realm policy as-offered,
// so DTLS and SDES offers reach their checks). Cases already covered by
// test/sdp/reject.test.js (missing fingerprint/setup, holdconn, md5, policy
// mismatches, no audio, no codec) are not repeated. Every SDP problem gets
// 488 with a Reason naming it (issue 8).
const FP256 = Array.from({ length: 32 }, (_, i) => ((i * 37 + 11) & 0xff).toString(16).padStart(2, '0').toUpperCase()).join(':');
const sdpBody = (lines, { c = 'c=IN IP4 127.0.0.1' } = {}) => ['v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', ...(c ? [c] : []), 't=0 0', ...lines].join('\r\n') + '\r\n';
const BROKEN_SDP = [
  ['not SDP at all', 'hello world', 488, 'SDP does not start with v=0'],
  ['binary body', '\x00\x01\x02\xff', 488, 'SDP does not start with v=0'],
  ['m-line port not a number', sdpBody(['m=audio abc RTP/AVP 0']), 488, 'invalid port on m-line 0'],
  ['m-line port out of range', sdpBody(['m=audio 70000 RTP/AVP 0']), 488, 'invalid port on m-line 0'],
  ['missing c=', sdpBody(['m=audio 40000 RTP/AVP 0'], { c: null }), 488, 'no c= line for m-line 0'],
  ['c= not an address', sdpBody(['m=audio 40000 RTP/AVP 0'], { c: 'c=IN IP4 999.1.1.1' }), 488, "media: remote address '999.1.1.1' is not an IP address"],
  ['a line that is not SDP', sdpBody(['m=audio 40000 RTP/AVP 0', 'this is not sdp']), 488, 'malformed SDP line 7'],
  ['300 m-lines', sdpBody(Array.from({ length: 300 }, (_, i) => `m=audio ${40000 + 2 * i} RTP/AVP 0`)), 488, 'too many m-lines (300, at most 16)'],
  ['fingerprint of the wrong length', sdpBody(['m=audio 40000 UDP/TLS/RTP/SAVPF 0', 'a=setup:actpass', `a=fingerprint:sha-256 ${FP256.slice(0, 29)}`]), 488, 'a=fingerprint sha-256 has 10 bytes, expected 32'],
  ['fingerprint not hex', sdpBody(['m=audio 40000 UDP/TLS/RTP/SAVPF 0', 'a=setup:actpass', 'a=fingerprint:sha-256 zz:zz']), 488, 'malformed a=fingerprint'],
  ['two different a=setup on one m-line', sdpBody(['m=audio 40000 UDP/TLS/RTP/SAVPF 0', 'a=setup:active', 'a=setup:passive', `a=fingerprint:sha-256 ${FP256}`]), 488, 'contradictory a=setup'],
  ['unknown a=setup value', sdpBody(['m=audio 40000 UDP/TLS/RTP/SAVPF 0', 'a=setup:sideways', `a=fingerprint:sha-256 ${FP256}`]), 488, "invalid a=setup value 'sideways'"],
  ['fingerprint with an unknown hash', sdpBody(['m=audio 40000 UDP/TLS/RTP/SAVPF 0', 'a=setup:actpass', `a=fingerprint:sha-999 ${FP256}`]), 488, 'DTLS-SRTP offer with unsupported fingerprint hash (sha-999)'],
  ['a=crypto key not base64', sdpBody(['m=audio 40000 RTP/SAVP 0', 'a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:notbase64!!']), 488, 'no common SRTP crypto suite (1 AES_CM_128_HMAC_SHA1_80: key length wrong for AES_CM_128_HMAC_SHA1_80)'],
  ['a=crypto key too short', sdpBody(['m=audio 40000 RTP/SAVP 0', 'a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:QUJD']), 488, 'no common SRTP crypto suite (1 AES_CM_128_HMAC_SHA1_80: key length wrong for AES_CM_128_HMAC_SHA1_80)'],
  ['a=crypto unknown suite', sdpBody(['m=audio 40000 RTP/SAVP 0', 'a=crypto:1 FOO_BAR inline:ESEkAAC/GMA/B2aZVRPmPPR87wY0N6A07kxwoc1L']), 488, 'no common SRTP crypto suite (1 FOO_BAR: unsupported suite FOO_BAR)'],
];

test('INVITEs with broken SDP through the running SBC: 488 with a Reason naming the problem', async (t) => {
  const uas = await startSipp({ builtin: 'uas', calls: 100, timeoutSec: 60 });
  t.after(() => uas.stop());
  const sbc = await startTestSbc({
    realms: [
      { name: 'in', security: 'as-offered' },
      { name: 'out', security: 'rtp', nextHop: `sip:127.0.0.1:${uas.port}` },
    ],
    media: { portMin: 51800, portMax: 51899 },
  });
  t.after(() => sbc.stop());
  const target = { host: '127.0.0.1', port: sbc.port('in') };
  const wrong = [];
  for (const [name, body, status, text] of BROKEN_SDP) {
    const got = await raw.udpExchange((p) => raw.request({ port: target.port, src: '127.0.0.1', srcPort: p, body }), target, { waitMs: 500 });
    const fin = got.find((g) => raw.statusOf(g) >= 200) || '';
    const reason = raw.headerOf(fin, 'Reason');
    const want = `SIP;cause=${status};text="${text}"`;
    if (raw.statusOf(fin) !== status || reason !== want) wrong.push(`${name}: ${raw.statusOf(fin)} ${reason}, expected ${status} ${want}`);
  }
  assert.deepEqual(wrong, []);
  assert.equal(sbc.app.calls.size, 0, 'no call left behind');
  const s = await sbc.sipEngine.stats();
  assert.equal(s.messages.find((m) => m.direction === 'out' && m.method === 'INVITE' && m.status === '')?.count ?? 0, 0, 'nothing reached the callee');
});
