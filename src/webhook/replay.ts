/**
 * Reading and replaying dead letters, which lie in one stream per outbox (its slot). Replaying: each goes back into its partition's retry set, due now, with a
 * fresh retry schedule; the running gateways send it (signed, retried, dead again if the
 * receiver still fails). Re-queueing first and deleting the dead letter second is at least
 * once, like everything else here. Used by `abusegate webhooks replay` and the desk console.
 */
import type { Keys } from '../store/keys.js';
import { noteWrite } from '../store/call.js';
import type { RedisClient } from '../store/redis.js';
import { type DeadLetter, type RetryMember, retryKeyOf } from './endpoints.js';

/** The dead-letter stream of a partition ("cases", "global" or a number), null when there is none. */
export function deadKeyOf(keys: Keys, partition: string): string | null {
  if (partition === 'cases') return keys.cases.outboxDead;
  if (partition === 'global') return keys.global.outboxDead;
  const p = Number(partition);
  return /^[0-9]+$/.test(partition) && p < keys.partitions ? keys.outboxDead(p) : null;
}

/** How many dead letters there are, over every stream. */
export async function countDeadLetters(redis: RedisClient, keys: Keys): Promise<number> {
  const lens = await Promise.all(keys.deadLetterStreams().map((k) => redis.xlen(k)));
  return lens.reduce((a, b) => a + b, 0);
}

/** The newest `n` dead letters over every stream, newest first. */
export async function latestDeadLetters(redis: RedisClient, keys: Keys, n: number): Promise<Array<{ id: string; fields: Partial<DeadLetter> }>> {
  const all = (await Promise.all(keys.deadLetterStreams().map((k) => redis.xrevrange(k, '+', '-', 'COUNT', n) as Promise<Array<[string, string[]]>>))).flat();
  all.sort(([a], [b]) => compareIds(b, a));
  return all.slice(0, n).map(([id, f]) => ({ id, fields: fieldsOf(f) }));
}

/**
 * Replays the dead letters (of `type` only, when given) from the stream id bound `start`
 * ("-", a time in ms, or "(id"); with `id` (and the `partition` its letter names), just that one.
 */
export async function replayDeadLetters(
  redis: RedisClient,
  keys: Keys,
  o: { type?: string; start?: string; id?: string; partition?: string; dryRun?: boolean },
): Promise<{ queued: number; skipped: number }> {
  let queued = 0;
  let skipped = 0;
  const one = o.partition !== undefined ? deadKeyOf(keys, o.partition) : null;
  for (const dead of one ? [one] : keys.deadLetterStreams()) {
    let cursor = o.id ?? o.start ?? '-';
    for (;;) {
      const batch = (await redis.xrange(dead, cursor, o.id ?? '+', 'COUNT', 500)) as Array<[string, string[]]>;
      if (batch.length === 0) break;
      for (const [id, fields] of batch) {
        const f = fieldsOf(fields);
        const event = parseEvent(f.event);
        if (o.type && event?.type !== o.type) continue;
        const retry = f.partition !== undefined ? retryKeyOf(keys, f.partition) : null;
        if (!event || !f.group || !retry) {
          skipped++;
          continue;
        }
        if (!o.dryRun) {
          const member: RetryMember = { g: f.group, a: 1, e: f.event!, t: Date.parse(event.timestamp ?? '') || idMs(id) };
          // Inside Store.durably (the desk's replay) both slots are confirmed on a replica.
          noteWrite(retry);
          noteWrite(dead);
          await redis.zadd(retry, Date.now(), JSON.stringify(member));
          await redis.xdel(dead, id);
        }
        queued++;
      }
      if (o.id) break;
      cursor = '(' + batch[batch.length - 1][0];
    }
  }
  return { queued, skipped };
}

function fieldsOf(fields: string[]): Partial<DeadLetter> {
  const f: Record<string, string> = {};
  for (let i = 0; i < fields.length; i += 2) f[fields[i]] = fields[i + 1];
  return f;
}

/** Stream ids: milliseconds, then the sequence within them. */
function compareIds(a: string, b: string): number {
  const [am, as] = a.split('-').map(Number);
  const [bm, bs] = b.split('-').map(Number);
  return am - bm || as - bs;
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
