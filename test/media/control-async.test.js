'use strict';
// The control plane never waits for a media worker: update and close queue a
// command and resolve when the worker answers. What callers rely on: the
// answers come in the order the commands were made, close resolves only once
// the ports are free again, and shutdown settles whatever is still pending.
const test = require('node:test');
const assert = require('node:assert/strict');
const { MediaEngine } = require('../../dist');

test('update and close answer later, in the order they were made; close resolves once the ports are free', async () => {
  const engine = new MediaEngine({ portMin: 43500, portMax: 43503, workers: 1, mediaTimeoutSecs: 0 });
  try {
    const p = engine.createPipeline({ a: { kind: 'rtp' }, b: { kind: 'rtp' } });
    const order = [];
    const holdA = p.update('a', { direction: 'sendonly' }).then(() => order.push('update a'));
    const holdB = p.update('b', { direction: 'recvonly' }).then(() => order.push('update b'));
    const closed = p.close().then((stats) => (order.push('close'), stats));
    assert.deepEqual(order, [], 'nothing is answered synchronously');
    assert.throws(() => p.stats(), /closed/, 'a closing pipeline takes no further calls');
    const [stats] = await Promise.all([closed, holdA, holdB]);
    assert.deepEqual(order, ['update a', 'update b', 'close']);
    assert.equal(stats.a.direction, 'sendonly', 'the final counters come after both updates');
    assert.equal(stats.b.direction, 'recvonly');
    assert.equal(engine.counters().portPairsInUse, 0, 'ports free when close resolves');
    // The range holds exactly one call: the freed pair is usable at once.
    const again = engine.createPipeline({ a: { kind: 'rtp' }, b: { kind: 'rtp' } });
    assert.equal(await p.close(), undefined, 'close is idempotent');
    await assert.rejects(p.update('a', { direction: 'sendrecv' }), { code: 'Closed' });
    await assert.rejects(again.update('a', { direction: 'bogus' }), { code: 'InvalidSpec' }, 'refusals are typed rejections');

    // Shutdown settles requests the workers have not answered.
    const pending = again.update('a', { direction: 'inactive' });
    const closing = again.close();
    engine.shutdown();
    await assert.rejects(pending, { code: 'Closed' });
    assert.equal(await closing, undefined);
  } finally {
    engine.shutdown();
  }
});
