'use strict';
// Media worker load (ts/ops/worker-load.ts): CPU seconds per `esbc-media-<n>`
// thread read from /proc/self/task; a real engine's workers burn CPU relaying.
const test = require('node:test');
const assert = require('node:assert');
const { readWorkerCpu, MediaEngine } = require('../../dist');
const { rtpPacket } = require('../helpers/srtp');
const { rtpCall } = require('../helpers/pipelines');

test('the media engine workers are found in /proc/self/task and their CPU time grows while they relay', async (t) => {
  const engine = new MediaEngine({ portMin: 57000, portMax: 57099, workers: 2, mediaTimeoutSecs: 0 });
  t.after(() => engine.shutdown());
  const before = readWorkerCpu();
  assert.deepEqual(before.map((w) => w.worker).sort(), ['0', '1'], 'one entry per worker thread');
  const { p, x, y } = await rtpCall(engine, t);
  t.after(() => p.close());
  const total = (ws) => ws.reduce((s, w) => s + w.userSeconds + w.systemSeconds, 0);
  // Idle cost first (timer wake-ups), then 20,000 relayed packets must cost more.
  await new Promise((r) => setTimeout(r, 1000));
  const idle = total(readWorkerCpu()) - total(before);
  const t0 = Date.now();
  const c0 = total(readWorkerCpu());
  // Bursts of 100 with a pause, so this process reads what the relay sends
  // before its socket buffer (about 256 datagrams) overflows.
  for (let seq = 1; seq <= 20000; seq++) {
    await x.sendTo(rtpPacket({ seq, ts: seq * 160, ssrc: 7, payload: Buffer.alloc(160, 1) }), p.local.a.rtpPort);
    if (seq % 100 === 0) await new Promise((r) => setTimeout(r, 2));
  }
  await y.waitFor(10000, 10000).catch(() => assert.fail(`only ${y.received.length} of 20,000 packets relayed`));
  const busy = total(readWorkerCpu()) - c0;
  const seconds = (Date.now() - t0) / 1000;
  assert.ok(busy > idle * seconds + 0.03, `relaying 20,000 packets cost ${busy.toFixed(2)} CPU-s vs ${(idle * seconds).toFixed(2)} idle over ${seconds.toFixed(1)} s`);
});
