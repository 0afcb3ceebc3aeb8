/**
 * Structured JSON logs (pino); every line of a call carries its callId.
 *
 * The level can change at run time (SIGUSR2 in the CLI, `PUT /log-level` on
 * the ops endpoint). pino gives each child logger its own copy of the level
 * when it is created, so `setLogLevel` also updates every live child (a
 * call's logger, the SIP engine's) — not only the children created later.
 */
import pino, { type Logger } from 'pino';

export type { Logger };

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Live descendants of each logger made by createLogger (weakly held: a call's logger goes with the call). */
const families = new WeakMap<Logger, Set<WeakRef<Logger>>>();
const forget = new FinalizationRegistry<{ set: Set<WeakRef<Logger>>; ref: WeakRef<Logger> }>(({ set, ref }) => set.delete(ref));

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  const children = new Set<WeakRef<Logger>>();
  const log = pino(
    {
      level,
      base: { app: 'esbc' },
      timestamp: pino.stdTimeFunctions.isoTime,
      // Inherited by children, so grandchildren (a re-INVITE's logger) register too.
      onChild: (child) => {
        const ref = new WeakRef(child);
        children.add(ref);
        forget.register(child, { set: children, ref });
      },
    },
    destination,
  );
  families.set(log, children);
  return log;
}

export function isLogLevel(s: string): s is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(s);
}

/** Sets the level of `log` and of every live child logger created from it. */
export function setLogLevel(log: Logger, level: LogLevel): void {
  log.level = level;
  for (const ref of families.get(log) ?? []) {
    const child = ref.deref();
    if (child) child.level = level;
  }
}

/**
 * Human-readable output for a terminal (pino-pretty, in this thread, so
 * nothing is lost at exit); JSON lines otherwise.
 */
export function terminalDestination(stream: NodeJS.WriteStream = process.stdout): pino.DestinationStream | undefined {
  if (!stream.isTTY) return undefined;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const pretty = require('pino-pretty') as typeof import('pino-pretty');
  return pretty({ destination: stream, colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,app', singleLine: true });
}
