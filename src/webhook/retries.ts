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

/**
 * How long a finished delivery may wait for others to share its command (ms), while other
 * POSTs are in flight; with none in flight it goes at the end of the turn. At the
 * benchmark's pace (~8,000 events/s over 64 outboxes) 2 ms gathered one delivery per
 * outbox, so nearly every event still cost a script call (a Command, its write, its reply,
 * its timer); 30 ms gather ~4, and the worker's CPU per event went from 154–164 µs to
 * 133–137 (`node scripts/bench-webhooks.mjs`, docs/benchmarks.md). The wait holds only
 * the event's ordering key: the next event of that account goes up to this much later,
 * and only while the worker is busy with others.
 */
export const BATCH_MS = 30;

/**
 * Work that finished close together, gathered per key and sent as one command (issue 19).
 * `busy` says whether more is on its way (POSTs in flight): then a batch waits up to
 * BATCH_MS for it; otherwise it goes at the end of the turn, so a lone delivery — an
 * account's burst of events, sent one after the other — is not held. `send` gets a key's
 * items and answers one result per item; each caller's promise settles with its own.
 */
class Batch<T, R> {
  private readonly pending = new Map<string, { items: T[]; settle: Array<[(r: R) => void, (err: unknown) => void]> }>();
  private timer: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;

  constructor(
    private readonly send: (items: T[]) => Promise<R[]>,
    private readonly busy: () => boolean,
    private readonly waitMs: number,
  ) {}

  add(key: string, item: T): Promise<R> {
    let b = this.pending.get(key);
    if (!b) this.pending.set(key, (b = { items: [], settle: [] }));
    b.items.push(item);
    if (!this.busy()) this.hurry();
    else if (!this.timer && !this.immediate) this.timer = setTimeout(() => this.flush(), this.waitMs);
    return new Promise((resolve, reject) => b.settle.push([resolve, reject]));
  }

  /** Sends what waits at the end of this turn: nothing more is coming soon. */
  hurry(): void {
    if (this.immediate || this.pending.size === 0) return;
    if (this.timer) clearTimeout(this.timer), (this.timer = null);
    this.immediate = setImmediate(() => this.flush());
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer), (this.timer = null);
    this.immediate = null;
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
    /** Whether other deliveries are in flight (a finished one may then wait for them: Batch). */
    busy: () => boolean = () => false,
    /** How long it may wait for them (ms). */
    batchMs = BATCH_MS,
  ) {
    this.acks = new Batch<{ stream: string; group: string; id: string }, void>(async (items) => {
      await this.redis.xack(items[0].stream, items[0].group, ...items.map((i) => i.id));
      return [];
    }, busy, batchMs);
    const releaseEvents = scriptOf(redis, 'releaseEvents');
    this.releases = new Batch((items) => {
      const { src } = items[0];
      const args: Array<string | number> = [src.stream, src.retry, src.order, this.clock.now()];
      for (const i of items) args.push(i.kind, i.group, i.entry, i.order, i.eventId);
      return releaseEvents(...args) as Promise<number[]>;
    }, busy, batchMs);
  }

  /** The last delivery in flight has its answer: what waits to be let go goes now. */
  hurry(): void {
    this.acks.hurry();
    this.releases.hurry();
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
