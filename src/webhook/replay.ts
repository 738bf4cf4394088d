/**
 * Replaying dead letters: each goes back into its partition's retry set, due now, with a
 * fresh retry schedule; the running gateways send it (signed, retried, dead again if the
 * receiver still fails). Re-queueing first and deleting the dead letter second is at least
 * once, like everything else here. Used by `abusegate webhooks replay` and the desk console.
 */
import type { Keys } from '../store/keys.js';
import type { RedisClient } from '../store/redis.js';
import { retryKeyOf, type DeadLetter, type RetryMember } from './worker.js';

/**
 * Replays the dead letters (of `type` only, when given) from the stream id bound `start`
 * ("-", a time in ms, or "(id"); with `id`, just that one.
 */
export async function replayDeadLetters(redis: RedisClient, keys: Keys, o: { type?: string; start?: string; id?: string; dryRun?: boolean }): Promise<{ queued: number; skipped: number }> {
  const dead = keys.deadLetters();
  let queued = 0;
  let skipped = 0;
  let cursor = o.id ?? o.start ?? '-';
  for (;;) {
    const batch = (await redis.xrange(dead, cursor, o.id ?? '+', 'COUNT', 500)) as Array<[string, string[]]>;
    if (batch.length === 0) break;
    for (const [id, fields] of batch) {
      const f: Partial<DeadLetter> = {};
      for (let i = 0; i < fields.length; i += 2) (f as Record<string, string>)[fields[i]] = fields[i + 1];
      const event = parseEvent(f.event);
      if (o.type && event?.type !== o.type) continue;
      const retry = f.partition !== undefined ? retryKeyOf(keys, f.partition) : null;
      if (!event || !f.group || !retry) {
        skipped++;
        continue;
      }
      if (!o.dryRun) {
        const member: RetryMember = { g: f.group, a: 1, e: f.event!, t: Date.parse(event.timestamp ?? '') || idMs(id) };
        await redis.zadd(retry, Date.now(), JSON.stringify(member));
        await redis.xdel(dead, id);
      }
      queued++;
    }
    if (o.id) break;
    cursor = '(' + batch[batch.length - 1][0];
  }
  return { queued, skipped };
}

function idMs(id: string): number {
  return Number(id.slice(0, id.indexOf('-')));
}

function parseEvent(raw: string | undefined): { type?: string; timestamp?: string } | null {
  if (!raw) return null;
  try {
    const v = JSON.parse(raw) as unknown;
    return v && typeof v === 'object' ? (v as { type?: string; timestamp?: string }) : null;
  } catch {
    return null;
  }
}
