'use strict';
// Raw SIP over UDP/TCP for hardening tests: request builders, floods from
// chosen loopback source addresses (127.0.0.0/8 is all local on Linux),
// a stream response parser, and small wire helpers. Loops are bounded in
// count and time; everything targets 127.0.0.1 only.
const dgram = require('node:dgram');
const net = require('node:net');
const crypto = require('node:crypto');

const rnd = () => crypto.randomBytes(6).toString('hex');

/** A new out-of-dialog request; `body` adds Content-Type application/sdp. */
function request({ method = 'INVITE', user = 'flood', host = '127.0.0.1', port, transport = 'UDP', src, srcPort, callId, branch, body = '', extra = [] }) {
  const b = branch || `z9hG4bK-${rnd()}`;
  const lines = [
    `${method} sip:${user}@${host}:${port} SIP/2.0`,
    `Via: SIP/2.0/${transport} ${src}:${srcPort};branch=${b};rport`,
    'Max-Forwards: 70',
    `From: <sip:attacker@${src}>;tag=${rnd()}`,
    `To: <sip:${user}@${host}>`,
    `Call-ID: ${callId || rnd()}@${src}`,
    `CSeq: 1 ${method}`,
    `Contact: <sip:attacker@${src}:${srcPort}>`,
    ...extra,
  ];
  if (body) lines.push('Content-Type: application/sdp');
  lines.push(`Content-Length: ${Buffer.byteLength(body)}`, '', body);
  return lines.join('\r\n');
}

/** ACK for a non-2xx final response (same branch, To with the response's tag). */
function ackFor(resp, requestUri) {
  const h = (n) => headerOf(resp, n);
  const cseq = (h('CSeq') || '1 INVITE').split(/\s+/)[0];
  return [
    `ACK ${requestUri} SIP/2.0`,
    `Via: ${(h('Via') || '').replace(/;received=[^;,]*/, '').replace(/;rport=\d+/, ';rport')}`,
    'Max-Forwards: 70',
    `From: ${h('From')}`,
    `To: ${h('To')}`,
    `Call-ID: ${h('Call-ID')}`,
    `CSeq: ${cseq} ACK`,
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

const headerOf = (text, name) => (new RegExp(`^${name}\\s*:\\s*(.*?)\\r?$`, 'mi').exec(text) || [])[1];
const statusOf = (text) => Number((/^SIP\/2\.0 (\d{3})/.exec(text) || [])[1] || 0);

/**
 * Collects responses: counts by status, counts by status + Reason header
 * (`reasons`), and up to `keep` full texts per status and Reason.
 */
function tally(keep = 10) {
  const counts = {};
  const reasons = {};
  const samples = {};
  return {
    counts,
    reasons,
    samples,
    add(text) {
      const s = statusOf(text);
      counts[s] = (counts[s] || 0) + 1;
      const key = `${s} ${headerOf(text, 'Reason') || ''}`.trim();
      reasons[key] = (reasons[key] || 0) + 1;
      const list = (samples[s] ||= []);
      if (reasons[key] <= keep) list.push(text);
    },
  };
}

/**
 * UDP INVITE flood: from each `sources` address, `rate` requests/s for
 * `durationMs`, to target. Final non-2xx responses are ACKed like a real UA.
 * Resolves { sent, counts: {status: n}, reasons: {'status Reason': n},
 * samples: {status: [text]} } after
 * `settleMs` more for late answers.
 */
async function udpFlood({ sources, target, rate, durationMs, settleMs = 1000, method = 'INVITE', user = 'flood' }) {
  const t = tally();
  const sockets = await Promise.all(
    sources.map(
      (src) =>
        new Promise((resolve, reject) => {
          const s = dgram.createSocket('udp4');
          s.once('error', reject);
          s.bind(0, src, () => resolve(s));
        }),
    ),
  );
  const uri = `sip:${user}@127.0.0.1:${target.port}`;
  for (const s of sockets) {
    s.on('message', (m) => {
      const text = m.toString('latin1');
      t.add(text);
      const code = statusOf(text);
      if (code >= 300 && / INVITE\r?$/m.test((/^CSeq:.*$/im.exec(text) || [''])[0])) s.send(ackFor(text, uri), target.port, target.host);
    });
  }
  let sent = 0;
  const tickMs = 10;
  const perTick = rate * (tickMs / 1000);
  let credit = 0;
  const end = Date.now() + durationMs;
  await new Promise((resolve) => {
    const timer = setInterval(() => {
      if (Date.now() >= end) {
        clearInterval(timer);
        resolve();
        return;
      }
      credit += perTick;
      const n = Math.floor(credit);
      credit -= n;
      for (let i = 0; i < n; i++) {
        for (const s of sockets) {
          const a = s.address();
          s.send(request({ method, user, port: target.port, src: a.address, srcPort: a.port }), target.port, target.host);
          sent++;
        }
      }
    }, tickMs);
  });
  await new Promise((r) => setTimeout(r, settleMs));
  for (const s of sockets) s.close();
  return { sent, counts: t.counts, reasons: t.reasons, samples: t.samples };
}

/** Splits a TCP byte stream into SIP messages by Content-Length. */
function streamParser(onMessage) {
  let buf = Buffer.alloc(0);
  return (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      while (buf.length && (buf[0] === 13 || buf[0] === 10)) buf = buf.subarray(1);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = buf.subarray(0, end).toString('latin1');
      const cl = Number((/^(?:Content-Length|l)\s*:\s*(\d+)/im.exec(head) || [])[1] || 0);
      if (buf.length < end + 4 + cl) return;
      onMessage(buf.subarray(0, end + 4 + cl).toString('latin1'));
      buf = buf.subarray(end + 4 + cl);
    }
  };
}

/** Opens a TCP connection from `src` (port 0) to target; resolves the socket. */
function connectFrom(src, target) {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: target.host, port: target.port, localAddress: src });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

