/**
 * The delivery worker: reads every outbox stream (the partitions' and the cases') through
 * one Redis consumer group per endpoint, POSTs each event signed, and acknowledges it once
 * it is delivered, or safely kept in the retry set, or in the dead-letter stream.
 *
 * Guarantees: at least once per endpoint. A duplicate (a gateway died between the POST and
 * the acknowledgement, or a stalled one was overtaken) carries the same webhook-id and body.
 * In order per ordering key (the account; a case for case.* events) and endpoint: one
 * key's events go one at a time, and a later event waits while an earlier one is in retry
 * (admitEvent / releaseEvent keep the head and the waiting events in the partition's order
 * hash). Different keys are delivered concurrently.
 *
 * Every key one command touches lies in one slot, and every stream is read on its own, so
 * the worker runs unchanged on Redis Cluster. That rules out one blocking XREADGROUP over
 * all streams: the scripts that append events PUBLISH a wake-up, and the worker polls only
 * slowly (pollMs) in case one is lost.
 */
import { createHash, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { Cluster } from 'ioredis';
import { type Clock, systemClock } from '../clock.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { Keys } from '../store/keys.js';
import { type RedisClient, SCRIPT_VERSION } from '../store/redis.js';
import { outboxDepth, outboxOldestAge, webhookDeadLetters, webhookDeliveries, webhookDeliverySeconds } from './metrics.js';
import { createPoster, type PostOutcome, type Poster } from './post.js';
import { decodeSecrets, signedHeaders } from './sign.js';

export type WebhookConfig = Config['webhooks'];

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
  /** Consumer name in the groups; default host:pid:random, unique per process. */
  consumer?: string;
  /** The HTTP client (the benchmark shares one). */
  poster?: Poster;
}

export interface Endpoint {
  /** Metric label and log field: "default" or the index in webhooks.endpoints. */
  name: string;
  url: URL;
  keys: Buffer[];
  types: ReadonlySet<string> | null;
  /** Consumer group: derived from the URL, so reordering the list keeps each one's place. */
  group: string;
}

/** An outbox stream and the retry set in its slot. */
export interface Source {
  stream: string;
  retry: string;
  /** The order hash: per endpoint group and ordering key, the head and the events waiting. */
  order: string;
  /** Partition number, or "cases": recorded in dead letters so replay finds the retry set. */
  partition: string;
}

/** What the retry set holds: the event itself, so the stream entry can be trimmed. */
export interface RetryMember {
  /** Consumer group of the endpoint. */
  g: string;
  /** The attempt this member stands for (2 = first retry). */
  a: number;
  /** The event JSON, byte for byte as the outbox holds it (the signature covers it). */
  e: string;
  /** When the event entered the outbox, ms (for the oldest-age gauge). */
  t: number;
  /** Order field "<group>|<key>" when the event has an ordering key. */
  k?: string;
}

/** The fields of a dead-letter stream entry. */
export interface DeadLetter {
  event: string;
  group: string;
  endpoint: string;
  partition: string;
  attempts: string;
  error: string;
  at: string;
}

type Job =
  | { kind: 'stream'; src: Source; ep: Endpoint; id: string; raw: string; heldAt: number; order: string | null }
  | { kind: 'retry'; src: Source; ep: Endpoint | null; member: string; m: RetryMember; order: string | null; heldAt: number };

type Script = (...args: Array<string | number>) => Promise<unknown>;

const DEFAULT_ENDPOINT = 'default';
/** Events kept (about) per outbox while no endpoint is configured. */
const UNSENT_KEPT = 10_000;
/** Dead letters kept (about): a receiver gone for good must not fill Redis. */
const DEAD_LETTERS_KEPT = 100_000;

export function groupName(url: string): string {
  return 'wh:' + createHash('sha256').update(url).digest('hex').slice(0, 16);
}

