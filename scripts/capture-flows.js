#!/usr/bin/env node
// Captures the SDP the SBC really produces in the three seed call flows
// (docs/call-flows.md): runs each flow through an in-process SBC with sipp on
// every side (the test helpers of test/b2bua) and prints every message of
// interest as seen on the wire, with the values that change from run to run
// (ports, session ids, the SBC's fingerprint) replaced by names in «».
// Needs a build (npx tsup) and sipp; `node scripts/capture-flows.js [out.md]`.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const h = require('../test/helpers/b2bua');
const s = require('../test/helpers/sipp-steps');
const { startTestSbc } = require('../test/helpers/sbc');
const { waitUntil } = require('../test/helpers/udp');
const { writeToneWav } = require('../test/helpers/wav');
const { killAll } = require('../test/helpers/procs');

const MEDIA = { portMin: 35000, portMax: 35999 };
const DIRS = /^a=(sendrecv|sendonly|recvonly|inactive)$/;
const withDir = (lines, dir) => [...lines.filter((l) => !DIRS.test(l)), `a=${dir}`];
/** The DTLS caller (baresip-style offer); in answers it is the DTLS client (setup:active). */
const OFFER = h.offers.baresip();
const CALLER_ANSWER = OFFER.filter((l) => l !== 'a=rtpmap:8 PCMA/8000').map((l) =>
  l === 'a=setup:actpass' ? 'a=setup:active' : l.replace(/^(m=audio \S+ \S+) 0 8 101$/, '$1 0 101'),
);
const CALLEE = h.answers.rtp({ codecs: '0 101' });

/** A minimal node:test context for the helpers (t.after). */
function context() {
  const cleanups = [];
  return { after: (fn) => cleanups.push(fn), cleanup: async () => { for (const fn of cleanups.reverse()) await fn(); } };
}

const received = (r, re, cseq) => r.messages.filter((m) => !m.sent && re.test(m.firstLine) && (!cseq || cseq.test(h.header(m, 'CSeq') || '')));
const sentBy = (r, re, cseq) => r.messages.filter((m) => m.sent && re.test(m.firstLine) && (!cseq || cseq.test(h.header(m, 'CSeq') || '')));
const mPort = (msg) => Number(/^m=audio (\d+) /m.exec(msg.text)[1]);
const originId = (msg) => /^o=\S+ (\d+) /m.exec(msg.text)[1];

/** Replaces run-specific values by names. */
class Marker {
  constructor() {
    this.map = new Map();
  }
  name(value, label) {
    if (value !== undefined && value !== null && !this.map.has(String(value))) this.map.set(String(value), `«${label}»`);
  }
  apply(text) {
    let out = text;
    // Longest first, whole tokens only.
    for (const [v, label] of [...this.map].sort((a, b) => b[0].length - a[0].length)) {
      out = out.replace(new RegExp(`(?<![\\w.])${v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![\\w.])`, 'g'), label);
    }
    return out;
  }
}

function show(out, marker, title, msg, headers = []) {
  if (!msg) throw new Error(`${title}: message not captured`);
  const lines = [msg.firstLine, ...headers.map((n) => `${n}: ${h.header(msg, n)}`).filter((l) => !l.endsWith(': undefined'))];
  const body = h.bodyLines(msg);
  out.push(`#### ${title}`, '', '```', marker.apply([...lines, ...(body.length ? ['', ...body] : [])].join('\n')), '```', '');
}

/** Names the SBC's ports (and RTCP port+1), its session id and fingerprint in `msgs` as leg `leg`. */
function markSbc(marker, sbc, leg, msg) {
  const p = mPort(msg);
  marker.name(p, `${leg}_PORT`);
  marker.name(p + 1, `${leg}_PORT+1`);
  marker.name(originId(msg), `${leg}_SESSION_ID`);
  for (const hash of ['sha-1', 'sha-256']) marker.name(sbc.engine.currentFingerprint(hash).value.toUpperCase(), `SBC_FINGERPRINT_${hash.toUpperCase().replace('-', '')}`);
}

