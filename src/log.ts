/**
 * The root logger. Recipient addresses are redacted at info level and above (they are
 * personal data, and logs travel further than the database); debug shows them.
 */
import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

const REDACT = ['rcptTo', 'mailFrom', 'recipient', 'recipients', 'address', 'addresses', '*.recipient', '*.address'];

/**
 * The process's log, on stdout, written in batches: a write when 4 KiB of lines are waiting
 * or every 250 ms, instead of a write per line. The gateway logs a line per message, and
 * each write handed to libuv's thread pool woke the event loop once more when it finished:
 * on this project's 2-core VM a sleep and a wake of the loop cost more CPU than the line
 * (issue 16, docs/benchmarks.md). pino writes what is waiting when the process exits, a
 * crash included; a SIGKILL loses at most the last 250 ms.
 */
export function stdoutLog(): DestinationStream {
  return pino.destination({ dest: 1, sync: false, minLength: 4096, periodicFlush: 250 });
}

export function createLogger(level: string, dest?: DestinationStream): Logger {
  const debug = level === 'debug' || level === 'trace';
  return pino(
    {
      level,
      base: { service: 'abusegate' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: debug ? [] : { paths: REDACT, censor: '[redacted]' },
    },
    dest,
  );
}
