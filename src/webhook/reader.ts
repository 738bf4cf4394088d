/**
 * The worker's input: new outbox entries (XREADGROUP), entries another gateway left pending
 * too long (XAUTOCLAIM), and retries that are due (claimRetries, leased). Each becomes a Job
 * for the worker's queue. Every stream is read on its own (one slot per command).
 */
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import type { RedisClient } from '../store/redis.js';
import { scriptOf } from '../store/call.js';
import { type Endpoint, type Job, type RetryMember, type Source, type WebhookConfig, typeOf } from './endpoints.js';

type Entries = Array<[string, string[] | null]>;

export class OutboxReader {
  private readonly cursors = new Map<string, string>();
  private readonly byGroup = new Map<string, Endpoint>();

  constructor(
    private readonly redis: RedisClient,
    private readonly consumer: string,
    private readonly sources: readonly Source[],
    private readonly endpoints: readonly Endpoint[],
    private readonly config: WebhookConfig,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {
    for (const ep of endpoints) this.byGroup.set(ep.group, ep);
  }

  /** A new group starts at the beginning: events written before it existed are sent too. */
  async createGroups(): Promise<void> {
    await Promise.all(
      this.sources.flatMap((src) =>
        this.endpoints.map((ep) =>
          this.redis.xgroup('CREATE', src.stream, ep.group, '0', 'MKSTREAM').catch((err: Error) => {
            if (!/BUSYGROUP/.test(err.message)) throw err;
          }),
        ),
      ),
    );
  }

  /** Up to `n` new entries of every stream and endpoint. */
  async readNew(n: number, into: Job[]): Promise<number> {
    const replies = await Promise.all(
      this.sources.flatMap((src) =>
        this.endpoints.map(async (ep) => {
          const r = (await this.redis.xreadgroup('GROUP', ep.group, this.consumer, 'COUNT', n, 'STREAMS', src.stream, '>')) as Array<[string, Entries]> | null;
          return { src, ep, entries: r?.[0]?.[1] ?? [] };
        }),
      ),
    );
    let got = 0;
    for (const { src, ep, entries } of replies) got += await this.accept(src, ep, entries, into);
    return got;
  }

  /** Entries a crashed or stalled gateway left pending longer than claimIdleMs. */
  async claimStale(n: number, into: Job[]): Promise<number> {
    const replies = await Promise.all(
      this.sources.flatMap((src) =>
        this.endpoints.map(async (ep) => {
          const key = `${src.stream}\n${ep.group}`;
          const r = (await this.redis.xautoclaim(src.stream, ep.group, this.consumer, this.config.claimIdleMs, this.cursors.get(key) ?? '0-0', 'COUNT', n)) as [string, Entries, string[]?];
          this.cursors.set(key, r[0]);
          // Entries trimmed while pending (not by us: we keep pending ones) cannot be sent.
          if (r[2]?.length) await this.redis.xack(src.stream, ep.group, ...r[2]);
          return { src, ep, entries: r[1] };
        }),
      ),
    );
    let got = 0;
    for (const { src, ep, entries } of replies) {
      if (entries.length) this.log.info({ code: 'WEBHOOK_CLAIMED', endpoint: ep.name, count: entries.length }, 'took over pending webhook deliveries');
      got += await this.accept(src, ep, entries, into);
    }
    return got;
  }

  /** Up to `n` due retries of every retry set, leased for claimIdleMs. */
  async takeRetries(n: number, into: Job[]): Promise<number> {
    const now = this.clock.now();
    const lease = now + this.config.claimIdleMs;
    const claim = scriptOf(this.redis, 'claimRetries');
    const replies = await Promise.all(this.sources.map(async (src) => ({ src, members: (await claim(src.retry, now, lease, n)) as string[] })));
    let got = 0;
    for (const { src, members } of replies) {
      for (const member of members) {
        let m: RetryMember;
        try {
          m = JSON.parse(member) as RetryMember;
        } catch {
          await this.redis.zrem(src.retry, member);
          continue;
        }
        into.push({ kind: 'retry', src, ep: this.byGroup.get(m.g) ?? null, member, m, order: m.k ?? null, heldAt: now });
        got++;
      }
    }
    return got;
  }

  private async accept(src: Source, ep: Endpoint, entries: Entries, into: Job[]): Promise<number> {
    const skip: string[] = [];
    let got = 0;
    const now = this.clock.now();
    for (const [id, fields] of entries) {
      const at = fields ? fields.indexOf('event') : -1;
      const raw = at >= 0 ? fields![at + 1] : undefined;
      if (raw === undefined) {
        skip.push(id);
        continue;
      }
      if (ep.types) {
        const type = typeOf(raw);
        if (type !== null && !ep.types.has(type)) {
          skip.push(id);
          continue;
        }
      }
      // The ordering key travels beside the event (entries written before it did have none).
      const a = fields!.indexOf('a');
      const key = a >= 0 && a % 2 === 0 ? fields![a + 1] : null;
      into.push({ kind: 'stream', src, ep, id, raw, heldAt: now, order: key ? `${ep.group}|${key}` : null });
      got++;
    }
    // Types this endpoint does not want, and entries with no event: nothing to send.
    if (skip.length) await this.redis.xack(src.stream, ep.group, ...skip);
    return got;
  }
}