/** TCP INVITE flood over one connection from `src`; same result shape as udpFlood. */
async function tcpFlood({ src, target, rate, durationMs, settleMs = 1000, user = 'flood' }) {
  const t = tally();
  const s = await connectFrom(src, target);
  s.on('error', () => {});
  const uri = `sip:${user}@127.0.0.1:${target.port}`;
  s.on('data', streamParser((text) => {
    t.add(text);
    if (statusOf(text) >= 300 && / INVITE\r?$/m.test((/^CSeq:.*$/im.exec(text) || [''])[0])) s.write(ackFor(text, uri));
  }));
  let sent = 0;
  let credit = 0;
  const end = Date.now() + durationMs;
  await new Promise((resolve) => {
    const timer = setInterval(() => {
      if (Date.now() >= end || s.destroyed) {
        clearInterval(timer);
        resolve();
        return;
      }
      credit += rate / 100;
      const n = Math.floor(credit);
      credit -= n;
      const chunk = [];
      for (let i = 0; i < n; i++) chunk.push(request({ user, port: target.port, transport: 'TCP', src, srcPort: s.localPort }));
      if (chunk.length) s.write(chunk.join(''));
      sent += n;
    }, 10);
  });
  await new Promise((r) => setTimeout(r, settleMs));
  s.destroy();
  return { sent, counts: t.counts, reasons: t.reasons, samples: t.samples };
}

/** Sends one datagram from an ephemeral socket and collects answers for `waitMs`. */
async function udpExchange(payload, target, { waitMs = 700, src = '127.0.0.1' } = {}) {
  const s = dgram.createSocket('udp4');
  await new Promise((r) => s.bind(0, src, r));
  const got = [];
  s.on('message', (m) => got.push(m.toString('latin1')));
  s.send(typeof payload === 'function' ? payload(s.address().port) : payload, target.port, target.host);
  await new Promise((r) => setTimeout(r, waitMs));
  s.close();
  return got;
}

/**
 * Sends bytes on a new TCP connection and collects parsed responses until
 * `waitMs` passes or the server closes. Resolves { messages, closed }.
 */
async function tcpExchange(payload, target, { waitMs = 700, src = '127.0.0.1' } = {}) {
  const s = await connectFrom(src, target);
  const messages = [];
  let closed = false;
  s.on('data', streamParser((m) => messages.push(m)));
  s.on('error', () => {});
  const done = new Promise((r) => s.once('close', () => { closed = true; r(); }));
  s.write(typeof payload === 'function' ? payload(s.localPort) : payload);
  await Promise.race([done, new Promise((r) => setTimeout(r, waitMs))]);
  s.destroy();
  return { messages, closed };
}

module.exports = { request, ackFor, statusOf, udpFlood, tcpFlood, connectFrom, streamParser, udpExchange, tcpExchange, headerOf };
