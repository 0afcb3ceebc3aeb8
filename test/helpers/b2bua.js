'use strict';
// Shared pieces of the sipp-based B2BUA tests (test/b2bua/*-sipp.test.js):
// scenario paths, SDP bodies for sipp templates, exact-SDP assertions on the
// wire logs, and the "call fully released" check.
const assert = require('node:assert');
const path = require('node:path');
const { startSipp } = require('./sipp');
const { waitUntil } = require('./udp');
const { startTestSbc } = require('./sbc');

const SCENARIOS = path.join(__dirname, '..', 'b2bua', 'scenarios');

/** Path of a B2BUA scenario template (test/b2bua/scenarios/NAME.xml). */
function scenarioPath(name) {
  return path.join(SCENARIOS, `${name}.xml`);
}

/** SDP lines -> a body for a sipp template (sipp strips the indentation). */
function sdpBody(lines) {
  return lines.map((l) => `      ${l}`).join('\n');
}

// Bodies the tests send. Caller SDP uses 127.0.0.3 and the callee 127.0.0.2
// (both loopback) with their own o= lines and tool attributes, so anything
// copied from one side to the other is visible.
const SHA1_SEED = '49:27:D4:D8:17:6C:B4:8A:9D:D0:64:91:E7:B5:6A:3D:8E:E7:AA:9A';
const SHA256_BARESIP = '70:6C:B8:78:F8:D8:09:FB:D9:CC:DB:56:A8:5A:F1:E7:8A:B4:68:3D:D6:5B:2C:4A:8C:E6:82:A6:D7:18:1D:A7';
const CALLER_HEAD = ['v=0', 'o=alice 2890844526 2890844526 IN IP4 127.0.0.3', 's=-', 'c=IN IP4 127.0.0.3', 't=0 0'];

const offers = {
  /** The seed offer (test/sdp/fixtures/seed-savp-sha1.sdp) on loopback. */
  seed: (o = {}) => [
    ...CALLER_HEAD,
    `m=audio [media_port] ${o.proto || 'UDP/TLS/RTP/SAVP'} 0`,
    ...(o.setup === null ? [] : [`a=setup:${o.setup || 'active'}`]),
    ...(o.fingerprint === null ? [] : [o.fingerprint || `a=fingerprint: SHA-1 ${SHA1_SEED}`]),
    'a=rtpmap:0 PCMU/8000',
    'a=ptime:20',
  ],
  /** What baresip 1.0 offers with mediaenc=dtls_srtp (session-level fingerprint). */
  baresip: () => [
    ...CALLER_HEAD,
    'a=tool:caller-tool',
    `a=fingerprint:SHA-256 ${SHA256_BARESIP}`,
    'm=audio [media_port] UDP/TLS/RTP/SAVPF 0 8 101',
    'b=AS:64',
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:8 PCMA/8000',
    'a=rtpmap:101 telephone-event/8000',
    'a=fmtp:101 0-15',
    'a=sendrecv',
    'a=label:1',
    'a=rtcp-rsize',
    'a=setup:actpass',
    'a=rtcp-mux',
    'a=ssrc:1713930327 cname:caller-cname',
    'a=ptime:20',
  ],
  /** DTLS offer where the caller wants to be the DTLS server. */
  passive: () => [
    ...CALLER_HEAD,
    'm=audio [media_port] UDP/TLS/RTP/SAVP 0 101',
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:101 telephone-event/8000',
    'a=fmtp:101 0-15',
    'a=rtcp-mux',
    'a=setup:passive',
    `a=fingerprint:sha-256 ${SHA256_BARESIP}`,
    'a=ptime:20',
  ],
  /** Plain RTP caller. */
  rtp: (codecs = '0 8 101') => [
    ...CALLER_HEAD,
    `m=audio [media_port] RTP/AVP ${codecs}`,
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:8 PCMA/8000',
    'a=rtpmap:101 telephone-event/8000',
    'a=fmtp:101 0-15',
    'a=ptime:20',
    'a=sendrecv',
  ],
};

