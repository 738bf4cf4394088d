/**
 * What becomes of an event after a delivery attempt: let go once delivered, kept in the
 * partition's retry set when it failed, moved to the partition's dead letters when its
 * retries are spent. Each is one script in the outbox's slot (or one XACK), so an event is
 * never lost between two writes nor sent by two paths.
 */
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import { scriptOf } from '../store/call.js';
import type { RedisClient } from '../store/redis.js';
import { DEAD_LETTERS_KEPT, type DeadLetter, type Endpoint, type Job, type RetryMember, type WebhookConfig, idMs, idOf } from './endpoints.js';
import { webhookDeadLetters, webhookDeliveries } from './metrics.js';

/**
 * XACKs of delivered events that have no ordering key: those finished in the same turn of
 * the event loop go as one XACK per stream and group (issue 19: a script call per event
 * was a round trip and a script run per delivery). The promise settles when the XACK has.
 */
class AckBatch {
  private readonly pending = new Map<string, { stream: string; group: string; ids: string[]; settle: Array<[() => void, (err: unknown) => void]> }>();
  private scheduled = false;

  constructor(private readonly redis: RedisClient) {}

  ack(stream: string, group: string, id: string): Promise<void> {
    const key = `${stream}\n${group}`;
    let b = this.pending.get(key);
    if (!b) this.pending.set(key, (b = { stream, group, ids: [], settle: [] }));
    b.ids.push(id);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
    return new Promise((resolve, reject) => b.settle.push([resolve, reject]));
  }

  private flush(): void {
    this.scheduled = false;
    for (const b of this.pending.values()) {
      this.redis.xack(b.stream, b.group, ...b.ids).then(
        () => b.settle.forEach(([ok]) => ok()),
        (err: unknown) => b.settle.forEach(([, fail]) => fail(err)),
      );
    }
    this.pending.clear();
  }
}

export class Retries {
  private readonly acks: AckBatch;

  constructor(
    private readonly redis: RedisClient,
    private readonly config: WebhookConfig,
    private readonly clock: Clock,
    private readonly log: Logger,
    /** Milliseconds per unit of retrySchedule. */
    private readonly retryUnitMs: number,
  ) {
    this.acks = new AckBatch(redis);
  }

  /**
   * Lets go of a delivered event; the next event of its key becomes due. Resolves to true
   * when that next event is waiting in the retry set now.
   */
  async release(job: Job, eventId: string): Promise<boolean> {
    if (job.kind === 'stream' && !job.order) {
      await this.acks.ack(job.src.stream, job.ep.group, job.id);
      return false;
    }
    const group = job.kind === 'stream' ? job.ep.group : job.m.g;
    const order = job.order ?? '';
    await scriptOf(this.redis, 'releaseEvent')(job.src.stream, job.src.retry, job.src.order, job.kind, group, job.kind === 'stream' ? job.id : job.member, order, this.clock.now(), eventId);
    return order !== '';
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