async function flow1(out) {
  const t = context();
  try {
    const r = await h.sippCall(t, {
      media: MEDIA,
      inRealm: { security: 'dtls-srtp' },
      outRealm: { security: 'rtp' },
      uac: ['uac-bye', { SDP: h.sdpBody(OFFER), TALK_MS: 300 }],
      uas: ['uas-answer', { SDP: h.sdpBody(CALLEE), RTP: '' }],
    });
    const m = new Marker();
    markSbc(m, r.sbc, 'SBC_A', r.answerToCaller);
    markSbc(m, r.sbc, 'SBC_B', r.offerToCallee);
    m.name(r.callerPort, 'CALLER_PORT');
    m.name(r.calleePort, 'CALLEE_PORT');
    m.name(r.sbc.port('in'), 'SBC_SIP_PORT_IN');
    m.name(r.sbc.port('out'), 'SBC_SIP_PORT_OUT');
    m.name(new URL(r.offerToCallee.firstLine.split(' ')[1].replace('sip:', 'http://')).port, 'CALLEE_SIP_PORT');
    out.push('### Flow 1: DTLS-SRTP caller (realm in) -> RTP callee (realm out)', '');
    show(out, m, '1. INVITE caller -> SBC (the offer; written by the test, baresip 1.0 style)', sentBy(r.a, /^INVITE /)[0]);
    show(out, m, '2. INVITE SBC -> callee (the SBC offer)', r.offerToCallee);
    show(out, m, '3. 200 OK callee -> SBC (the answer; written by the test)', sentBy(r.b, /^SIP\/2\.0 200/, /INVITE/)[0]);
    show(out, m, '4. 200 OK SBC -> caller (the SBC answer)', r.answerToCaller);
  } finally {
    await t.cleanup();
  }
}