/** webhooks.url + secret is an endpoint for every type; then each of webhooks.endpoints. */
export function endpointsOf(config: WebhookConfig, log?: Logger): Endpoint[] {
  const list: Array<{ name: string; url: string; secret: string; types: readonly string[] | null }> = [];
  if (config.url && config.secret) list.push({ name: DEFAULT_ENDPOINT, url: config.url, secret: config.secret, types: null });
  else if (config.url) log?.error({ code: 'WEBHOOK_NO_SECRET' }, 'webhooks.url is set without webhooks.secret: nothing is sent unsigned');
  config.endpoints.forEach((e, i) => list.push({ name: String(i), url: e.url, secret: e.secret, types: e.types }));
  const seen = new Map<string, number>();
  return list.map((e) => {
    const base = groupName(e.url);
    const n = (seen.get(base) ?? 0) + 1;
    seen.set(base, n);
    return {
      name: e.name,
      url: new URL(e.url),
      keys: decodeSecrets(e.secret),
      types: e.types ? new Set(e.types) : null,
      group: n === 1 ? base : `${base}~${n}`,
    };
  });
}

/** Every outbox with its retry set. */
export function sourcesOf(keys: Keys): Source[] {
  const out: Source[] = [];
  for (let p = 0; p < keys.partitions; p++) out.push({ stream: keys.outbox(p), retry: keys.outboxRetry(p), order: keys.outboxOrder(p), partition: String(p) });
  out.push({ stream: keys.cases.outbox, retry: keys.cases.outboxRetry, order: keys.cases.outboxOrder, partition: 'cases' });
  out.push({ stream: keys.global.outbox, retry: keys.global.outboxRetry, order: keys.global.outboxOrder, partition: 'global' });
  return out;
}


export function retryKeyOf(keys: Keys, partition: string): string | null {
  if (partition === 'cases') return keys.cases.outboxRetry;
  if (partition === 'global') return keys.global.outboxRetry;
  const p = Number(partition);
  return Number.isInteger(p) && p >= 0 && p < keys.partitions ? keys.outboxRetry(p) : null;
}

