/**
 * The worker's upkeep, every maintenanceMs: trims what every group has acknowledged,
 * refreshes the outbox gauges, keeps the entries waiting in this worker's queue its own,
 * and forgets consumers of gateways long gone.
 */
import type { Clock } from '../clock.js';
import { scriptOf } from '../store/call.js';
import type { RedisClient } from '../store/redis.js';
import { type Endpoint, type Job, type RetryMember, type Source, type StreamJob, UNSENT_KEPT, byStream, type WebhookConfig } from './endpoints.js';
import { outboxDepth, outboxOldestAge } from './metrics.js';

export class Maintenance {
  private nextCleanup = 0;

  constructor(
    private readonly redis: RedisClient,
    private readonly consumer: string,
    private readonly sources: readonly Source[],
    private readonly endpoints: readonly Endpoint[],
    private readonly config: WebhookConfig,
    private readonly clock: Clock,
  ) {}

  /** Nobody reads the outboxes: keep the newest events (for an endpoint configured later), never an unbounded stream. */
  async trimUnsent(): Promise<void> {
    await Promise.all(this.sources.map((src) => this.redis.xtrim(src.stream, 'MAXLEN', '~', UNSENT_KEPT)));
  }

  /** Trims acknowledged entries, refreshes the gauges, keeps waiting entries ours. */
  async run(queue: Job[]): Promise<void> {
    const groups = this.endpoints.map((e) => e.group);
    const now = this.clock.now();
    const trimOutbox = scriptOf(this.redis, 'trimOutbox');
    const results = await Promise.all(
      this.sources.map(async (src) => {
        const [trim, card, members] = await Promise.all([
          groups.length ? (trimOutbox(src.stream, ...groups) as Promise<[number, number, number]>) : Promise.resolve([0, 0, 0] as [number, number, number]),
          this.redis.zcard(src.retry),
          this.redis.zrange(src.retry, '0', '99'),
        ]);
        let oldest = trim[2] || Infinity;
        for (const member of members) {
          try {
            oldest = Math.min(oldest, (JSON.parse(member) as RetryMember).t);
          } catch {
            // malformed: dropped when it is due
          }
        }
        return { owed: Number(trim[1]) + card, oldest };
      }),
    );
    outboxDepth.set(results.reduce((s, r) => s + r.owed, 0));
    const oldest = Math.min(...results.map((r) => r.oldest));
    outboxOldestAge.set(Number.isFinite(oldest) ? Math.max(0, (now - oldest) / 1000) : 0);
    await this.touchWaiting(queue, now);
    if (now >= this.nextCleanup) {
      this.nextCleanup = now + 600_000;
      await this.dropGoneConsumers();
    }
  }

  /**
   * Entries fetched but still waiting for a free slot would look abandoned after
   * claimIdleMs and be taken over by another gateway: claim them again (resets idle), and
   * push the lease of waiting retries further out. Those another gateway took meanwhile
   * are dropped from the queue.
   */
  private async touchWaiting(queue: Job[], now: number): Promise<void> {
    const minIdle = Math.floor(this.config.claimIdleMs / 3);
    const lost = new Set<Job>();
    for (const j of queue) {
      if (j.kind !== 'retry' || now - j.heldAt < minIdle) continue;
      // CH: 1 when the member is still there (its score changed), 0 when it is gone.
      if ((await this.redis.zadd(j.src.retry, 'XX', 'CH', now + this.config.claimIdleMs, j.member)) === 1) j.heldAt = now;
      else lost.add(j);
    }
    const stale = queue.filter((j): j is StreamJob => j.kind === 'stream' && now - j.heldAt >= minIdle);
    for (const jobs of byStream(stale)) {
      const { src, ep } = jobs[0];
      const kept = new Set((await this.redis.call('XCLAIM', src.stream, ep.group, this.consumer, String(minIdle), ...jobs.map((j) => j.id), 'JUSTID')) as string[]);
      for (const j of jobs) {
        if (kept.has(j.id)) j.heldAt = now;
        else lost.add(j);
      }
    }
    if (lost.size) {
      const rest = queue.filter((j) => !lost.has(j));
      queue.length = 0;
      queue.push(...rest);
    }
  }

  /** Every restart adds a consumer name; forget those long idle with nothing pending. */
  private async dropGoneConsumers(): Promise<void> {
    for (const src of this.sources) {
      for (const ep of this.endpoints) {
        const list = (await this.redis.xinfo('CONSUMERS', src.stream, ep.group)) as Array<Array<string | number>>;
        for (const c of list) {
          const f: Record<string, string | number> = {};
          for (let i = 0; i < c.length; i += 2) f[String(c[i])] = c[i + 1];
          if (f.name !== this.consumer && Number(f.pending) === 0 && Number(f.idle) > 3_600_000) {
            await this.redis.xgroup('DELCONSUMER', src.stream, ep.group, String(f.name));
          }
        }
      }
    }
  }
}
