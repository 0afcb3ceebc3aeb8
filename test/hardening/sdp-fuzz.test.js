'use strict';
// Bounded property-based fuzzing of the SDP handling (ts/sdp, on sdp-transform)
// with fast-check: real offers and answers (test/sdp/fixtures and the SIP tests'
// bodies) are mutated line by line and character by character, then run through
// exactly what the B2BUA does with them (parseSdp, planAnswer/planOffer,
// legSpecFor into a real media engine, buildOffer/buildAnswer, applyAnswer,
// legUpdateFor, re-offers with the previous plan). Allowed outcomes: success
// with SDP that parses again, or a typed rejection (SdpError 400/488, or the
// engine's InvalidSpec/PortsExhausted, which the B2BUA maps to 488/503). Anything
// else, or a sample taking longer than 1 s, fails. FUZZ_RUNS / FUZZ_SEED
// override the defaults; a failure prints the seed and the shrunk input.
const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const path = require('node:path');
const fc = require('fast-check');
const sdp = require('../../dist');
const { MediaEngine, MediaEngineError } = require('../../dist');

const RUNS = Number(process.env.FUZZ_RUNS || 5000);
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined;
const TIME_LIMIT_MS = 25000;
const SAMPLE_MAX_MS = 1000;

const FIXTURES = path.join(__dirname, '..', 'sdp', 'fixtures');
const offers = fs.readdirSync(FIXTURES).filter((f) => f.endsWith('.sdp')).map((f) => fs.readFileSync(path.join(FIXTURES, f), 'utf8'));
const crlf = (...ls) => ls.join('\r\n') + '\r\n';
const FP = '70:6C:B8:78:F8:D8:09:FB:D9:CC:DB:56:A8:5A:F1:E7:8A:B4:68:3D:D6:5B:2C:4A:8C:E6:82:A6:D7:18:1D:A7';
/** Answers by the security the SBC offered with. */
const answers = {
  rtp: crlf('v=0', 'o=bob 1 1 IN IP4 198.51.100.50', 's=-', 'c=IN IP4 198.51.100.50', 't=0 0', 'm=audio 20000 RTP/AVP 0 101', 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:101 telephone-event/8000', 'a=fmtp:101 0-15', 'a=ptime:30', 'a=sendrecv'),
  'dtls-srtp': crlf('v=0', 'o=bob 1 1 IN IP4 198.51.100.50', 's=-', 'c=IN IP4 198.51.100.50', 't=0 0', 'm=audio 20000 UDP/TLS/RTP/SAVP 0', 'a=rtpmap:0 PCMU/8000', 'a=rtcp-mux', 'a=setup:active', `a=fingerprint:sha-256 ${FP}`, 'a=sendrecv'),
  'sdes-srtp': crlf('v=0', 'o=bob 1 1 IN IP4 198.51.100.50', 's=-', 'c=IN IP4 198.51.100.50', 't=0 0', 'm=audio 20000 RTP/SAVP 0', 'a=rtpmap:0 PCMU/8000', 'a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:ESEkAAC/GMA/B2aZVRPmPPR87wY0N6A07kxwoc1L', 'a=sendrecv'),
};

const EXTREMES = ['0', '-1', '1', '65535', '65536', '99999', '4294967296', '9007199254740993', '1e309', 'NaN', '', '00000000000000000000001', '0x10'];
const hex = (n) => Array.from({ length: n }, (_, i) => ((i * 29 + 7) & 0xff).toString(16).padStart(2, '0').toUpperCase()).join(':');

/** Lines that real malformed or hostile SDP carries. */
const hostileLine = fc.oneof(
  fc.constantFrom(
    'm=audio 0 RTP/AVP 0', 'm=audio 65536 RTP/AVP 0', 'm=audio -5 RTP/AVP 0', 'm=audio 9/2 RTP/AVP 0', 'm=audio 5000 RTP/AVP',
    'm=audio 5000 UDP/TLS/RTP/SAVPF 300', 'm=audio 5000 TCP/MRCPv2 1', 'm=audio 5000 RTP/AVP 0 8 0 8', 'm=image 5000 udptl t38', 'm=',
    'c=IN IP4 999.1.1.1', 'c=IN IP6 ::1', 'c=IN IP6 zz::1', 'c=IN IP4', 'c=IN XY 1.2.3.4', 'c=IN IP4 0.0.0.0', 'c=IN IP4 1.2.3.4/127/3',
    'a=setup:', 'a=setup:bogus', 'a=setup:holdconn', 'a=setup:actpass', 'a=setup:passive', 'a=setup:active',
    'a=fingerprint:', 'a=fingerprint:md5 00:11', 'a=fingerprint:sha-256 ZZ', `a=fingerprint:sha-256 ${hex(31)}`, `a=fingerprint:sha-256 ${hex(33)}`,
    `a=fingerprint:SHA-1 ${hex(20)}`, `a=fingerprint: sha-512 ${hex(64)}`, `a=fingerprint:sha-256 ${hex(32)} extra`,
    'a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:!!!!', 'a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:AAAA', 'a=crypto:x AES_CM_128_HMAC_SHA1_80',
    'a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:ESEkAAC/GMA/B2aZVRPmPPR87wY0N6A07kxwoc1L|2^20|1:4', 'a=crypto:1 F8_128_HMAC_SHA1_80 inline:ESEkAAC/GMA/B2aZVRPmPPR87wY0N6A07kxwoc1L',
    'a=crypto:1 AEAD_AES_256_GCM inline:ESEkAAC/GMA/B2aZVRPmPPR87wY0N6A07kxwoc1L', 'a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:ESEkAAC/GMA/B2aZVRPmPPR87wY0N6A07kxwoc1L UNENCRYPTED_SRTP',
    'a=rtpmap:0', 'a=rtpmap:abc PCMU/8000', 'a=rtpmap:0 PCMU/0', 'a=rtpmap:96 opus/48000/2', 'a=rtpmap:101 telephone-event/8000', 'a=fmtp:101',
    'a=rtcp:0', 'a=rtcp:70000 IN IP4 1.2.3.4', 'a=rtcp-mux', 'a=rtcp-mux-only', 'a=rtcp-fb:* nack', 'a=rtcp-rsize',
    'a=sendonly', 'a=recvonly', 'a=inactive', 'a=sendrecv', 'a=ptime:0', 'a=ptime:-20', 'a=maxptime:99999',
    'a=ice-ufrag:', 'a=ice-pwd:x', 'a=ice-ufrag:abcd', 'a=ice-pwd:abcdefghijklmnopqrstuv', 'a=ice-lite', 'a=ice-options:trickle',
    'a=candidate:1 1 udp 2122260223 10.0.0.1 9 typ host', 'a=candidate:garbage', 'a=end-of-candidates', 'a=mid:', 'a=mid:0',
    'a=group:BUNDLE', 'a=group:BUNDLE 0 1 2 3', 'a=ssrc:1 cname:x', 'a=msid:a b', 'a=extmap:1 urn:x', 'b=AS:-1', 'b=TIAS:abc',
    'o=- 1 1 IN IP4', 'o=', 's=', 't=0', 'v=1', 'v=0', 'x=unknown', 'a=', '=', ' ', '', 'm=audio 5000 RTP/AVP 0\u0000', '\u00ff\u00fe',
  ),
  fc.tuple(fc.constantFrom('m=audio', 'a=rtpmap:', 'a=fingerprint:sha-256', 'c=IN IP4', 'a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:', 'a=rtcp:', 'a=candidate:'), fc.string({ maxLength: 60 }))
    .map(([p, s]) => `${p}${s}`),
  fc.string({ unit: 'binary', maxLength: 80 }),
);

/** One mutation of an SDP's lines. */
const mutation = fc.oneof(
  fc.record({ op: fc.constant('delete'), i: fc.nat() }),
  fc.record({ op: fc.constant('dup'), i: fc.nat(), times: fc.oneof(fc.integer({ min: 1, max: 3 }), fc.constant(300)) }),
  fc.record({ op: fc.constant('swap'), i: fc.nat(), j: fc.nat() }),
  fc.record({ op: fc.constant('replace'), i: fc.nat(), line: hostileLine }),
  fc.record({ op: fc.constant('insert'), i: fc.nat(), line: hostileLine }),
  fc.record({ op: fc.constant('chars'), i: fc.nat(), at: fc.nat(), cut: fc.nat({ max: 8 }), s: fc.string({ unit: 'binary', maxLength: 6 }) }),
  fc.record({ op: fc.constant('number'), i: fc.nat(), k: fc.nat({ max: 4 }), v: fc.constantFrom(...EXTREMES) }),
  fc.record({ op: fc.constant('truncate'), at: fc.nat() }),
  fc.record({ op: fc.constant('eol'), eol: fc.constantFrom('\n', '\r', '\r\r\n', '\n\n', ' \r\n') }),
);

function mutate(text, muts) {
  let ls = text.split(/\r?\n/).filter((l, i, a) => l !== '' || i < a.length - 1);
  let eol = '\r\n';
  for (const m of muts) {
    const n = ls.length;
    const at = (i) => (n === 0 ? 0 : i % n);
    switch (m.op) {
      case 'delete':
        ls.splice(at(m.i), 1);
        break;
      case 'dup':
        if (n) ls.splice(at(m.i), 0, ...Array(m.times).fill(ls[at(m.i)]));
        break;
      case 'swap':
        if (n) [ls[at(m.i)], ls[at(m.j)]] = [ls[at(m.j)], ls[at(m.i)]];
        break;
      case 'replace':
        if (n) ls[at(m.i)] = m.line;
        break;
      case 'insert':
        ls.splice(n ? at(m.i) : 0, 0, m.line);
        break;
      case 'chars': {
        if (!n) break;
        const l = ls[at(m.i)];
        const p = l.length ? m.at % (l.length + 1) : 0;
        ls[at(m.i)] = l.slice(0, p) + m.s + l.slice(p + m.cut);
        break;
      }
      case 'number': {
        if (!n) break;
        let k = -1;
        ls[at(m.i)] = ls[at(m.i)].replace(/\d+/g, (d) => (++k === m.k ? m.v : d));
        break;
      }
      case 'truncate': {
        const joined = ls.join('\n');
        ls = joined.slice(0, m.at % (joined.length + 1)).split('\n');
        break;
      }
      case 'eol':
        eol = m.eol;
        break;
    }
  }
  return ls.join(eol) + eol;
}

const POLICIES = ['dtls-srtp', 'sdes-srtp', 'rtp', 'as-offered'];
const config = fc.record({
  policyA: fc.constantFrom(...POLICIES),
  policyB: fc.constantFrom(...POLICIES),
  actpassAnswer: fc.constantFrom('passive', 'active'),
  ice: fc.boolean(),
  avpf: fc.constantFrom('strip', 'keep', 'always'),
  fingerprintHash: fc.constantFrom('sha-256', 'sha-1', 'sha-512'),
});

const HASH_BYTES = { 'sha-1': 20, 'sha-224': 28, 'sha-256': 32, 'sha-384': 48, 'sha-512': 64 };
function localLeg(side, hash = 'sha-256') {
  const base = side === 'a' ? 40000 : 40002;
  return { address: '10.9.8.7', rtpPort: base, rtcpPort: base + 1, fingerprint: { hash, value: hex(HASH_BYTES[hash] || 32) } };
}

/** Outcome counters, printed at the end (what the fuzz run exercised). */
const seen = new Map();
const count = (k) => seen.set(k, (seen.get(k) || 0) + 1);

/**
 * Runs `f`; typed rejections are fine, anything else is a failure. When `f`
 * returns a promise (the engine's update), the same holds for what it settles
 * with, and the time bound covers the wait.
 */
function expectTyped(f, stage) {
  const t0 = performance.now();
  const done = (ok, v) => {
    const ms = performance.now() - t0;
    assert.ok(ms < SAMPLE_MAX_MS, `${stage} took ${ms.toFixed(0)} ms`);
    if (!ok) return typedRejection(v, stage);
    count(`${stage}: ok`);
    return v;
  };
  let r;
  try {
    r = f();
  } catch (e) {
    return done(false, e);
  }
  if (r && typeof r.then === 'function') return r.then((v) => done(true, v), (e) => done(false, e));
  return done(true, r);
}

/** undefined for a typed rejection (counted); throws for anything else. */
function typedRejection(e, stage) {
  if (e instanceof sdp.SdpError) {
    assert.ok([400, 488].includes(e.status), `${stage}: SdpError status ${e.status} (${e.reason})`);
    assert.ok(typeof e.reason === 'string' && e.reason.length > 0, `${stage}: SdpError has a reason`);
    assert.ok(e.reason.length <= 300, `${stage}: Reason text bounded (${e.reason.length} chars)`);
    count(`${stage}: SdpError ${e.status}`);
    return undefined;
  }
  // The engine refusing what the SDP layer let through is a 488; an
  // Internal error (e.g. a type the binding cannot convert) is a bug.
  if (e instanceof MediaEngineError && e.code !== 'Internal') {
    count(`${stage}: MediaEngineError ${e.code}`);
    return undefined;
  }
  throw new Error(`${stage}: untyped ${e && e.name}: ${e && e.stack}`);
}

/** Closes still in flight (the engine answers them asynchronously). */
const closing = [];

/** The B2BUA's offer path; returns what the answer path needs, or undefined. */
function offerPath(engine, text, c) {
  const offerA = expectTyped(() => sdp.parseSdp(text), 'parse offer');
  if (!offerA) return undefined;
  const planA = expectTyped(() => sdp.planAnswer(offerA, c.policyA, { actpassAnswer: c.actpassAnswer, ice: c.ice }), 'planAnswer');
  if (!planA) return undefined;
  const planB = expectTyped(
    () => sdp.planOffer(offerA, sdp.resolveSecurity(c.policyB, planA.security), { avpf: c.avpf, fingerprintHash: c.fingerprintHash, ice: c.ice }),
    'planOffer',
  );
  if (!planB) return undefined;
  const pipeline = expectTyped(() => engine.createPipeline({ a: sdp.legSpecFor(planA, offerA), b: sdp.legSpecFor(planB) }), 'createPipeline');
  if (!pipeline) return undefined;
  try {
    const offerB = expectTyped(() => sdp.buildOffer(offerA, planB, localLeg('b', planB.fingerprintHash), sdp.createOrigin('1000')), 'buildOffer');
    if (offerB) assert.ok(sdp.parseSdp(offerB.sdp), 'the SBC offer parses again');
    return offerB && { offerA, planA, planB, offerB };
  } finally {
    closing.push(pipeline.close());
  }
}

test('fuzzed offers and re-offers: success or a typed rejection, never a crash or a hang', async (t) => {
  const engine = new MediaEngine({ portMin: 53000, portMax: 53999, workers: 1, mediaTimeoutSecs: 0 });
  t.after(() => engine.shutdown());
  const started = Date.now();
  fc.assert(
    fc.property(fc.nat(offers.length - 1), fc.array(mutation, { minLength: 1, maxLength: 6 }), config, fc.array(mutation, { maxLength: 3 }), (i, muts, c, remuts) => {
      const r = offerPath(engine, mutate(offers[i], muts), c);
      // A re-INVITE on the same leg: the original offer's plan as `previous`.
      const base = expectTyped(() => sdp.planAnswer(sdp.parseSdp(offers[i]), c.policyA, { actpassAnswer: c.actpassAnswer, ice: c.ice }), 'base plan');
      if (base) {
        const re = expectTyped(() => sdp.parseSdp(mutate(offers[i], remuts)), 'parse re-offer');
        if (re) expectTyped(() => sdp.planAnswer(re, c.policyA, { actpassAnswer: c.actpassAnswer, ice: c.ice }, base), 're-planAnswer');
      }
      return r === undefined || typeof r.offerB.sdp === 'string';
    }),
    { numRuns: RUNS, seed: SEED, interruptAfterTimeLimit: TIME_LIMIT_MS, markInterruptAsFailure: false, includeErrorInReport: true },
  );
  await Promise.all(closing.splice(0));
  assert.equal(engine.counters().portPairsInUse, 0, 'every pipeline closed');
  t.diagnostic(`${Date.now() - started} ms: ${JSON.stringify(Object.fromEntries(seen))}`);
});

test('fuzzed answers: success or a typed rejection, never a crash or a hang', async (t) => {
  const engine = new MediaEngine({ portMin: 53000, portMax: 53999, workers: 1, mediaTimeoutSecs: 0 });
  t.after(() => engine.shutdown());
  seen.clear();
  await fc.assert(
    fc.asyncProperty(fc.nat(offers.length - 1), config, fc.array(mutation, { minLength: 1, maxLength: 6 }), async (i, c, muts) => {
      const offerA = sdp.parseSdp(offers[i]);
      let planA;
      let planB;
      try {
        planA = sdp.planAnswer(offerA, c.policyA, { actpassAnswer: c.actpassAnswer, ice: c.ice });
        planB = sdp.planOffer(offerA, sdp.resolveSecurity(c.policyB, planA.security), { avpf: c.avpf, fingerprintHash: c.fingerprintHash });
      } catch (e) {
        if (e instanceof sdp.SdpError) return true; // this fixture/config pair is refused unmutated
        throw e;
      }
      const pipeline = engine.createPipeline({ a: sdp.legSpecFor(planA, offerA), b: sdp.legSpecFor(planB) });
      try {
        const text = mutate(answers[planB.security] || answers.rtp, muts);
        const answerB = expectTyped(() => sdp.parseSdp(text), 'parse answer');
        if (!answerB) return true;
        const planB2 = expectTyped(() => sdp.applyAnswer(answerB, planB), 'applyAnswer');
        if (!planB2) return true;
        if ((await expectTyped(async () => (await pipeline.update('b', sdp.legUpdateFor(planB2, answerB)), true), 'update')) === undefined) return true;
        const built = expectTyped(() => sdp.buildAnswer(offerA, answerB, planA, localLeg('a', planA.fingerprintHash), sdp.createOrigin('2000')), 'buildAnswer');
        if (built) assert.ok(sdp.parseSdp(built.sdp), 'the SBC answer parses again');
        return true;
      } finally {
        await pipeline.close();
      }
    }),
    { numRuns: RUNS, seed: SEED, interruptAfterTimeLimit: TIME_LIMIT_MS, markInterruptAsFailure: false, includeErrorInReport: true },
  );
  assert.equal(engine.counters().portPairsInUse, 0, 'every pipeline closed');
  t.diagnostic(JSON.stringify(Object.fromEntries(seen)));
});

// Reproducers the fuzzing found, kept as regression tests.
test('regression: all-digit fields that sdp-transform turns into numbers', () => {
  const rtp = fs.readFileSync(path.join(FIXTURES, 'rtp-avp.sdp'), 'utf8');
  // "c=IN IP4 1": conn.ip is a number (was a TypeError in parseSdp).
  const offer = sdp.parseSdp(rtp.replace(/^c=IN IP4 .*$/m, 'c=IN IP4 1'));
  assert.equal(offer.media[0].address, '1');
  // "a=crypto:... inline:KEY 0": session params are a number (TypeError in parseCrypto).
  const sdes = fs.readFileSync(path.join(FIXTURES, 'sdes-two-crypto.sdp'), 'utf8').replace(/\|2\^31$/m, ' 0');
  assert.match(sdp.parseSdp(sdes).media[0].cryptos[0].problem, /session parameter 0/);
  // "a=rtcp:" / "a=rtcp:x": a string port reached the engine (Internal error, 500).
  for (const bad of ['a=rtcp:', 'a=rtcp:abc', 'a=rtcp:70000']) {
    const m = sdp.parseSdp(rtp.replace(/^(m=audio .*)$/m, `$1\r\n${bad}`)).media[0];
    assert.equal(m.rtcpPort, undefined, bad);
  }
});

test('regression: the Reason text of a refused offer is bounded', () => {
  const sdes = fs.readFileSync(path.join(FIXTURES, 'sdes-two-crypto.sdp'), 'utf8');
  const many = sdes.replace(/^a=crypto:1 .*$/m, Array(300).fill('a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:x').join('\r\n')).replace(/^a=crypto:2 .*\r?\n/m, '');
  assert.throws(() => sdp.planAnswer(sdp.parseSdp(many), 'sdes-srtp'), (e) => e instanceof sdp.SdpError && e.status === 488 && e.reason.length <= 200 && /no common SRTP crypto suite/.test(e.reason));
});
