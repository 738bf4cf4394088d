/**
 * The delivery worker: reads every outbox stream (the partitions' and the cases') through
 * one Redis consumer group per endpoint, POSTs each event signed, and acknowledges it once
 * it is delivered, or safely kept in the retry set, or in the dead-letter stream.
 *
 * Guarantees: at least once per endpoint. A duplicate (a gateway died between the POST and
 * the acknowledgement, or a stalled one was overtaken) carries the same webhook-id and body.
 * In order per ordering key (the account; a case for case.* events) and endpoint: one
 * key's events go one at a time, and a later event waits while an earlier one is in retry
 * (the scripts that read the outbox admit each entry, releaseEvents lets go of it; the head
 * and the waiting events are kept in the partition's order hash). Different keys are
 * delivered concurrently.
 *
 * Every key one command touches lies in one slot, and every stream is read on its own, so
 * the worker runs unchanged on Redis Cluster. That rules out one blocking XREADGROUP over
 * all streams: the scripts that append events PUBLISH a wake-up, and the worker polls only
 * slowly (pollMs) in case one is lost.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { Cluster } from 'ioredis';
import type client from 'prom-client';
import { type Clock, systemClock } from '../clock.js';
import type { Logger } from '../log.js';
import type { Keys } from '../store/keys.js';
import type { RedisClient } from '../store/redis.js';
import { type Endpoint, type Job, type Source, type StreamJob, type WebhookConfig, byStream, endpointsOf, errText, idOf, sourcesOf } from './endpoints.js';
import { Maintenance } from './maintenance.js';
import { webhookDeliveries, webhookDeliverySeconds } from './metrics.js';
import { createPoster, type PostOutcome, type Poster } from './post.js';
import { OutboxReader } from './reader.js';
import { Retries } from './retries.js';
import { signedHeaders } from './sign.js';

// What the worker's callers name with it (its configuration, the group of an endpoint URL).
export { type WebhookConfig, groupName } from './endpoints.js';

export interface WorkerDeps {
  redis: RedisClient;
  keys: Keys;
  config: WebhookConfig;
  log: Logger;
  clock?: Clock;
  /** Milliseconds per unit of retrySchedule: 1000 (seconds); tests shorten it. */
  retryUnitMs?: number;
  /** Longest wait between polls while the outbox is empty and no wake-up came (ms). */
  pollMs?: number;
  /** How often the outbox is trimmed and measured (ms). */
  maintenanceMs?: number;
  /** How long a delivered event may wait, while others are in flight, to share their release (ms; retries.ts BATCH_MS). */
  batchMs?: number;
  /** Consumer name in the groups; default host:pid:random, unique per process. */
  consumer?: string;
  /** The HTTP client (the benchmark shares one). */
  poster?: Poster;
}

interface Meters extends Partial<Record<PostOutcome['result'], client.Counter.Internal>> {
  seconds: client.Histogram.Internal<'endpoint'>;
}

/**
 * The loop: takes jobs from the reader (reader.ts) into a queue, runs up to `concurrency`
 * deliveries (post.ts, sign.ts) and hands each outcome to retries.ts; maintenance.ts
 * keeps the outboxes trimmed and measured.
 */
export class WebhookWorker {
  readonly consumer: string;
  readonly endpoints: Endpoint[];
  readonly sources: Source[];
  private readonly clock: Clock;
  private readonly retryUnitMs: number;
  private readonly pollMs: number;
  private readonly maintenanceMs: number;
  private readonly poster: Poster;
  private readonly ownPoster: boolean;
  private readonly reader: OutboxReader;
  private readonly retries: Retries;
  private readonly maintenance: Maintenance;
  private readonly queue: Job[] = [];
  /** The next read starts when the queue holds fewer jobs: half a full read (a batch per stream). */
  private readonly lowWater: number;
  /** POSTs waiting for their answer: at most `concurrency`. */
  private posting = 0;
  /** Deliveries not yet recorded (their POST may be answered already): stop() waits for them. */
  private running = 0;
  /** Settles when `running` drops to 0 (stop() waits for it). */
  private drained: { promise: Promise<void>; resolve: () => void } | null = null;
  private pumping = false;
  /** The last read found no new entry. */
  private outboxEmpty = false;
  private readonly meters = new Map<Endpoint, Meters>();
  /** Order fields with a delivery in flight here: the next event of the key waits for it. */
  private readonly active = new Set<string>();
  private subscriber: RedisClient | null = null;
  private stopping = false;
  private loop: Promise<void> | null = null;
  private wakeUp: (() => void) | null = null;
  private groupsReady = false;
  private nextClaim = 0;
  private nextRetryPoll = 0;
  private nextMaintenance = 0;
  private lastRedisError = 0;

