'use strict';
// In-dialog steps for the B2BUA hold scenarios: test/b2bua/scenarios/hold-uac.xml
// and hold-uas.xml take a list of these as {{STEPS}}. Each function returns a
// sipp XML fragment; `side` is 'uac' (the caller) or 'uas' (the callee).
// Both templates ereg [$peer] (the SBC's From/To with its tag); the callee also
// [$me] (its own To), so each side can build its own requests by hand.
const { sdpBody } = require('./b2bua');

const SELF = {
  uac: { from: 'caller <sip:caller@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]', user: 'caller' },
  uas: { from: '[$me];tag=[pid]SIPpTag01[call_number]', user: 'callee' },
};
let seq = 0;

const cdata = (lines, body) =>
  `    <![CDATA[\n${lines.map((l) => `      ${l}`).join('\n')}\n${body ? `      Content-Type: application/sdp\n      Content-Length: [len]\n\n${sdpBody(body)}` : '      Content-Length: 0\n'}\n    ]]>`;

/** Headers of a request of `side` (Request-URI: the other side's Contact). */
function requestHead(side, method, cseq, via = 'Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]', to = 'To: [$peer]') {
  return [`${method} [next_url] SIP/2.0`, via, `From: ${SELF[side].from}`, to, '[routes]', 'Call-ID: [call_id]', `CSeq: ${cseq} ${method}`, `Contact: <sip:${SELF[side].user}@[local_ip]:[local_port]>`, 'Max-Forwards: 70'];
}

/**
 * `side` sends `method` (INVITE or UPDATE) with `sdp` (lines; null: no body),
 * expects final `expect` (200), ACKs an INVITE (the ACK carries `ackSdp`).
 */
function request(side, method, cseq, sdp, { expect = 200, ackSdp } = {}) {
  let x = `  <send retrans="500">\n${cdata(requestHead(side, method, cseq), sdp)}\n  </send>\n`;
  x += `  <recv response="100" optional="true"/>\n  <recv response="${expect}"/>\n`;
  if (method !== 'INVITE') return x;
  // 2xx: a new transaction (new branch); non-2xx: the INVITE's branch and To tag.
  const head = expect === 200 ? requestHead(side, 'ACK', cseq) : requestHead(side, 'ACK', cseq, '[last_Via:]', '[last_To:]');
  return `${x}  <send>\n${cdata(head, ackSdp)}\n  </send>\n`;
}

function response(code, side, sdp, last = { via: '[last_Via:]', from: '[last_From:]', to: '[last_To:]', cseq: '[last_CSeq:]' }) {
  const phrase = { 100: 'Trying', 200: 'OK', 488: 'Not Acceptable Here', 491: 'Request Pending' }[code];
  const head = [`SIP/2.0 ${code} ${phrase}`, last.via, last.from, last.to, 'Call-ID: [call_id]', last.cseq, `Contact: <sip:${SELF[side].user}@[local_ip]:[local_port]>`];
  return `  <send${code === 200 && sdp !== undefined ? ' retrans="500"' : ''}>\n${cdata(head, sdp)}\n  </send>\n`;
}

/** `side` receives `method` and answers `code` with `sdp`; an INVITE's ACK is awaited. */
function answer(side, method, sdp, { code = 200 } = {}) {
  return `  <recv request="${method}"/>\n${response(code, side, code === 200 ? sdp : null)}${method === 'INVITE' ? '  <recv request="ACK"/>\n' : ''}`;
}

/**
 * Receives an INVITE, answers 100 and keeps its headers: returns { recv, answer(sdp) }
 * where answer() is the 200 for it (sent later, after other steps) and its ACK.
 */
function deferredInvite(side) {
  const v = ['via', 'from', 'to', 'cseq'].map((k) => [k, `d${++seq}${k}`]);
  const eregs = v.map(([k, n]) => `      <ereg regexp=".*" search_in="hdr" header="${k === 'cseq' ? 'CSeq' : k[0].toUpperCase() + k.slice(1)}:" assign_to="${n}"/>`);
  const saved = Object.fromEntries(v.map(([k, n]) => [k, `${k === 'cseq' ? 'CSeq' : k[0].toUpperCase() + k.slice(1)}: [$${n}]`]));
  return {
    recv: `  <recv request="INVITE">\n    <action>\n${eregs.join('\n')}\n    </action>\n  </recv>\n${response(100, side)}`,
    answer: (sdp) => `${response(200, side, sdp, saved)}  <recv request="ACK"/>\n`,
  };
}

const bye = (side, cseq) => `  <send retrans="500">\n${cdata(requestHead(side, 'BYE', cseq))}\n  </send>\n  <recv response="200" crlf="true"/>\n`;
const waitBye = (side) => `  <recv request="BYE"/>\n${response(200, side)}`;
/** Waits for the test's go signal (an INFO from poke()); not answered. */
const go = () => '  <recv request="INFO"/>\n';

/** Sends the INFO that releases a go() step of the sipp at `port` in call `callId`. */
async function poke(port, callId) {
  const dgram = require('node:dgram');
  const s = dgram.createSocket('udp4');
  const n = ++seq;
  const msg = [`INFO sip:go@127.0.0.1:${port} SIP/2.0`, `Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK-go-${n}`, 'From: <sip:test@127.0.0.1>;tag=go', 'To: <sip:go@127.0.0.1>', `Call-ID: ${callId}`, `CSeq: ${n} INFO`, 'Max-Forwards: 70', 'Content-Length: 0', '', ''].join('\r\n');
  await new Promise((resolve, reject) => s.send(msg, port, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
  s.close();
}

module.exports = { request, answer, deferredInvite, bye, waitBye, go, poke };
