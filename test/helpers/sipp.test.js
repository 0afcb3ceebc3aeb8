'use strict';
// Proves the sipp helper: exit codes, captured wire messages, templated
// scenarios with RTP streaming into a real baresip, and failure detection.
const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { runSipp, startSipp, parseMessageLog, dtlsOfferMedia } = require('./sipp');
const { startBaresip } = require('./baresip');
const { writeToneUlawWav } = require('./wav');
const { toneReport } = require('./goertzel');
const { live } = require('./procs');

test('builtin uac -> builtin uas: codes 0, both sides log the exact messages', async (t) => {
  const uas = await startSipp({ builtin: 'uas' });
  t.after(() => uas.cleanup());
  const uac = await runSipp({ builtin: 'uac', remote: `127.0.0.1:${uas.port}` });
  assert.strictEqual(uac.code, 0, uac.stdout.slice(-2000));
  assert.deepStrictEqual(
    uac.messages.map((m) => `${m.sent ? '>' : '<'} ${m.firstLine.split(' ').slice(0, 2).join(' ')}`),
    ['> INVITE sip:service@127.0.0.1:' + uas.port, '< SIP/2.0 180', '< SIP/2.0 200', '> ACK sip:service@127.0.0.1:' + uas.port, '> BYE sip:service@127.0.0.1:' + uas.port, '< SIP/2.0 200'],
  );
  const s = await uas.stop(); // builtin uas ends after its 4 s timewait; SIGUSR1 ends it now
  assert.strictEqual(s.code, 0);
  const invite = s.messages.find((m) => !m.sent && m.firstLine.startsWith('INVITE'));
  assert.match(invite.text, /^m=audio \d+ RTP\/AVP 0$/m, 'UAS log has the SDP it received');
});

test('sipp fails visibly: no peer -> timeout error code, bad scenario -> nonzero', async () => {
  const t0 = Date.now();
  const r = await runSipp({ builtin: 'uac', remote: '127.0.0.1:9', timeoutSec: 2 });
  assert.notStrictEqual(r.code, 0);
  assert.ok(Date.now() - t0 < 6000, 'global timeout bounds the run');
  assert.ok(r.messages.some((m) => m.sent && m.firstLine.startsWith('INVITE')));
  const bad = await runSipp({ scenarioFile: path.join(os.tmpdir(), 'no-such-scenario.xml') });
  assert.notStrictEqual(bad.code, 0);
  assert.match(bad.stdout + bad.errors, /Unable to load/);
});

test('templated uac streams a PCMU tone that a real baresip hears', async (t) => {
  const b = await startBaresip({ name: 'bob', toneHz: 880 });
  t.after(() => b.cleanup());
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'esbc-sipp-test-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const tone = writeToneUlawWav(path.join(dir, 'u440.wav'), { freq: 440, seconds: 10 });
  const r = await runSipp({
    scenarioTemplate: 'uac-rtp-tone',
    templateVars: { TONE_FILE: tone, TALK_MS: 2000 },
    remote: `127.0.0.1:${b.sipPort}`,
    service: 'bob',
    vars: { test_id: 'tone-1' }, // -set: the scenario must declare <Global variables="test_id"/>
  });
  assert.strictEqual(r.code, 0, r.stdout.slice(-2000));
  const answer = r.messages.find((m) => !m.sent && /^SIP\/2\.0 200/.test(m.firstLine) && /INVITE/.test(m.text));
  assert.match(answer.text, /^m=audio \d+ RTP\/AVP 0\b/m, 'baresip answered plain RTP with PCMU');
  assert.ok(b.sipMessages(/^INVITE [\s\S]*X-Esbc-Test: tone-1/).length, 'vars reached the wire');
  await b.waitEvent('CALL_CLOSED');
  await b.stop();
  const rep = toneReport(b.heardFiles()[0], 440, [880]);
  assert.ok(rep.ok, rep.reason);
  assert.ok(rep.activeSec > 1.5, rep.reason);
});

test('uac-offer + dtlsOfferMedia: baresip dtls_srtp answers the DTLS-SRTP offer (SDP only)', async (t) => {
  const b = await startBaresip({ name: 'bob', toneHz: 880, mediaenc: 'dtls_srtp' });
  t.after(() => b.cleanup());
  const r = await runSipp({
    scenarioTemplate: 'uac-offer',
    templateVars: { MEDIA: dtlsOfferMedia({ setup: 'actpass' }), TALK_MS: 500 },
    remote: `127.0.0.1:${b.sipPort}`,
    service: 'bob',
  });
  assert.strictEqual(r.code, 0, r.stdout.slice(-2000));
  const offer = r.messages.find((m) => m.sent && m.firstLine.startsWith('INVITE'));
  assert.match(offer.text, /^m=audio \d+ UDP\/TLS\/RTP\/SAVPF 0 8 101$/m);
  assert.match(offer.text, /^a=fingerprint:sha-256 ([0-9A-F]{2}:){31}[0-9A-F]{2}$/m);
  const answer = r.messages.find((m) => !m.sent && /^SIP\/2\.0 200/.test(m.firstLine) && /INVITE/.test(m.text));
  assert.match(answer.text, /^m=audio \d+ UDP\/TLS\/RTP\/SAVPF 0 8 101$/m);
  assert.match(answer.text, /^a=setup:active$/m);
  assert.match(answer.text, /^a=fingerprint:SHA-256 ([0-9A-F]{2}:){31}[0-9A-F]{2}$/m);
});

test('parseMessageLog handles TCP and multiple messages', () => {
  const log =
    '----------------------------------------------- 2026-01-01 00:00:00.000001\n' +
    'TCP message sent (10 bytes):\n\nOPTIONS sip:x SIP/2.0\r\nCSeq: 1 OPTIONS\r\n\r\n\n' +
    '----------------------------------------------- 2026-01-01 00:00:00.000002\n' +
    'TCP message received [20] bytes :\n\nSIP/2.0 200 OK\r\nCSeq: 1 OPTIONS\r\n\r\n\n';
  const m = parseMessageLog(log);
  assert.deepStrictEqual(m.map((x) => [x.sent, x.transport, x.firstLine]), [
    [true, 'TCP', 'OPTIONS sip:x SIP/2.0'],
    [false, 'TCP', 'SIP/2.0 200 OK'],
  ]);
});

test('no sipp or baresip process left behind', () => {
  assert.strictEqual([...live].length, 0);
});