  constructor(private readonly deps: WorkerDeps) {
    this.clock = deps.clock ?? systemClock;
    this.retryUnitMs = deps.retryUnitMs ?? 1000;
    this.pollMs = deps.pollMs ?? 5000;
    this.maintenanceMs = deps.maintenanceMs ?? 5000;
    this.consumer = deps.consumer ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
    this.endpoints = endpointsOf(deps.config, deps.log);
    this.sources = sourcesOf(deps.keys);
    this.ownPoster = !deps.poster;
    this.poster = deps.poster ?? createPoster(deps.config.concurrency);
    this.reader = new OutboxReader(deps.redis, this.consumer, this.sources, this.endpoints, deps.config, this.clock, deps.log);
    this.retries = new Retries(deps.redis, deps.config, this.clock, deps.log, this.retryUnitMs, () => this.posting > 0 && !this.stopping, deps.batchMs);
    this.lowWater = Math.max(1, Math.floor((this.sources.length * this.endpoints.length * deps.config.concurrency) / 2));
    this.maintenance = new Maintenance(deps.redis, this.consumer, this.sources, this.endpoints, deps.config, this.clock);
  }

  private get redis(): RedisClient {
    return this.deps.redis;
  }

  start(): this {
    if (this.endpoints.length === 0) {
      this.deps.log.info({ code: 'WEBHOOKS_OFF' }, 'no webhook endpoint configured: no events are written (a stream left from before is trimmed)');
    }
    if (this.endpoints.length > 0 && !this.subscriber) void this.subscribe();
    this.loop ??= this.run();
    return this;
  }

  /** Takes nothing new, waits for the deliveries in flight, hands back leased retries and read entries. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.retries.hurry();
    this.wake();
    this.subscriber?.disconnect();
    await this.loop;
    if (this.running > 0) {
      if (!this.drained) {
        let resolve!: () => void;
        const promise = new Promise<void>((r) => (resolve = r));
        this.drained = { promise, resolve };
      }
      await this.drained.promise;
    }
    const leased = this.queue.filter((j): j is Extract<Job, { kind: 'retry' }> => j.kind === 'retry');
    const read = this.queue.filter((j): j is StreamJob => j.kind === 'stream');
    this.queue.length = 0;
    const now = this.clock.now();
    await Promise.allSettled([...leased.map((j) => this.redis.zadd(j.src.retry, 'XX', now, j.member)), ...this.handBack(read)]);
    if (this.ownPoster) this.poster.close();
  }

  /**
   * Entries read but not sent are pending here, admitted as their keys' heads: their idle
   * time is set to claimIdleMs (XCLAIM … IDLE), so another gateway's XAUTOCLAIM takes them at
   * its next pass rather than claimIdleMs after this stop, and the accounts' later events,
   * which wait behind them, go on then too.
   */
  private handBack(jobs: StreamJob[]): Array<Promise<unknown>> {
    return byStream(jobs).map((js) =>
      this.redis.call('XCLAIM', js[0].src.stream, js[0].ep.group, this.consumer, '0', ...js.map((j) => j.id), 'IDLE', String(this.deps.config.claimIdleMs), 'JUSTID'),
    );
  }

  /**
   * Wake-ups: the scripts PUBLISH on the outbox channel when they append an event. A
   * connection of its own (a subscribed connection takes no other commands); when it is
   * down the worker still polls every pollMs.
   */
  private async subscribe(): Promise<void> {
    const sub: RedisClient = this.redis instanceof Cluster ? this.redis.duplicate() : this.redis.duplicate();
    this.subscriber = sub;
    sub.on('error', () => {});
    sub.on('message', () => this.wake());
    try {
      await sub.connect();
      await sub.subscribe(this.deps.keys.outboxWake());
    } catch (err) {
      if (!this.stopping) this.deps.log.warn({ code: 'WEBHOOK_REDIS_ERROR', err: errText(err) }, 'webhook worker: no wake-up subscription; polling only');
    }
  }

