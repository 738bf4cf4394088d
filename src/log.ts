/**
 * The root logger. Recipient addresses are redacted at info level and above (they are
 * personal data, and logs travel further than the database); debug shows them.
 */
import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

const REDACT = ['rcptTo', 'mailFrom', 'recipient', 'recipients', 'address', 'addresses', '*.recipient', '*.address'];

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
