/**
 * Durable on failover. Redis replicates asynchronously: a master that dies right after a
 * write can hand its slots to a replica that never saw it, and an acknowledged suppression
 * is gone while the sender, holding our 250, never retries. So a write the gateway
 * acknowledges is first confirmed by `WAIT <replicas> <timeout>` on the master that took it:
 * WAIT answers how many replicas hold every write made on that connection so far
 * (https://redis.io/docs/latest/commands/wait/).
 *
 * `durably(fn)` runs `fn` and notes the hash slot of every script it calls (call.ts); then it
 * sends WAIT to the master of each slot (the one connection, on a single Redis). Fewer
 * acknowledgements than `redis.waitReplicas` is STORE_NOT_REPLICATED: 451 / 503, retried.
 * WAIT is not a transaction: the write stays on the master (and reaches the replica later,
 * or not); the retry finds it by its fingerprint and counts nothing twice.
 */
import type { Cluster, Redis } from 'ioredis';
import { GatewayError } from '../errors.js';
import { notReplicated } from '../metrics.js';
import { storeCall, writesOf } from './call.js';
import { parseInfo } from './health.js';
import { slotOf } from './keys.js';
import type { RedisClient } from './redis.js';

export interface ReplicationOptions {
  /** Replicas that must acknowledge; null: 1 when the Redis has replicas at start, else 0. */
  replicas: number | null;
  timeoutMs: number;
}

/** Whether the Redis has replicas now: connected_slaves of a single Redis; a cluster's slot map. */
export async function hasReplicas(redis: RedisClient): Promise<boolean> {
  if ((redis as Cluster).isCluster) {
    const slots = (redis as Cluster).slots;
    // No slot map yet (not connected): unknown, not "none" — asked again on the next write.
    if (!slots.some(Boolean)) throw new Error("Cluster isn't ready: no slot map yet");
    return slots.some((nodes) => nodes && nodes.length > 1);
  }
  return Number(parseInfo(String(await redis.info('replication'))).get('connected_slaves') ?? 0) > 0;
}

export class Replication {
  private wanted: Promise<number> | null = null;
  /** The answer of `wanted` once known: lets durably() call its function without a wait first. */
  private known: number | null = null;

  constructor(
    private readonly redis: RedisClient,
    private readonly opts: ReplicationOptions,
  ) {}

  /** The replicas a write must reach: as configured, or found out once (retried while Redis is away). */
  replicas(): Promise<number> {
    if (this.opts.replicas !== null) return Promise.resolve(this.opts.replicas);
    this.wanted ??= storeCall('replicas', () => hasReplicas(this.redis)).then(
      (yes) => (this.known = yes ? 1 : 0),
      (err: unknown) => {
        this.wanted = null;
        throw err;
      },
    );
    return this.wanted;
  }

  /** Runs `fn`; resolves once what it wrote is on the replicas too, else STORE_NOT_REPLICATED. */
  async durably<T>(fn: () => Promise<T>): Promise<T> {
    // Once the count is known, fn starts in this tick: what it does before its first wait
    // (the SMTP path's parse) is measured as holding the loop (smtp/server.ts), as it does.
    const want = this.opts.replicas ?? this.known ?? (await this.replicas());
    if (want === 0) return fn();
    const { result, keys } = await writesOf(fn);
    if (keys.size > 0) await this.confirm(new Set([...keys].map(slotOf)), want);
    return result;
  }

  private async confirm(slots: Set<number>, want: number): Promise<void> {
    const acked = await storeCall('wait', () => Promise.all(this.mastersOf(slots).map((node) => node.call('WAIT', want, this.opts.timeoutMs) as Promise<number>)));
    if (Math.min(...acked) < want) {
      notReplicated.inc();
      throw new GatewayError('STORE_NOT_REPLICATED');
    }
  }

  /** The connections that took the writes: the one Redis, or the master of each slot. */
  private mastersOf(slots: Set<number>): Redis[] {
    const redis = this.redis;
    if (!(redis as Cluster).isCluster) return [redis as Redis];
    const cluster = redis as Cluster;
    const byKey = new Map(cluster.nodes('master').map((n) => [`${n.options.host}:${n.options.port}`, n]));
    const out = new Set<Redis>();
    for (const slot of slots) {
      const node = byKey.get(cluster.slots[slot]?.[0] ?? '');
      if (!node) throw new GatewayError('STORE_UNAVAILABLE', `no known master serves slot ${slot}`);
      out.add(node);
    }
    return [...out];
  }
}
