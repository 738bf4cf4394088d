/**
 * What becomes of an event after a delivery attempt: let go once delivered, kept in the
 * partition's retry set when it failed, moved to the partition's dead letters when its
 * retries are spent. Each is one script in the outbox's slot (or one XACK), so an event is
 * never lost between two writes nor sent by two paths; the deliveries of a few ms share one.
 */
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import { scriptOf } from '../store/call.js';
import type { RedisClient } from '../store/redis.js';
import { DEAD_LETTERS_KEPT, type DeadLetter, type Endpoint, type Job, type RetryMember, type Source, type WebhookConfig, idMs, idOf } from './endpoints.js';
import { webhookDeadLetters, webhookDeliveries } from './metrics.js';

/** How long a finished delivery waits for others to share its command (ms). */
const BATCH_MS = 2;

/**
 * Work that finished within BATCH_MS of each other, gathered per key and sent as one
 * command (issue 19: a command per event was a round trip and a script run per delivery;
 * one per turn of the event loop still took a write to Redis per ~8 events, twice what
 * 2 ms take at the benchmark's pace). The wait holds an ordering key, never a delivery
 * slot. `send` gets a key's items and answers one result per item; each caller's promise
 * settles with its own.
 */
class Batch<T, R> {
  private readonly pending = new Map<string, { items: T[]; settle: Array<[(r: R) => void, (err: unknown) => void]> }>();
  private scheduled = false;

  constructor(private readonly send: (items: T[]) => Promise<R[]>) {}

  add(key: string, item: T): Promise<R> {
    let b = this.pending.get(key);
    if (!b) this.pending.set(key, (b = { items: [], settle: [] }));
    b.items.push(item);
    if (!this.scheduled) {
      this.scheduled = true;
      setTimeout(() => this.flush(), BATCH_MS);
    }
    return new Promise((resolve, reject) => b.settle.push([resolve, reject]));
  }

  private flush(): void {
    this.scheduled = false;
    for (const b of this.pending.values()) {
      this.send(b.items).then(
        (results) => b.settle.forEach(([ok], i) => ok(results[i])),
        (err: unknown) => b.settle.forEach(([, fail]) => fail(err)),
      );
    }
    this.pending.clear();
  }
}

/** A delivered event to let go of: what releaseEvents takes for it. */
interface Release {
  src: Source;
  kind: Job['kind'];
  group: string;
  entry: string;
  order: string;
  eventId: string;
}

export class Retries {
  /** XACKs of delivered stream entries with no ordering key, per stream and group. */
  private readonly acks: Batch<{ stream: string; group: string; id: string }, void>;
  /** Everything else delivered, per outbox (releaseEvents). */
  private readonly releases: Batch<Release, number>;

  constructor(
    private readonly redis: RedisClient,
    private readonly config: WebhookConfig,
    private readonly clock: Clock,
    private readonly log: Logger,
    /** Milliseconds per unit of retrySchedule. */
    private readonly retryUnitMs: number,
  ) {
    this.acks = new Batch<{ stream: string; group: string; id: string }, void>(async (items) => {
      await this.redis.xack(items[0].stream, items[0].group, ...items.map((i) => i.id));
      return [];
    });
    const releaseEvents = scriptOf(redis, 'releaseEvents');
    this.releases = new Batch((items) => {
      const { src } = items[0];
      const args: Array<string | number> = [src.stream, src.retry, src.order, this.clock.now()];
      for (const i of items) args.push(i.kind, i.group, i.entry, i.order, i.eventId);
      return releaseEvents(...args) as Promise<number[]>;
    });
  }

  /**
   * Lets go of a delivered event; the next event of its key becomes due. Resolves to true
   * when that next event is waiting in the retry set now.
   */
  async release(job: Job, eventId: string): Promise<boolean> {
    if (job.kind === 'stream' && !job.order) {
      await this.acks.add(`${job.src.stream}\n${job.ep.group}`, { stream: job.src.stream, group: job.ep.group, id: job.id });
      return false;
    }
    const r: Release =
      job.kind === 'stream'
        ? { src: job.src, kind: 'stream', group: job.ep.group, entry: job.id, order: job.order ?? '', eventId }
        : { src: job.src, kind: 'retry', group: job.m.g, entry: job.member, order: job.order ?? '', eventId };
    return (await this.releases.add(job.src.stream, r)) === 2;
  }

  /**
   * A failed attempt: into the retry set, due after the schedule's next delay, or to the
   * dead letters after the last. Resolves to when the retry is due (null: dead).
   */
  async failed(job: Job & { ep: Endpoint }, eventId: string, attempt: number, error: string): Promise<number | null> {
    const schedule = this.config.retrySchedule;
    if (attempt - 1 >= schedule.length) {
      await this.toDead(job, attempt, error, job.ep.name);
      return null;
    }
    // ±20 % jitter spreads the retries of a burst that failed together.
    const delay = schedule[attempt - 1] * this.retryUnitMs * (0.8 + 0.4 * Math.random());
    const due = Math.round(this.clock.now() + delay);
    const raw = job.kind === 'stream' ? job.raw : job.m.e;
    const next: RetryMember = { g: job.ep.group, a: attempt + 1, e: raw, t: job.kind === 'stream' ? idMs(job.id) : job.m.t, ...(job.order ? { k: job.order } : {}) };
    if (job.kind === 'stream') await scriptOf(this.redis, 'scheduleRetry')(job.src.stream, job.src.retry, job.src.order, job.ep.group, job.id, due, JSON.stringify(next), job.order ?? '', eventId);
    else await scriptOf(this.redis, 'rescheduleRetry')(job.src.retry, job.member, due, JSON.stringify(next));
    return due;
  }

  /**
   * Into the partition's dead letters and let go, in one script: the next event of the key
   * goes on, so one that cannot be delivered holds up no other.
   */
  async toDead(job: Job, attempts: number, error: string, endpoint: string): Promise<void> {
    const group = job.kind === 'stream' ? job.ep.group : job.m.g;
    const letter: DeadLetter = {
      event: job.kind === 'stream' ? job.raw : job.m.e,
      group,
      endpoint,
      partition: job.src.partition,
      attempts: String(attempts),
      error,
      at: new Date(this.clock.now()).toISOString(),
    };
    const eventId = idOf(letter.event);
    await scriptOf(this.redis, 'deadLetter')(
      job.src.stream,
      job.src.retry,
      job.src.order,
      job.src.dead,
      job.kind,
      group,
      job.kind === 'stream' ? job.id : job.member,
      eventId ? (job.order ?? '') : '',
      this.clock.now(),
      eventId ?? '',
      DEAD_LETTERS_KEPT,
      ...Object.entries(letter).flat(),
    );
    webhookDeliveries.inc({ endpoint, result: 'dead' });
    webhookDeadLetters.inc({ endpoint });
    this.log.error({ code: 'WEBHOOK_DEAD', endpoint, eventId, attempts, err: error }, 'webhook event moved to the dead-letter stream');
  }
}