async function flow2(out) {
  const t = context();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'esbc-flows-'));
  try {
    const wav = path.join(dir, 'hold.wav');
    writeToneWav(wav, { freq: 440, seconds: 2 });
    const callee = await h.startScenario('hold-uas', {
      SDP: h.sdpBody(CALLEE),
      RTP: '',
      STEPS: s.request('uas', 'INVITE', 1, withDir(CALLEE, 'sendonly')) + s.request('uas', 'INVITE', 2, withDir(CALLEE, 'sendrecv')),
    });
    t.after(() => callee.cleanup());
    const sbc = await startTestSbc({
      realms: [
        { name: 'in', security: 'dtls-srtp', media: { moh: 'local' } },
        { name: 'out', security: 'rtp', nextHop: `sip:127.0.0.1:${callee.port}` },
      ],
      media: { ...MEDIA, mohFile: wav },
    });
    t.after(() => sbc.stop());
    const caller = await h.startScenario(
      'hold-uac',
      {
        SDP: h.sdpBody(OFFER),
        STEPS: s.answer('uac', 'INVITE', withDir(CALLER_ANSWER, 'recvonly')) + s.answer('uac', 'INVITE', withDir(CALLER_ANSWER, 'sendrecv')) + s.bye('uac', 2),
      },
      { remote: `127.0.0.1:${sbc.port('in')}`, service: 'bob' },
    );
    t.after(() => caller.cleanup());
    const [a, b] = [await caller.done, await callee.done];
    if (a.code !== 0 || b.code !== 0) throw new Error(`hold flow failed:\n${h.describe(a.messages)}\n--\n${h.describe(b.messages)}`);
    await h.assertReleased(sbc);
    const m = new Marker();
    const okToCaller = received(a, /^SIP\/2\.0 200/, /INVITE/)[0];
    const inviteToCallee = received(b, /^INVITE /)[0];
    markSbc(m, sbc, 'SBC_A', okToCaller);
    markSbc(m, sbc, 'SBC_B', inviteToCallee);
    m.name(h.mediaPortOf(a), 'CALLER_PORT');
    m.name(h.mediaPortOf(b), 'CALLEE_PORT');
    m.name(sbc.port('in'), 'SBC_SIP_PORT_IN');
    m.name(sbc.port('out'), 'SBC_SIP_PORT_OUT');
    m.name(caller.port, 'CALLER_SIP_PORT');
    m.name(callee.port, 'CALLEE_SIP_PORT');
    const calleeInvites = sentBy(b, /^INVITE /);
    const toCaller = received(a, /^INVITE /);
    const callerOks = sentBy(a, /^SIP\/2\.0 200/, /INVITE/);
    const toCallee = received(b, /^SIP\/2\.0 200/, /INVITE/);
    out.push('### Flow 2: the RTP callee holds the DTLS-SRTP caller (realm in has moh: local), then resumes', '');
    out.push('The call is set up exactly as in flow 1 (same offer and answer).', '');
    show(out, m, '1. re-INVITE callee -> SBC (hold: sendonly)', calleeInvites[0]);
    show(out, m, '2. re-INVITE SBC -> caller (the SBC offer: same port, setup:passive, same fingerprint)', toCaller[0]);
    show(out, m, '3. 200 OK caller -> SBC (recvonly; written by the test)', callerOks[0]);
    show(out, m, '4. 200 OK SBC -> callee (the SBC answer)', toCallee[0]);
    show(out, m, '5. re-INVITE callee -> SBC (resume: sendrecv)', calleeInvites[1]);
    show(out, m, '6. re-INVITE SBC -> caller (the SBC offer)', toCaller[1]);
    show(out, m, '7. 200 OK SBC -> callee (the SBC answer)', toCallee[1]);
  } finally {
    await t.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const indent = (lines) => lines.map((l) => `      ${l}`).join('\n');
const sendBlock = (lines) => `  <send retrans="500">\n    <![CDATA[\n${indent(lines)}\n\n    ]]>\n  </send>`;
const reply200 = sendBlock(['SIP/2.0 200 OK', '[last_Via:]', '[last_From:]', '[last_To:]', '[last_Call-ID:]', '[last_CSeq:]', 'Content-Length: 0']).replace(' retrans="500"', '');
const bye = (cseq) =>
  sendBlock([
    'BYE [next_url] SIP/2.0',
    'Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]',
    'From: alice <sip:alice@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]',
    'To: [$rto]',
    '[routes]',
    'Call-ID: [call_id]',
    `CSeq: ${cseq} BYE`,
    'Max-Forwards: 70',
    'Content-Length: 0',
  ]) + '\n  <recv response="200" crlf="true"/>';

async function flow3(out) {
  const t = context();
  try {
    // B: the transferee (RTP, realm out); C: the transfer target carol (DTLS-SRTP, realm in).
    const b = await h.startScenario('transfer-uas-referee', { SDP: h.sdpBody(CALLEE) });
    t.after(() => b.cleanup());
    const c = await h.startScenario('uas-answer', { SDP: h.sdpBody(h.answers.dtls({ setup: 'active' })), RTP: '' });
    t.after(() => c.cleanup());
    const sbc = await startTestSbc({
      realms: [
        { name: 'in', security: 'dtls-srtp', refer: 'pass-through' },
        { name: 'out', security: 'rtp', nextHop: `sip:127.0.0.1:${b.port}` },
      ],
      routes: [
        { from: 'out', user: '^carol$', to: 'in', uri: `sip:carol@127.0.0.1:${c.port}` },
        { from: 'in', to: 'out' },
      ],
      media: MEDIA,
    });
    t.after(() => sbc.stop());
    const a = await h.startScenario(
      'transfer-uac-refer',
      {
        SDP: h.sdpBody(OFFER),
        TALK_MS: 300,
        REFER_HEADERS: indent(['Refer-To: <sip:carol@198.51.100.20:5060>', 'Referred-By: <sip:alice@198.51.100.7:5060>']),
        AFTER_REFER: ['  <recv response="202"/>', '  <recv request="NOTIFY"/>', reply200, '  <recv request="NOTIFY"/>', reply200, '  <pause milliseconds="200"/>', bye(8)].join('\n'),
      },
      { remote: `127.0.0.1:${sbc.port('in')}`, service: 'bob' },
    );
    t.after(() => a.cleanup());
    const [ra, rb] = [await a.done, await b.done];
    if (ra.code !== 0 || rb.code !== 0) throw new Error(`transfer flow failed:\n${h.describe(ra.messages)}\n--\n${h.describe(rb.messages)}`);
    await h.assertReleased(sbc);
    const refer = received(rb, /^REFER /)[0];
    const referTo = /<([^>]+)>/.exec(h.header(refer, 'Refer-To'))[1];

    // The transferee's INVITE to the Refer-To URI is a new call through the SBC (realm out -> in).
    const transferee = await h.startScenario(
      'uac-bye',
      { SDP: h.sdpBody(h.offers.rtp('0 101').filter((l) => l !== 'a=rtpmap:8 PCMA/8000').map((l) => l.replace(/alice/, 'bob').replace(/127\.0\.0\.3/g, '127.0.0.2'))), TALK_MS: 300 },
      { remote: `127.0.0.1:${sbc.port('out')}`, service: 'carol' },
    );
    t.after(() => transferee.cleanup());
    const rt = await transferee.done;
    await waitUntil(() => c.child.exitCode !== null, 10000, 'transfer target done');
    const rc = await c.done;
    if (rt.code !== 0 || rc.code !== 0) throw new Error(`transferee call failed:\n${h.describe(rt.messages)}\n--\n${h.describe(rc.messages)}`);
    await h.assertReleased(sbc);

    const m = new Marker();
    m.name(sbc.port('in'), 'SBC_SIP_PORT_IN');
    m.name(sbc.port('out'), 'SBC_SIP_PORT_OUT');
    const okToA = received(ra, /^SIP\/2\.0 200/, /INVITE/)[0];
    markSbc(m, sbc, 'SBC_A', okToA);
    markSbc(m, sbc, 'SBC_B', received(rb, /^INVITE /)[0]);
    const inviteToC = received(rc, /^INVITE /)[0];
    const okToB2 = received(rt, /^SIP\/2\.0 200/, /INVITE/)[0];
    markSbc(m, sbc, 'SBC_C', inviteToC);
    markSbc(m, sbc, 'SBC_B2', okToB2);
    m.name(/^(\d+) /.exec(h.header(refer, 'CSeq'))[1], 'SBC_CSEQ');
    m.name(a.port, 'A_SIP_PORT');
    m.name(b.port, 'B_SIP_PORT');
    m.name(c.port, 'C_SIP_PORT');
    m.name(h.mediaPortOf(ra), 'A_PORT');
    m.name(h.mediaPortOf(rb), 'B_PORT');
    m.name(h.mediaPortOf(rt), 'B_NEW_PORT');
    m.name(h.mediaPortOf(rc), 'C_PORT');
    out.push('### Flow 3: blind transfer, refer: pass-through', '');
    out.push('A (DTLS-SRTP, realm in) called B (RTP, realm out) as in flow 1; A transfers B to carol (C, DTLS-SRTP, realm in).', '');
    show(out, m, '1. REFER A -> SBC (written by the test)', sentBy(ra, /^REFER /)[0], ['CSeq', 'Refer-To', 'Referred-By']);
    show(out, m, '2. REFER SBC -> B (Refer-To and Referred-By mapped to the SBC in realm out)', refer, ['CSeq', 'Refer-To', 'Referred-By']);
    show(out, m, '3. 202 SBC -> A (relayed)', received(ra, /^SIP\/2\.0 202 /)[0]);
    const notifies = received(ra, /^NOTIFY /);
    show(out, m, '4. NOTIFY SBC -> A (relayed: B is trying)', notifies[0], ['Event', 'Subscription-State', 'Content-Type']);
    show(out, m, `5. INVITE B -> SBC (the new call, to the Refer-To URI ${m.apply(referTo)}; written by the test)`, sentBy(rt, /^INVITE /)[0]);
    show(out, m, '6. INVITE SBC -> C (the SBC offer: DTLS-SRTP, actpass)', inviteToC);
    show(out, m, '7. 200 OK C -> SBC (written by the test)', sentBy(rc, /^SIP\/2\.0 200/, /INVITE/)[0]);
    show(out, m, '8. 200 OK SBC -> B (the SBC answer)', okToB2);
    show(out, m, '9. NOTIFY SBC -> A (relayed: the transfer succeeded)', notifies[1], ['Event', 'Subscription-State', 'Content-Type']);
  } finally {
    await t.cleanup();
  }
}

async function main() {
  const out = [`<!-- captured by scripts/capture-flows.js on ${new Date().toISOString().slice(0, 10)} -->`, ''];
  await flow1(out);
  await flow2(out);
  await flow3(out);
  const text = out.join('\n');
  if (process.argv[2]) fs.writeFileSync(process.argv[2], text);
  else process.stdout.write(text);
}

main().then(
  () => {
    killAll();
    process.exit(0);
  },
  (err) => {
    process.stderr.write(`${err.stack || err}\n`);
    killAll();
    process.exit(1);
  },
);
