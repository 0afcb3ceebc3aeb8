/** Structured JSON logs (pino); every line of a call carries its callId. */
import pino, { type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino({ level, base: { app: 'esbc' }, timestamp: pino.stdTimeFunctions.isoTime }, destination);
}
