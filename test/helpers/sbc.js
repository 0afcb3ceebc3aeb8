'use strict';
// Starts the whole SBC in-process (embedded SIP engine child process, media
// engine, drachtio-srf app) with a test configuration; loopback only.
const { startSbc, validateConfig, createLogger } = require('../../dist');

/**
 * realms: [{ name, security, transport?, port?, nextHop, media?, refer? }] -> config; SIP
 * listens on `port` or port 0 (the engine picks); routes default to "each realm to the other".
 * `log`: a pino logger to use instead of one at `logLevel` on stdout.
 */
async function startTestSbc({ realms, routes, media = {}, logLevel = process.env.ESBC_TEST_LOG || 'silent', sip = {}, extra = {}, log }) {
  const config = validateConfig({
    sip: { engine: 'embedded', ...sip },
    media: { bindAddress: '127.0.0.1', portMin: 46000, portMax: 46999, mediaTimeoutSecs: 0, ...media },
    realms: realms.map((r) => ({
      name: r.name,
      sip: { listen: [{ transport: r.transport || 'udp', address: '127.0.0.1', port: r.port || 0 }], nextHop: r.nextHop },
      media: { security: r.security, ...(r.media || {}) },
      ...(r.refer ? { refer: r.refer } : {}),
    })),
    routes: routes || realms.filter((r) => r.nextHop).map((r) => ({ from: realms.find((x) => x !== r).name, to: r.name })),
    log: { level: logLevel === 'silent' ? 'fatal' : logLevel },
    ...extra,
  });
  const sbc = await startSbc(config, log || createLogger(logLevel));
  sbc.port = (realm) => sbc.sipListen[realm][0].port;
  sbc.uri = (user, realm) => `sip:${user}@127.0.0.1:${sbc.port(realm)}`;
  return sbc;
}

module.exports = { startTestSbc };