  private wake(): void {
    const w = this.wakeUp;
    this.wakeUp = null;
    w?.();
  }

  /** Sleeps up to ms, or until a delivery finishes or stop() is called. */
  private nap(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wakeUp = null;
        resolve();
      }, ms);
      this.wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private async run(): Promise<void> {
    if (this.endpoints.length === 0) {
      while (!this.stopping) {
        await this.guard(() => this.maintenance.trimUnsent());
        await this.guard(() => this.maintenance.run(this.queue));
        await this.nap(this.maintenanceMs);
      }
      return;
    }
    let idle = 10;
    while (!this.stopping) {
      let got = 0;
      const ok = await this.guard(async () => {
        if (!this.groupsReady) {
          await this.reader.createGroups();
          this.groupsReady = true;
        }
        const now = this.clock.now();
        if (now >= this.nextMaintenance) {
          this.nextMaintenance = now + this.maintenanceMs;
          await this.maintenance.run(this.queue);
        }
        // Entries left by a gateway gone, and due retries, join the queue whenever new entries
        // may (a batch per stream or retry set), so a backlog does not hold them back.
        if (now >= this.nextClaim && this.queue.length < this.lowWater) {
          this.nextClaim = now + Math.max(250, Math.floor(this.deps.config.claimIdleMs / 2));
          got += await this.reader.claimStale(this.deps.config.concurrency, this.queue);
        }
        if (now >= this.nextRetryPoll && this.queue.length < this.lowWater) {
          // Half the shortest retry delay: a retry is late by at most that much.
          this.nextRetryPoll = now + Math.min(this.pollMs, (this.retryUnitMs * (this.deps.config.retrySchedule[0] ?? 1)) / 2);
          got += await this.reader.takeRetries(this.deps.config.concurrency, this.queue);
        }
        // A full batch from each stream, not just the free slots: with ~66 streams a read is
        // ~66 commands, and reading one entry per slot cost a command per event (issue 19).
        // Read while half of the last read still waits: the POSTs do not wait for the read
        // (a script per stream, milliseconds in all). What waits in the queue is kept ours by
        // the maintenance (touchWaiting).
        if (this.queue.length < this.lowWater) {
          const n = await this.reader.readNew(this.deps.config.concurrency, this.queue);
          this.outboxEmpty = n === 0;
          got += n;
        }
      });
      if (!ok) {
        await this.nap(1000);
        continue;
      }
      this.pump();
      if (this.stopping) break;
      if (this.queue.length >= this.lowWater) {
        // Enough to send (finished deliveries start the next ones themselves): sleep until
        // the queue runs low (due claims and retries are taken then), or the next upkeep.
        const now = this.clock.now();
        await this.nap(Math.max(1, Math.min(now + this.pollMs, this.nextMaintenance) - now));
      } else if (got === 0) {
        await this.nap(idle);
        idle = Math.min(idle * 2, this.pollMs);
      } else {
        idle = 10;
      }
    }
  }

  /** Runs a Redis step; a failure is logged (at most every 10 s) and reported as false. */
  private async guard(step: () => Promise<void>): Promise<boolean> {
    try {
      await step();
      return true;
    } catch (err) {
      if (/NOGROUP/.test(errText(err))) this.groupsReady = false;
      const now = Date.now();
      if (now - this.lastRedisError > 10_000) {
        this.lastRedisError = now;
        this.deps.log.warn({ code: 'WEBHOOK_REDIS_ERROR', err: errText(err) }, 'webhook worker: redis step failed; retrying');
      }
      return false;
    }
  }

  /**
   * Starts queued jobs, oldest first, skipping those whose ordering key has one in flight.
   * A slot is free again once its POST is answered: recording the outcome (a script in the
   * outbox's slot, shared with the others of its turn) holds the ordering key, not the slot,
   * so the POSTs keep `concurrency` connections busy as a bare loop would.
   */
  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    for (let i = 0; !this.stopping && i < this.queue.length && this.posting < this.deps.config.concurrency; ) {
      const job = this.queue[i];
      if (job.order && this.active.has(job.order)) {
        i++;
        continue;
      }
      // shift() takes the head in constant time; splice() moves the whole queue (hundreds).
      if (i === 0) this.queue.shift();
      else this.queue.splice(i, 1);
      if (job.order) this.active.add(job.order);
      this.posting++;
      this.running++;
      void this.deliver(job);
    }
    this.pumping = false;
  }

  /** One job, from its POST to its recorded outcome. */
  private async deliver(job: Job): Promise<void> {
    const order = job.order;
    let answered = false;
    const slotFree = () => {
      if (answered) return;
      answered = true;
      this.posting--;
      this.pump();
      if (this.posting === 0) this.retries.hurry();
    };
    try {
      await this.handle(job, slotFree);
    } catch (err) {
      this.deps.log.warn({ code: 'WEBHOOK_REDIS_ERROR', err: errText(err) }, 'webhook outcome not recorded; it will be sent again');
    } finally {
      if (order) this.active.delete(order);
      slotFree();
      if (order) this.pump();
      if (--this.running === 0 && this.drained) {
        this.drained.resolve();
        this.drained = null;
      }
      // Time to read again, unless the last read found nothing (a new event PUBLISHes a
      // wake-up): a read is a script per stream.
      if (this.queue.length < this.lowWater && (!this.outboxEmpty || this.nextRetryPoll <= this.clock.now())) this.wake();
    }
  }

  /** One delivery attempt and its outcome; `answered` is called once the POST has its answer. */
  private async handle(job: Job, answered: () => void): Promise<void> {
    const raw = job.kind === 'stream' ? job.raw : job.m.e;
    const attempt = job.kind === 'stream' ? 1 : job.m.a;
    // A stream entry was admitted when it was read (lib/admit.lua): its event id came with it.
    const eventId = job.kind === 'stream' ? job.eventId : idOf(raw);
    if (!job.ep) return this.dead(job, attempt, 'endpoint no longer configured', 'unknown');
    if (!eventId) return this.dead(job, attempt, 'malformed event', job.ep.name);
    const outcome = await this.send(job.ep, eventId, raw);
    answered();
    if (outcome.result === 'delivered') {
      if (await this.retries.release(job, eventId)) this.nextRetryPoll = 0;
      return;
    }
    this.deps.log.debug({ code: 'WEBHOOK_FAILED', endpoint: job.ep.name, eventId, attempt, err: outcome.error }, 'webhook delivery failed');
    const due = await this.retries.failed(job as Job & { ep: Endpoint }, eventId, attempt, outcome.error);
    // Our own retry is looked for when it is due, not only at the next slow poll; a dead
    // one lets the next event of its key go now.
    this.nextRetryPoll = due === null ? (job.order ? 0 : this.nextRetryPoll) : Math.min(this.nextRetryPoll, due);
  }

  private async dead(job: Job, attempts: number, error: string, endpoint: string): Promise<void> {
    await this.retries.toDead(job, attempts, error, endpoint);
    if (job.order) this.nextRetryPoll = 0;
  }

  private async send(ep: Endpoint, eventId: string, body: string): Promise<PostOutcome> {
    const headers = signedHeaders(ep.keys, eventId, Math.floor(this.clock.now() / 1000), body);
    const m = this.metersOf(ep);
    const t0 = performance.now();
    const outcome = await this.poster.post(ep.url, headers, body, this.deps.config.timeoutMs);
    m.seconds.observe((performance.now() - t0) / 1000);
    (m[outcome.result] ??= webhookDeliveries.labels(ep.name, outcome.result)).inc();
    return outcome;
  }

  /** An endpoint's metric children, looked up once: labels() validates its arguments at every call. */
  private metersOf(ep: Endpoint): Meters {
    let m = this.meters.get(ep);
    if (!m) this.meters.set(ep, (m = { seconds: webhookDeliverySeconds.labels(ep.name) }));
    return m;
  }

}
