import { pino, type Logger } from 'pino';

export type { Logger };

/** JSON logs on stdout; callers bind `requestId` or `jobId` with `logger.child(...)`. */
export function createLogger(service: string, level: string): Logger {
  return pino({ level, base: { service }, timestamp: pino.stdTimeFunctions.isoTime });
}
