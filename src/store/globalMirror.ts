/**
 * The global suppression lists (email, sms), mirrored in this process for the single lookup
 * (GET /v1/suppressions/{account}/{address}, the MTA's question before every recipient):
 * one HGET per lookup instead of two (issue 19). The lists are the admins' (spam traps,
 * never-mail addresses): small, and rarely changed.
 *
 * Kept right by pub/sub: the one script that changes a global list (adminSuppression.lua)
 * PUBLISHes the channel and address on `keys.globalChanged()`; each gateway re-reads that
 * address. The mirror is used only while it is known to be whole:
 * - it is loaded (HSCAN) after the subscription is confirmed, so a change made during the
 *   load is either in what was read or announced after it, and the addresses announced
 *   during the load are re-read when it ends;
 * - while an announced address is being re-read, it is asked of Redis;
 * - when the subscribing connection drops (a change may go unheard), the mirror is dropped
 *   and every lookup asks Redis until it is subscribed and loaded again;
 * - a list longer than MIRROR_MAX entries is not mirrored (its lookups ask Redis).
 * A lookup made while a change is being written may see the list before it, as an HGET
 * made at that moment may.
 */
import { Cluster } from 'ioredis';
import type { Channel } from '../address.js';
import type { Logger } from '../log.js';
import type { Keys } from './keys.js';
import type { RedisClient } from './redis.js';

/** The most entries of one global list kept in memory (~200 bytes each). */
export const MIRROR_MAX = 50_000;
const CHANNELS: readonly Channel[] = ['email', 'sms'];
/** How long after a failed load the next is tried (ms). */
const RETRY_MS = 5_000;

export class GlobalMirror {
  /** Per channel: address → stored JSON; null while the mirror is not whole. */
  private lists: Map<Channel, Map<string, string>> | null = null;
  /** Announced changes not yet re-read, per "<channel>\n<address>" (announced during a load included). */
  private readonly stale = new Map<string, number>();
  private loading = false;
  private sub: RedisClient | null = null;
  private retry: NodeJS.Timeout | null = null;
  private stopped = false;
  /** Bumped whenever the mirror is dropped: a load or re-read begun before does not write. */
  private epoch = 0;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly log: Logger,
  ) {}

  /**
   * The stored JSON of the address on the channel's global list, null when it is not on it,
   * undefined when the mirror cannot say (ask Redis).
   */
  get(channel: Channel, address: string): string | null | undefined {
    if (!this.lists || (this.stale.size > 0 && this.stale.has(`${channel}\n${address}`))) return undefined;
    const list = this.lists.get(channel);
    return list ? (list.get(address) ?? null) : undefined;
  }

  /** Whether lookups are answered from memory now. */
  get whole(): boolean {
    return this.lists !== null;
  }

  start(): this {
    // (Two calls: the union of the two clients' duplicate() signatures is not callable.)
    const sub: RedisClient = this.redis instanceof Cluster ? this.redis.duplicate() : this.redis.duplicate();
    this.sub = sub;
    sub.on('error', () => {});
    sub.on('message', (_ch: string, msg: string) => this.changed(msg));
    // Whatever was announced while the connection was down is unheard: drop the mirror.
    sub.on('close', () => this.drop());
    sub.on('ready', () => void this.subscribeAndLoad());
    sub.connect().catch(() => {});
    return this;
  }

  stop(): void {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    this.drop();
    this.sub?.disconnect();
  }

  private drop(): void {
    this.epoch++;
    this.lists = null;
    this.stale.clear();
    this.loading = false;
  }

  private async subscribeAndLoad(): Promise<void> {
    if (this.stopped || this.loading) return;
    const epoch = ++this.epoch;
    this.loading = true;
    this.lists = null;
    try {
      await this.sub!.subscribe(this.keys.globalChanged());
      const lists = new Map<Channel, Map<string, string>>();
      for (const channel of CHANNELS) {
        const list = await this.read(channel);
        if (list) lists.set(channel, list);
      }
      if (epoch !== this.epoch) return;
      // Announced during the load: read again, now that the load is over.
      const announced = [...this.stale];
      for (const [key] of announced) await this.reread(key, lists);
      if (epoch !== this.epoch) return;
      for (const [key, n] of announced) this.settle(key, n);
      this.lists = lists;
      this.loading = false;
    } catch (err) {
      if (epoch !== this.epoch) return;
      this.loading = false;
      this.log.warn({ code: 'GLOBAL_MIRROR_FAILED', err: (err as Error).message }, 'global suppression list not mirrored; lookups ask Redis');
      if (!this.stopped) this.retry = setTimeout(() => void this.subscribeAndLoad(), RETRY_MS).unref();
    }
  }

  /** The whole list, or null when it is longer than MIRROR_MAX (not mirrored). */
  private async read(channel: Channel): Promise<Map<string, string> | null> {
    const key = this.keys.globalSuppressions(channel);
    if ((await this.redis.hlen(key)) > MIRROR_MAX) {
      this.log.info({ code: 'GLOBAL_MIRROR_SKIPPED', channel, max: MIRROR_MAX }, 'global suppression list too long to mirror; its lookups ask Redis');
      return null;
    }
    const list = new Map<string, string>();
    let cursor = '0';
    do {
      const [next, flat] = await this.redis.hscan(key, cursor, 'COUNT', 1000);
      for (let i = 0; i < flat.length; i += 2) list.set(flat[i], flat[i + 1]);
      cursor = next;
    } while (cursor !== '0');
    return list;
  }

  /** A change was announced: "<channel>\n<address>". */
  private changed(msg: string): void {
    const nl = msg.indexOf('\n');
    if (nl < 0 || !CHANNELS.includes(msg.slice(0, nl) as Channel)) return;
    this.stale.set(msg, (this.stale.get(msg) ?? 0) + 1);
    if (this.loading || !this.lists) return;
    const epoch = this.epoch;
    const lists = this.lists;
    // Re-reads of one address run in the order of their announcements (one connection):
    // the address is answered from memory again once the last one is back.
    this.reread(msg, lists).then(
      () => epoch === this.epoch && this.settle(msg, 1),
      // Not re-read: the mirror may be wrong about it; load it all again.
      () => epoch === this.epoch && (this.drop(), void this.subscribeAndLoad()),
    );
  }

  private settle(key: string, n: number): void {
    const left = (this.stale.get(key) ?? 0) - n;
    if (left > 0) this.stale.set(key, left);
    else this.stale.delete(key);
  }

  private async reread(key: string, lists: Map<Channel, Map<string, string>>): Promise<void> {
    const nl = key.indexOf('\n');
    const channel = key.slice(0, nl) as Channel;
    const address = key.slice(nl + 1);
    const list = lists.get(channel);
    if (!list) return; // not mirrored (too long)
    const v = await this.redis.hget(this.keys.globalSuppressions(channel), address);
    if (v === null) list.delete(address);
    else list.set(address, v);
  }
}
