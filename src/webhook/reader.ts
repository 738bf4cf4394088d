/**
 * The worker's input: new outbox entries (readEvents), entries another gateway left pending
 * too long (claimEvents), both admitted by the script that reads them (lib/admit.lua), and
 * retries that are due (claimRetries, leased). Each becomes a Job for the worker's queue.
 * Every stream is read on its own (one slot per command).
 */
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import type { RedisClient } from '../store/redis.js';
import { scriptOf } from '../store/call.js';
import { type Endpoint, type Job, type RetryMember, type Source, type WebhookConfig } from './endpoints.js';

export class OutboxReader {
  private readonly cursors = new Map<string, string>();
  private readonly byGroup = new Map<string, Endpoint>();
  private readonly types = new Map<Endpoint, string[]>();

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

  /**
   * Up to `n` new entries of every stream and endpoint, admitted in the same script
   * (readEvents): those with an ordering key are their key's head or parked behind it.
   */
  async readNew(n: number, into: Job[]): Promise<number> {
    const read = scriptOf(this.redis, 'readEvents');
    const replies = await Promise.all(
      this.sources.flatMap((src) => this.endpoints.map(async (ep) => ({ src, ep, sends: (await read(src.stream, src.order, ep.group, this.consumer, n, ...this.typesOf(ep))) as string[] }))),
    );
    let got = 0;
    for (const { src, ep, sends } of replies) got += this.accept(src, ep, sends, into);
    return got;
  }

  /** Entries a crashed or stalled gateway left pending longer than claimIdleMs, admitted as new ones are. */
  async claimStale(n: number, into: Job[]): Promise<number> {
    const claim = scriptOf(this.redis, 'claimEvents');
    const replies = await Promise.all(
      this.sources.flatMap((src) =>
        this.endpoints.map(async (ep) => {
          const key = `${src.stream}\n${ep.group}`;
          const [cursor, taken, sends] = (await claim(src.stream, src.order, ep.group, this.consumer, this.config.claimIdleMs, this.cursors.get(key) ?? '0-0', n, ...this.typesOf(ep))) as [string, number, string[]];
          this.cursors.set(key, cursor);
          return { src, ep, taken, sends };
        }),
      ),
    );
    let got = 0;
    for (const { src, ep, taken, sends } of replies) {
      if (taken) this.log.info({ code: 'WEBHOOK_CLAIMED', endpoint: ep.name, count: taken }, 'took over pending webhook deliveries');
      got += this.accept(src, ep, sends, into);
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

  /** The types an endpoint wants, as the scripts take them: 'all', or 'only' and the types. */
  private typesOf(ep: Endpoint): string[] {
    let t = this.types.get(ep);
    if (!t) this.types.set(ep, (t = ep.types ? ['only', ...ep.types] : ['all']));
    return t;
  }

  /** Queues the entries a script handed out: id, event, order field, event id, for each. */
  private accept(src: Source, ep: Endpoint, sends: string[], into: Job[]): number {
    const now = this.clock.now();
    for (let i = 0; i < sends.length; i += 4) {
      into.push({ kind: 'stream', src, ep, id: sends[i], raw: sends[i + 1], order: sends[i + 2] || null, eventId: sends[i + 3] || null, heldAt: now });
    }
    return sends.length / 4;
  }
}
