#!/usr/bin/env node
/**
 * esbc command line:
 *   esbc [start] [--config file.yaml]   run the SBC (embedded defaults without --config)
 *   esbc check --config file.yaml       validate and print the effective configuration
 *   esbc version                        package, addon, OpenSSL and libsrtp versions
 * While running, SIGUSR2 steps the log level (configured -> debug -> trace ->
 * configured); SIGTERM drains and stops, SIGINT stops.
 */
import { ConfigError, loadConfigFile, loadDefaultConfig } from './config';
import { MediaEngine } from './media';
import { createLogger, terminalDestination } from './ops/log';
import { startSbc } from './sbc';

function usage(): string {
  return [
    'usage: esbc [start] [--config <file>]   run the SBC (built-in loopback defaults without --config)',
    '       esbc check --config <file>       validate a configuration and print it with defaults',
    '       esbc version                     print versions',
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const args = [...argv];
  const command = args[0] && !args[0].startsWith('-') ? args.shift()! : 'start';
  const i = args.indexOf('--config');
  const configPath = i >= 0 ? args[i + 1] : undefined;
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(usage() + '\n');
    return 0;
  }
  switch (command) {
    case 'version': {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const pkg = require('../package.json') as { version: string };
      process.stdout.write(JSON.stringify({ esbc: pkg.version, node: process.version, ...MediaEngine.versions() }, null, 2) + '\n');
      return 0;
    }
    case 'check': {
      if (!configPath) throw new ConfigError('check needs --config <file>');
      process.stdout.write(JSON.stringify(loadConfigFile(configPath), null, 2) + '\n');
      return 0;
    }
    case 'start': {
      const config = configPath ? loadConfigFile(configPath) : loadDefaultConfig();
      // JSON lines, or pino-pretty when stdout is a terminal.
      const sbc = await startSbc(config, createLogger(config.log.level, terminalDestination()));
      // SIGUSR2: next log level (configured -> debug -> trace -> configured).
      process.on('SIGUSR2', () => sbc.cycleLogLevel());
      const stop = (signal: string) => {
        // SIGTERM (orchestrators): drain for the configured time. SIGINT in
        // a terminal: the same, quickly.
        const drainMs = signal === 'SIGTERM' ? config.shutdown.drainSeconds * 1000 : 0;
        sbc.log.info({ signal, drainMs }, 'shutting down');
        sbc.stop({ drainMs }).then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.once('SIGINT', () => stop('SIGINT'));
      process.once('SIGTERM', () => stop('SIGTERM'));
      return -1; // keep running
    }
    default:
      process.stderr.write(`unknown command '${command}'\n${usage()}\n`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (err: unknown) => {
    if (err instanceof ConfigError) {
      process.stderr.write(`esbc: ${err.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`esbc: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(1);
  },
);
