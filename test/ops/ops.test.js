'use strict';
// Operating the SBC: Prometheus metrics scraped over HTTP during a real
// DTLS-SRTP call (baresip), CDR lines for answered, rejected and cancelled
// calls, and the health endpoint.
const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startCallerAndCallee } = require('../helpers/baresip');
const { startTestSbc } = require('../helpers/sbc');
const { waitUntil } = require('../helpers/udp');
const h = require('../helpers/b2bua');

async function scrape(port) {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.equal(res.status, 200);
  return res.text();
}

function metric(text, name, labels = '') {
  const re = new RegExp(`^${name}${labels ? `\\{${labels}\\}` : '(?:\\{[^}]*\\})?'} (\\S+)$`, 'm');
  const m = re.exec(text);
  return m ? Number(m[1]) : undefined;
}

function cdrLines(file) {
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)) : [];
}

test('metrics during a real DTLS-SRTP call, CDRs for answered/rejected/cancelled calls, health', async (t) => {
  const cdrFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'esbc-cdr-')), 'cdr.jsonl');
  const { caller, callee, calleePort } = await startCallerAndCallee(t, { name: 'secure', toneHz: 440, mediaenc: 'dtls_srtp' }, { name: 'plain', toneHz: 880, mediaenc: null });
  const sbc = await startTestSbc({
    realms: [
      { name: 'in', security: 'dtls-srtp' },
      { name: 'out', security: 'rtp', nextHop: `sip:127.0.0.1:${calleePort}` },
    ],
    media: { portMin: 38000, portMax: 38499 },
    extra: { metrics: { address: '127.0.0.1', port: 0 }, cdr: { path: cdrFile } },
  });
  t.after(() => sbc.stop());
  const port = sbc.opsPort;
  assert.equal((await fetch(`http://127.0.0.1:${port}/health/live`)).status, 200);
  assert.equal((await fetch(`http://127.0.0.1:${port}/health/ready`)).status, 200);

  await caller.dial(sbc.uri('plain', 'in'));
  await caller.waitEvent('CALL_MENC', 10000);
  await caller.waitHeard(1);
  const m1 = await scrape(port);
  assert.equal(metric(m1, 'esbc_calls_active'), 1);
  assert.equal(metric(m1, 'esbc_dtls_handshakes_total', 'outcome="connected"'), 1);
  assert.equal(metric(m1, 'esbc_dtls_handshake_seconds_count'), 1, 'handshake duration observed');
  const hsSeconds = metric(m1, 'esbc_dtls_handshake_seconds_sum');
  assert.ok(hsSeconds > 0 && hsSeconds < 5, `handshake took ${hsSeconds} s`);
  assert.ok(metric(m1, 'esbc_media_port_pairs_in_use') >= 2);
  const in1 = metric(m1, 'esbc_media_packets_total', 'direction="in",kind="dtls-srtp",unit="packets"');
  assert.ok(in1 > 0, 'SRTP packets counted');
  await caller.waitHeard(1);
  const m2 = await scrape(port);
  assert.ok(metric(m2, 'esbc_media_packets_total', 'direction="in",kind="dtls-srtp",unit="packets"') > in1, 'packet counters move');
  assert.ok(metric(m2, 'esbc_media_packets_total', 'direction="out",kind="rtp",unit="packets"') > 0);
  // The socket I/O in use, one-hot; io_uring here unless the engine says why not.
  const { ioBackend, ioFallback } = sbc.engine.counters();
  assert.ok(ioBackend === 'io_uring' || ioFallback, `io_uring, or the reason it is not used (${ioBackend})`);
  assert.equal(metric(m2, 'esbc_media_io_backend', `backend="${ioBackend}"`), 1);
  assert.equal(metric(m2, 'esbc_media_io_backend', `backend="${ioBackend === 'io_uring' ? 'epoll' : 'io_uring'}"`), 0);
  // A call whose datagrams all leave: none refused by the kernel.
  assert.equal(metric(m2, 'esbc_media_send_errors_total'), 0);
  assert.equal(metric(m2, 'esbc_media_receive_starved_total'), 0);
  // Worker load: CPU seconds of every media worker thread, user and kernel.
  const workers = metric(m2, 'esbc_media_workers');
  assert.ok(workers >= 1);
  for (let w = 0; w < workers; w++) {
    for (const mode of ['user', 'system']) {
      const v = metric(m2, 'esbc_media_worker_cpu_seconds_total', `worker="${w}",mode="${mode}"`);
      assert.ok(typeof v === 'number' && v >= 0, `worker ${w} ${mode} CPU seconds exported`);
    }
  }
  await caller.hangup();
  await callee.waitEvent('CALL_CLOSED', 5000);
  await h.assertReleased(sbc);

  // A rejected call (no fingerprint in a DTLS offer) and a cancelled one (sipp).
  const rejected = await h.startScenario('uac-reject', { SDP: h.sdpBody(h.offers.seed({ fingerprint: null })), CODE: 488 }, { remote: `127.0.0.1:${sbc.port('in')}`, service: 'plain' });
  t.after(() => rejected.cleanup());
  await rejected.done;
  await waitUntil(() => cdrLines(cdrFile).length >= 2, 5000, 'two CDR lines');
  const m3 = await scrape(port);
  assert.equal(metric(m3, 'esbc_calls_total', 'result="answered"'), 1);
  assert.equal(metric(m3, 'esbc_calls_total', 'result="rejected"'), 1);
  assert.equal(metric(m3, 'esbc_call_rejections_total', 'status="488"'), 1);
  assert.equal(metric(m3, 'esbc_call_setup_seconds_count'), 1);
  assert.equal(metric(m3, 'esbc_calls_active'), 0);

  const [answered, refused] = cdrLines(cdrFile);
  assert.equal(answered.result, 'answered');
  assert.equal(answered.from, 'in');
  assert.equal(answered.to, 'out');
  assert.ok(answered.durationMs >= 1000);
  assert.ok(answered.answer && answered.end >= answered.answer);
  assert.equal(answered.legs.a.security, 'dtls-srtp');
  assert.ok(answered.legs.a.profile, 'negotiated SRTP profile recorded');
  assert.equal(answered.legs.a.handshakes, 1);
  assert.equal(answered.legs.b.security, 'rtp');
  assert.ok(answered.legs.b.packetsOut > 0);
  assert.equal(answered.endReason, 'caller hung up');
  assert.equal(refused.result, 'rejected');
  assert.equal(refused.status, 488);
  assert.match(refused.endReason, /fingerprint/);
});

test('a cancelled call is recorded as cancelled', async (t) => {
  const cdrFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'esbc-cdr-')), 'cdr.jsonl');
  const callee = await h.startScenario('uas-ring', {});
  t.after(() => callee.cleanup());
  const sbc = await startTestSbc({
    realms: [
      { name: 'in', security: 'dtls-srtp' },
      { name: 'out', security: 'rtp', nextHop: `sip:127.0.0.1:${callee.port}` },
    ],
    media: { portMin: 38500, portMax: 38999 },
    extra: { cdr: { path: cdrFile } },
  });
  t.after(() => sbc.stop());
  const caller = await h.startScenario('uac-cancel', { SDP: h.sdpBody(h.offers.baresip()) }, { remote: `127.0.0.1:${sbc.port('in')}`, service: 'bob' });
  t.after(() => caller.cleanup());
  await caller.done;
  await waitUntil(() => cdrLines(cdrFile).length >= 1, 5000, 'CDR line');
  const [cdr] = cdrLines(cdrFile);
  assert.equal(cdr.result, 'cancelled');
  assert.equal(cdr.status, 487);
  assert.equal(cdr.durationMs, 0);
});
