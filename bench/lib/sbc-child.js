'use strict';
// Child process: the whole SBC (dist/, startSbc: embedded SIP engine, media
// engine, B2BUA) with two realms: `in` (callers, security as given) and `out`
// (next hop: the callee). Prints {sipListen, pid, sipPid} as one JSON line;
// stops when stdin closes.
//   node bench/lib/sbc-child.js '{"inSecurity":"rtp","nextHop":"sip:127.0.0.1:5090","portMin":50000,"portMax":59999}'
// (optional: "logLevel":"warn", "metricsPort":9090 for /metrics while investigating)
const path = require('node:path');
const { startSbc, validateConfig, createLogger } = require(path.resolve(__dirname, '../../dist'));

async function main() {
  const o = JSON.parse(process.argv[2]);
  const config = validateConfig({
    // The load comes from one loopback address, like a trunk: trusted, and the
    // global INVITE cap off, so the ladder finds capacity, not the policy limit.
    sip: { engine: 'embedded', embedded: { controlPort: 0, limits: { trustedSources: ['127.0.0.0/8'], inviteRate: 0, perSourceRate: 0 } } },
    media: { bindAddress: '127.0.0.1', portMin: o.portMin, portMax: o.portMax, mediaTimeoutSecs: 0 },
    realms: [
      { name: 'in', sip: { listen: [{ transport: 'udp', address: '127.0.0.1', port: 0 }] }, media: { security: o.inSecurity } },
      { name: 'out', sip: { listen: [{ transport: 'udp', address: '127.0.0.1', port: 0 }], nextHop: o.nextHop }, media: { security: 'rtp' } },
    ],
    routes: [{ from: 'in', to: 'out' }],
    log: { level: o.logLevel || 'fatal' },
    ...(o.metricsPort ? { metrics: { port: o.metricsPort } } : {}),
  });
  const sbc = await startSbc(config, createLogger(o.logLevel || 'fatal'));
  process.stdout.write(JSON.stringify({ sipListen: sbc.sipListen, pid: process.pid, sipPid: sbc.sipEngine?.pid }) + '\n');
  process.stdin.resume();
  process.stdin.on('end', async () => {
    await sbc.stop({ drainMs: 0 }).catch(() => undefined);
    process.exit(0);
  });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
