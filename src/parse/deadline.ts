/**
 * A parse deadline: defence in depth behind linear-time parsing. Parsing is synchronous, so
 * a time budget cannot interrupt it from outside; instead the loops that walk a message
 * (header lines, MIME parts, notice lines, HTML tags, candidate addresses) call `tick()`,
 * which throws once the budget is spent. parseMessage turns that into a quarantined report
 * with the reason `parse deadline`, so one pathological message never holds the event loop
 * for more than the budget (plus one bounded step).
 */
import { performance } from 'node:perf_hooks';

export const PARSE_DEADLINE = 'parse deadline';

export class ParseDeadlineError extends Error {
  readonly code = 'PARSE_DEADLINE';
  constructor() {
    super(PARSE_DEADLINE);
  }
}

let until = Infinity;
let ticks = 0;
/** Clock reads are cheap but not free: one per this many ticks. */
const CHECK_EVERY = 64;

/** Runs `fn` with a budget of `ms` milliseconds (nested calls keep the earlier deadline). */
export function withDeadline<T>(ms: number, fn: () => T): T {
  const prev = until;
  const prevTicks = ticks;
  until = Math.min(prev, performance.now() + ms);
  ticks = 0;
  try {
    return fn();
  } finally {
    until = prev;
    ticks = prevTicks;
  }
}

/** One step of a loop over untrusted input: throws ParseDeadlineError past the deadline. */
export function tick(): void {
  if (until === Infinity || ticks++ % CHECK_EVERY !== 0) return;
  if (performance.now() > until) throw new ParseDeadlineError();
}