/** Callee answers (for the UAS templates). */
const answers = {
  rtp: ({ codecs = '0 101', address = '127.0.0.2' } = {}) => [
    'v=0',
    `o=callee-uas 777 777 IN IP4 ${address}`,
    's=callee',
    `c=IN IP4 ${address}`,
    't=0 0',
    'a=tool:callee-tool',
    `m=audio [media_port] RTP/AVP ${codecs}`,
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:101 telephone-event/8000',
    'a=fmtp:101 0-15',
    'a=ptime:30',
    'a=sendrecv',
  ],
  dtls: ({ setup = 'active', proto = 'UDP/TLS/RTP/SAVP' } = {}) => [
    'v=0',
    'o=callee-uas 777 777 IN IP4 127.0.0.2',
    's=callee',
    'c=IN IP4 127.0.0.2',
    't=0 0',
    `m=audio [media_port] ${proto} 0 101`,
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:101 telephone-event/8000',
    'a=fmtp:101 0-15',
    'a=ptime:30',
    'a=rtcp-mux',
    `a=setup:${setup}`,
    `a=fingerprint:sha-256 ${SHA256_BARESIP.split(':').reverse().join(':')}`,
    'a=sendrecv',
  ],
};

/** The body of a logged SIP message as lines. */
function bodyLines(msg) {
  const i = msg.text.indexOf('\n\n');
  return i < 0 ? [] : msg.text.slice(i + 2).split('\n').filter((l) => l.length > 0);
}

function header(msg, name) {
  const m = new RegExp(`^${name}:\\s*(.*)$`, 'mi').exec(msg.text);
  return m ? m[1] : undefined;
}

/** First message matching: { sent, first: RegExp on the first line, cseq: RegExp }. */
function findMessage(messages, { sent, first, cseq }) {
  return messages.find(
    (m) => (sent === undefined || m.sent === sent) && (!first || first.test(m.firstLine)) && (!cseq || cseq.test(header(m, 'CSeq') || '')),
  );
}

function describe(messages) {
  return messages.map((m) => `${m.sent ? '>' : '<'} ${m.firstLine}`).join('\n');
}

/**
 * Asserts the SDP in `msg` is exactly `expected`, line by line (strings match
 * exactly, RegExps must match the whole line). Returns the RegExp captures
 * flattened in order.
 */
function expectSdp(msg, expected, what = 'SDP') {
  assert.ok(msg, `${what}: message not found`);
  const lines = bodyLines(msg);
  const caps = [];
  const show = `\n--- got:\n${lines.join('\n')}`;
  assert.equal(lines.length, expected.length, `${what}: ${expected.length} lines expected${show}`);
  expected.forEach((e, i) => {
    if (typeof e === 'string') {
      assert.equal(lines[i], e, `${what} line ${i + 1}${show}`);
    } else {
      const m = new RegExp(`^(?:${e.source})$`).exec(lines[i]);
      assert.ok(m, `${what} line ${i + 1}: ${lines[i]} !~ ${e}${show}`);
      caps.push(...m.slice(1));
    }
  });
  return caps;
}

/** Upper-case colon hex of `bytes` bytes. */
function hexFp(bytes) {
  return new RegExp(`(?:[0-9A-F]{2}:){${bytes - 1}}[0-9A-F]{2}`);
}

/** An RFC 3326 Reason header of `msg` parsed: { cause, text } (assert it exists). */
function reasonOf(msg, what = 'message') {
  assert.ok(msg, `${what}: not found`);
  const r = header(msg, 'Reason');
  assert.ok(r, `${what} has a Reason header:\n${msg.text}`);
  const m = /^SIP\s*;\s*cause=(\d+)\s*;\s*text="([^"]*)"/.exec(r);
  assert.ok(m, `Reason header is RFC 3326: ${r}`);
  return { cause: Number(m[1]), text: m[2] };
}

