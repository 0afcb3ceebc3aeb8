'use strict';
// Child process: this project's media engine (the addon, as the SBC uses it)
// with N pipelines, an `rtp` leg and an `sdes-srtp` leg each (SDES keys, so
// no handshake cost is in the relay figure). Remote addresses are given as
// SDP would give them. Prints the session list as one JSON line, then stays
// up until stdin closes.
//   node bench/lib/esbc-relay.js '{"calls":N,"profile":"AES_CM_128_HMAC_SHA1_80","locals":["127.0.0.2:40000",...],"portMin":50000,"portMax":59999}'
const crypto = require('node:crypto');
const path = require('node:path');
const { MediaEngine } = require(path.resolve(__dirname, '../../dist'));
const { rssBytes } = require('./cpu');
const { localFor, keyLen } = require('./sessions');

const o = JSON.parse(process.argv[2]);
const engine = new MediaEngine({ bindAddress: '127.0.0.1', portMin: o.portMin, portMax: o.portMax, workers: 1, mediaTimeoutSecs: 0 });
// Memory per call counts from here: the engine's fixed cost (worker, batches) is not per call.
global.gc?.();
const rssBefore = rssBytes();
const calls = [];
for (let i = 0; i < o.calls; i++) {
  const engineKey = crypto.randomBytes(keyLen(o.profile)); // engine -> generator
  const peerKey = crypto.randomBytes(keyLen(o.profile)); // generator -> engine
  const [la, lb] = [localFor(o.locals, i, 0), localFor(o.locals, i, 1)];
  const split = (a) => ({ remoteAddress: a.slice(0, a.lastIndexOf(':')), remotePort: Number(a.slice(a.lastIndexOf(':') + 1)) });
  const p = engine.createPipeline({
    a: { kind: 'rtp', rtcpMux: true, ...split(la) },
    b: {
      kind: 'sdes-srtp',
      rtcpMux: true,
      localKey: { suite: o.profile, key: engineKey.toString('base64') },
      remoteKey: { suite: o.profile, key: peerKey.toString('base64') },
      ...split(lb),
    },
  });
  calls.push({
    legs: [
      { local: la, remote: `127.0.0.1:${p.local.a.rtpPort}` },
      { local: lb, remote: `127.0.0.1:${p.local.b.rtpPort}`, srtp: { profile: o.profile, tx: peerKey.toString('hex'), rx: engineKey.toString('hex') } },
    ],
  });
}
global.gc?.(); // set-up garbage is not per-call memory
process.stdout.write(JSON.stringify({ rssBefore, io: engine.counters().ioBackend, sessions: { calls } }) + '\n');
process.stdin.resume();
process.stdin.on('end', () => {
  engine.shutdown();
  process.exit(0);
});