/** Stream ids start with the ms they were added at. */
function idMs(id: string): number {
  return Number(id.slice(0, id.indexOf('-')));
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

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
  private readonly byGroup = new Map<string, Endpoint>();
  private readonly queue: Job[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private readonly cursors = new Map<string, string>();
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
  private nextCleanup = 0;
  private lastRedisError = 0;

  constructor(private readonly deps: WorkerDeps) {
    this.clock = deps.clock ?? systemClock;
    this.retryUnitMs = deps.retryUnitMs ?? 1000;
    this.pollMs = deps.pollMs ?? 5000;
    this.maintenanceMs = deps.maintenanceMs ?? 5000;
    this.consumer = deps.consumer ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
    this.endpoints = endpointsOf(deps.config, deps.log);
    for (const ep of this.endpoints) this.byGroup.set(ep.group, ep);
    this.sources = sourcesOf(deps.keys);
    this.ownPoster = !deps.poster;
    this.poster = deps.poster ?? createPoster(deps.config.concurrency);
  }

  private get redis(): RedisClient {
    return this.deps.redis;
  }

  private script(name: string): Script {
    const fn = (this.redis as unknown as Record<string, Script>)[SCRIPT_VERSION + name];
    return fn.bind(this.redis);
  }

  start(): this {
    if (this.endpoints.length === 0) {
      this.deps.log.info({ code: 'WEBHOOKS_OFF' }, 'no webhook endpoint configured: events stay in the outbox');
    }
    if (this.endpoints.length > 0 && !this.subscriber) void this.subscribe();
    this.loop ??= this.run();
    return this;
  }

  /** Takes nothing new, waits for the deliveries in flight, hands back leased retries. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake();
    this.subscriber?.disconnect();
    await this.loop;
    await Promise.allSettled([...this.inFlight]);
    const leased = this.queue.filter((j): j is Extract<Job, { kind: 'retry' }> => j.kind === 'retry');
    this.queue.length = 0;
    const now = this.clock.now();
    await Promise.allSettled(leased.map((j) => this.redis.zadd(j.src.retry, 'XX', now, j.member)));
    if (this.ownPoster) this.poster.close();
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
        // Nobody reads the outboxes: keep the newest events (for an endpoint configured
        // later), never an unbounded stream.
        await this.guard(async () => void (await Promise.all(this.sources.map((src) => this.redis.xtrim(src.stream, 'MAXLEN', '~', UNSENT_KEPT)))));
        await this.guard(() => this.maintain());
        await this.nap(this.maintenanceMs);
      }
      return;
    }
    let idle = 10;
    while (!this.stopping) {
      let got = 0;
      const ok = await this.guard(async () => {
        if (!this.groupsReady) await this.createGroups();
        const now = this.clock.now();
        if (now >= this.nextMaintenance) {
          this.nextMaintenance = now + this.maintenanceMs;
          await this.maintain();
        }
        if (now >= this.nextClaim) {
          this.nextClaim = now + Math.max(250, Math.floor(this.deps.config.claimIdleMs / 2));
          got += await this.claimStale();
        }
        if (now >= this.nextRetryPoll) {
          // Half the shortest retry delay: a retry is late by at most that much.
          this.nextRetryPoll = now + Math.min(this.pollMs, (this.retryUnitMs * (this.deps.config.retrySchedule[0] ?? 1)) / 2);
          got += await this.takeRetries();
        }
        got += await this.readNew();
      });
      if (!ok) {
        await this.nap(1000);
        continue;
      }
      this.pump();
      if (this.stopping) break;
      if (this.inFlight.size >= this.deps.config.concurrency) {
        await this.nap(this.pollMs);
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

  /** A new group starts at the beginning: events written before it existed are sent too. */
  private async createGroups(): Promise<void> {
    await Promise.all(
      this.sources.flatMap((src) =>
        this.endpoints.map((ep) =>
          this.redis.xgroup('CREATE', src.stream, ep.group, '0', 'MKSTREAM').catch((err: Error) => {
            if (!/BUSYGROUP/.test(err.message)) throw err;
          }),
        ),
      ),
    );
    this.groupsReady = true;
  }

  private free(): number {
    return this.deps.config.concurrency - this.inFlight.size - this.queue.length;
  }

  private async readNew(): Promise<number> {
    const n = this.free();
    if (n <= 0) return 0;
    const replies = await Promise.all(
      this.sources.flatMap((src) =>
        this.endpoints.map(async (ep) => {
          const r = (await this.redis.xreadgroup('GROUP', ep.group, this.consumer, 'COUNT', n, 'STREAMS', src.stream, '>')) as
            | Array<[string, Array<[string, string[] | null]>]>
            | null;
          return { src, ep, entries: r?.[0]?.[1] ?? [] };
        }),
      ),
    );
    let got = 0;
    for (const { src, ep, entries } of replies) got += await this.accept(src, ep, entries);
    return got;
  }

  /** Entries a crashed or stalled gateway left pending longer than claimIdleMs. */
  private async claimStale(): Promise<number> {
    const n = Math.max(1, this.free());
    const replies = await Promise.all(
      this.sources.flatMap((src) =>
        this.endpoints.map(async (ep) => {
          const key = `${src.stream}\n${ep.group}`;
          const r = (await this.redis.xautoclaim(src.stream, ep.group, this.consumer, this.deps.config.claimIdleMs, this.cursors.get(key) ?? '0-0', 'COUNT', n)) as [
            string,
            Array<[string, string[] | null]>,
            string[]?,
          ];
          this.cursors.set(key, r[0]);
          // Entries trimmed while pending (not by us: we keep pending ones) cannot be sent.
          if (r[2]?.length) await this.redis.xack(src.stream, ep.group, ...r[2]);
          return { src, ep, entries: r[1] };
        }),
      ),
    );
    let got = 0;
    for (const { src, ep, entries } of replies) {
      if (entries.length) this.deps.log.info({ code: 'WEBHOOK_CLAIMED', endpoint: ep.name, count: entries.length }, 'took over pending webhook deliveries');
      got += await this.accept(src, ep, entries);
    }
    return got;
  }

  private async accept(src: Source, ep: Endpoint, entries: Array<[string, string[] | null]>): Promise<number> {
    const skip: string[] = [];
    let got = 0;
    const now = this.clock.now();
    for (const [id, fields] of entries) {
      const raw = fields ? fields[fields.indexOf('event') + 1] : undefined;
      if (raw === undefined || fields!.indexOf('event') < 0) {
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
      this.queue.push({ kind: 'stream', src, ep, id, raw, heldAt: now, order: key ? `${ep.group}|${key}` : null });
      got++;
    }
    // Types this endpoint does not want, and entries with no event: nothing to send.
    if (skip.length) await this.redis.xack(src.stream, ep.group, ...skip);
    return got;
  }

  private async takeRetries(): Promise<number> {
    const n = this.free();
    if (n <= 0) return 0;
    const now = this.clock.now();
    const lease = now + this.deps.config.claimIdleMs;
    const replies = await Promise.all(
      this.sources.map(async (src) => ({ src, members: (await this.script('claimRetries')(src.retry, now, lease, n)) as string[] })),
    );
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
        this.queue.push({ kind: 'retry', src, ep: this.byGroup.get(m.g) ?? null, member, m, order: m.k ?? null, heldAt: now });
        got++;
      }
    }
    return got;
  }

  /** Starts queued jobs, oldest first, skipping those whose ordering key has one in flight. */
  private pump(): void {
    for (let i = 0; !this.stopping && i < this.queue.length && this.inFlight.size < this.deps.config.concurrency; ) {
      const job = this.queue[i];
      if (job.order && this.active.has(job.order)) {
        i++;
        continue;
      }
      this.queue.splice(i, 1);
      const order = job.order;
      if (order) this.active.add(order);
      const p: Promise<void> = this.handle(job)
        .catch((err) => this.deps.log.warn({ code: 'WEBHOOK_REDIS_ERROR', err: errText(err) }, 'webhook outcome not recorded; it will be sent again'))
        .finally(() => {
          if (order) this.active.delete(order);
          this.inFlight.delete(p);
          this.wake();
        });
      this.inFlight.add(p);
    }
  }

  private async handle(job: Job): Promise<void> {
    const raw = job.kind === 'stream' ? job.raw : job.m.e;
    const attempt = job.kind === 'stream' ? 1 : job.m.a;
    const eventId = idOf(raw);
    if (!job.ep) return this.toDead(job, attempt, 'endpoint no longer configured', 'unknown');
    if (!eventId) return this.toDead(job, attempt, 'malformed event', job.ep.name);
    if (job.kind === 'stream' && job.order) {
      // Not the key's head: parked behind it (or another gateway has it).
      const next: RetryMember = { g: job.ep.group, a: 1, e: raw, t: idMs(job.id), k: job.order };
      const admitted = await this.script('admitEvent')(job.src.stream, job.src.order, job.ep.group, job.id, job.order, eventId, JSON.stringify(next));
      if (admitted !== 1) return;
    }
    const outcome = await this.send(job.ep, eventId, raw);
    webhookDeliveries.inc({ endpoint: job.ep.name, result: outcome.result });
    if (outcome.result === 'delivered') return this.release(job, eventId);
    const schedule = this.deps.config.retrySchedule;
    this.deps.log.debug({ code: 'WEBHOOK_FAILED', endpoint: job.ep.name, eventId, attempt, err: outcome.error }, 'webhook delivery failed');
    if (attempt - 1 >= schedule.length) return this.toDead(job, attempt, outcome.error, job.ep.name);
    // ±20 % jitter spreads the retries of a burst that failed together.
    const delay = schedule[attempt - 1] * this.retryUnitMs * (0.8 + 0.4 * Math.random());
    const due = Math.round(this.clock.now() + delay);
    const next: RetryMember = {
      g: job.ep.group,
      a: attempt + 1,
      e: raw,
      t: job.kind === 'stream' ? idMs(job.id) : job.m.t,
      ...(job.order ? { k: job.order } : {}),
    };
    if (job.kind === 'stream') await this.script('scheduleRetry')(job.src.stream, job.src.retry, job.src.order, job.ep.group, job.id, due, JSON.stringify(next), job.order ?? '', eventId);
    else await this.script('rescheduleRetry')(job.src.retry, job.member, due, JSON.stringify(next));
    // Our own retry is looked for when it is due, not only at the next slow poll.
    this.nextRetryPoll = Math.min(this.nextRetryPoll, due);
  }

  /** Lets go of a delivered (or dead) event; the next event of its key becomes due. */
  private async release(job: Job, eventId: string | null): Promise<void> {
    const group = job.kind === 'stream' ? job.ep.group : job.m.g;
    const order = eventId ? (job.order ?? '') : '';
    await this.script('releaseEvent')(
      job.src.stream,
      job.src.retry,
      job.src.order,
      job.kind,
      group,
      job.kind === 'stream' ? job.id : job.member,
      order,
      this.clock.now(),
      eventId ?? '',
    );
    if (order) this.nextRetryPoll = 0;
  }

  /** Dead letters are their own slot: add there first, then let go here (at least once). */
  private async toDead(job: Job, attempts: number, error: string, endpoint: string): Promise<void> {
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
    await this.redis.xadd(this.deps.keys.deadLetters(), 'MAXLEN', '~', DEAD_LETTERS_KEPT, '*', ...Object.entries(letter).flat());
    webhookDeliveries.inc({ endpoint, result: 'dead' });
    webhookDeadLetters.inc({ endpoint });
    // The next event of the key goes on: one that cannot be delivered holds up no other.
    await this.release(job, idOf(letter.event));
    this.deps.log.error(
      { code: 'WEBHOOK_DEAD', endpoint, eventId: idOf(letter.event), attempts, err: error },
      'webhook event moved to the dead-letter stream',
    );
  }

  private async send(ep: Endpoint, eventId: string, body: string): Promise<PostOutcome> {
    const headers = signedHeaders(ep.keys, eventId, Math.floor(this.clock.now() / 1000), body);
    const end = webhookDeliverySeconds.startTimer({ endpoint: ep.name });
    const outcome = await this.poster.post(ep.url, { ...headers }, body, this.deps.config.timeoutMs);
    end();
    return outcome;
  }

  /** Trims acknowledged entries, refreshes the gauges, keeps waiting entries ours. */
  private async maintain(): Promise<void> {
    const groups = this.endpoints.map((e) => e.group);
    const now = this.clock.now();
    const results = await Promise.all(
      this.sources.map(async (src) => {
        const [trim, card, members] = await Promise.all([
          groups.length ? (this.script('trimOutbox')(src.stream, ...groups) as Promise<[number, number, number]>) : Promise.resolve([0, 0, 0] as [number, number, number]),
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
    await this.touchWaiting(now);
    if (now >= this.nextCleanup) {
      this.nextCleanup = now + 600_000;
      await this.dropGoneConsumers();
    }
  }

  /**
   * Entries fetched but still waiting for a free slot would look abandoned after
   * claimIdleMs and be taken over by another gateway: claim them again (resets idle), and
   * push the lease of waiting retries further out. Those another gateway took meanwhile
   * are dropped from our queue.
   */
  private async touchWaiting(now: number): Promise<void> {
    const minIdle = Math.floor(this.deps.config.claimIdleMs / 3);
    const lost = new Set<Job>();
    for (const j of this.queue) {
      if (j.kind !== 'retry' || now - j.heldAt < minIdle) continue;
      // CH: 1 when the member is still there (its score changed), 0 when it is gone.
      if ((await this.redis.zadd(j.src.retry, 'XX', 'CH', now + this.deps.config.claimIdleMs, j.member)) === 1) j.heldAt = now;
      else lost.add(j);
    }
    const stale = this.queue.filter((j): j is Extract<Job, { kind: 'stream' }> => j.kind === 'stream' && now - j.heldAt >= minIdle);
    const byKey = new Map<string, Array<Extract<Job, { kind: 'stream' }>>>();
    for (const j of stale) {
      const k = `${j.src.stream}\n${j.ep.group}`;
      byKey.set(k, [...(byKey.get(k) ?? []), j]);
    }
    for (const jobs of byKey.values()) {
      const { src, ep } = jobs[0];
      const kept = new Set((await this.redis.call('XCLAIM', src.stream, ep.group, this.consumer, String(minIdle), ...jobs.map((j) => j.id), 'JUSTID')) as string[]);
      for (const j of jobs) {
        if (kept.has(j.id)) j.heldAt = now;
        else lost.add(j);
      }
    }
    if (lost.size) {
      const rest = this.queue.filter((j) => !lost.has(j));
      this.queue.length = 0;
      this.queue.push(...rest);
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

function parseEvent(raw: string): { id?: unknown; type?: unknown } | null {
  try {
    const v = JSON.parse(raw) as unknown;
    return v && typeof v === 'object' ? (v as { id?: unknown; type?: unknown }) : null;
  } catch {
    return null;
  }
}

function idOf(raw: string): string | null {
  const e = parseEvent(raw);
  return e && typeof e.id === 'string' && e.id ? e.id : null;
}

function typeOf(raw: string): string | null {
  const e = parseEvent(raw);
  return e && typeof e.type === 'string' ? e.type : null;
}
