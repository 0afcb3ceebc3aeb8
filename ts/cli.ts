#!/usr/bin/env node
/**
 * esbc command line. Today it starts the media engine on its defaults and
 * reports what it linked; the B2BUA is wired in as it lands.
 */
import { MediaEngine } from './media';

function main(): void {
  const versions = MediaEngine.versions();
  const engine = new MediaEngine({});
  const fp = engine.currentFingerprint('sha-256');
  process.stdout.write(
    JSON.stringify({ msg: 'esbc media engine started', versions, fingerprint: fp, counters: engine.counters() }) + '\n',
  );
  const stop = (): void => {
    engine.shutdown();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  setInterval(() => undefined, 1 << 30);
}

main();