/** Both legs and the media pipeline gone: no calls in the app, no port pairs in use. */
async function assertReleased(sbc, timeoutMs = 5000) {
  await waitUntil(() => sbc.app.calls.size === 0, timeoutMs, `SBC calls map empty (has ${sbc.app.calls.size})`);
  await waitUntil(() => sbc.engine.counters().portPairsInUse === 0, timeoutMs, `port pairs freed (in use: ${sbc.engine.counters().portPairsInUse})`);
}

/** A sipp instance running a B2BUA scenario template (a name, or a path). */
function startScenario(name, vars, opts = {}) {
  return startSipp({ scenarioTemplate: name.includes('/') ? name : scenarioPath(name), templateVars: vars, timeoutSec: 20, ...opts });
}

/** The UAC's `-mp` media port (from its args). */
function mediaPortOf(res) {
  return Number(res.args[res.args.indexOf('-mp') + 1]);
}

/**
 * One call through a fresh SBC: callee scenario `uas` [name, templateVars]
 * (the nextHop of realm 'out') <- SBC <- caller scenario `uac` into realm
 * 'in'. Waits for both scenarios (exit codes [0, 0] expected: `expectCodes`,
 * null for no check), then
 * for the call to be released in the SBC. `uas: null` routes to a callee that
 * must see nothing. `sbc` and `callee` (a started scenario, the SBC's
 * nextHop) may be given instead. Returns { sbc, live (plans while answered), a, b (sipp
 * results), offerToCallee, answerToCaller, callerPort, calleePort, events }.
 */
async function sippCall(t, { inRealm, outRealm, uac, uas, media, sip, sbc: given, callee: givenCallee, expectCodes = [0, 0] }) {
  const callee = givenCallee || (await startScenario(...(uas || ['uas-answer', { SDP: '', RTP: '' }])));
  t.after(() => callee.cleanup());
  const sbc =
    given ||
    (await startTestSbc({
      realms: [{ name: 'in', ...inRealm }, { name: 'out', ...outRealm, nextHop: `sip:127.0.0.1:${callee.port}` }],
      media,
      sip,
    }));
  if (!given) t.after(() => sbc.stop());
  const events = [];
  const onEvent = (e) => events.push(e);
  sbc.engine.on('event', onEvent);
  t.after(() => sbc.engine.off('event', onEvent));
  const caller = await startScenario(uac[0], uac[1], { remote: `127.0.0.1:${sbc.port('in')}`, service: 'bob' });
  t.after(() => caller.cleanup());
  let live;
  await waitUntil(() => {
    const c = [...sbc.app.calls.values()][0];
    if (c && c.answeredAt) live = { call: c, planA: { ...c.a.plan }, planB: { ...c.b.plan } };
    return live || caller.child.exitCode !== null;
  }, 15000, 'call answered in the SBC or caller done');
  const a = await caller.done;
  const expectCall = !!(uas || givenCallee);
  const b = expectCall ? await callee.done : await callee.stop(0);
  if (expectCodes) assert.equal(a.code, expectCodes[0], `caller scenario:\n${describe(a.messages)}\n${a.stdout.slice(-1500)}`);
  if (!expectCall) assert.deepEqual(b.messages.map((m) => m.firstLine), [], 'the callee was never contacted');
  else if (expectCodes) assert.equal(b.code, expectCodes[1], `callee scenario:\n${describe(b.messages)}\n${b.stdout.slice(-1500)}`);
  await assertReleased(sbc);
  return {
    sbc,
    live,
    events,
    a,
    b,
    callerPort: mediaPortOf(a),
    calleePort: mediaPortOf(b),
    offerToCallee: findMessage(b.messages, { sent: false, first: /^INVITE / }),
    answerToCaller: findMessage(a.messages, { sent: false, first: /^SIP\/2\.0 200/, cseq: /INVITE/ }),
  };
}

module.exports = {
  sippCall,
  SCENARIOS,
  scenarioPath,
  sdpBody,
  offers,
  answers,
  bodyLines,
  header,
  findMessage,
  describe,
  expectSdp,
  hexFp,
  reasonOf,
  assertReleased,
  startScenario,
  mediaPortOf,
  SHA1_SEED,
  SHA256_BARESIP,
};
