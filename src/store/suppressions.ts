/** Suppression lists: an account's and the global one, their admin changes and lookups. */
import type { Channel } from '../address.js';
import { noteWrite, storeCall, storeFailed } from './call.js';
import { AUDIT_KEPT, type Outbox, type OutboxEvent } from './outbox.js';
import { StorePart, type StoreOptions } from './part.js';
import type { GlobalMirror } from './globalMirror.js';
import type { Keys } from './keys.js';
import type { RedisClient } from './redis.js';

export interface SuppressionRecord {
  reason: string;
  source: string;
  at: string;
  reportId?: string;
  feedbackType?: string;
  campaign?: string;
  status?: string;
  diagnostic?: string;
  by?: string;
  note?: string;
}

export class Suppressions extends StorePart {
  /** The global lists held in memory (the gateway sets it; without, both lists are read from Redis). */
  globalMirror: GlobalMirror | null = null;

  constructor(
    redis: RedisClient,
    keys: Keys,
    opts: StoreOptions,
    private readonly outbox: Outbox,
  ) {
    super(redis, keys, opts);
  }

  async getSuppression(account: string, channel: Channel, address: string): Promise<SuppressionRecord | null> {
    const v = await storeCall('getSuppression', () => this.redis.hget(this.keys.account(account).suppressions(channel), address));
    return v ? (JSON.parse(v) as SuppressionRecord) : null;
  }

  /**
   * One address's suppression, the account's list first, then the global list: the single
   * lookup's question (GET /v1/suppressions/{account}/{address}), asked by the MTA for every
   * recipient. One HGET when the gateway's mirror of the global list can answer for it,
   * else two (the two hashes are in different slots) sent in one write by
   * auto-pipelining; the stored JSON is returned unparsed with the list it came from, and no
   * async wrapper stands between the replies and the caller (each was a promise and a closure
   * per lookup, for the MTA's most frequent question).
   */
  suppressionOf(account: string, channel: Channel, address: string): Promise<{ json: string; scope: 'account' | 'global' } | null> {
    const own = this.redis.hget(this.keys.accountSuppressions(account, channel), address);
    // The gateway's mirror of the global list answers when it can (globalMirror.ts).
    const mirrored = this.globalMirror?.get(channel, address);
    const global = mirrored !== undefined ? mirrored : this.redis.hget(this.keys.globalSuppressions(channel), address);
    return Promise.all([own, global]).then(
      ([o, g]) => (o !== null ? { json: o, scope: 'account' as const } : g !== null ? { json: g, scope: 'global' as const } : null),
      (err: unknown) => storeFailed('suppressionOf', err),
    );
  }

  /**
   * Which of `addresses` are suppressed for the account or globally: one HMGET on the
   * account's hash and one on the global hash (two hash slots), whatever the count.
   */
  async checkSuppressions(account: string, channel: Channel, addresses: string[]): Promise<Array<(SuppressionRecord & { scope: 'account' | 'global' }) | null>> {
    if (addresses.length === 0) return [];
    const [own, global] = await storeCall('checkSuppressions', () =>
      Promise.all([this.redis.hmget(this.keys.account(account).suppressions(channel), ...addresses), this.redis.hmget(this.keys.globalSuppressions(channel), ...addresses)]),
    );
    return addresses.map((_, i) => {
      const v = own[i] ?? global[i];
      return v ? { ...(JSON.parse(v) as SuppressionRecord), scope: own[i] ? 'account' : 'global' } : null;
    });
  }

  /**
   * An admin's suppression (account or, with account null, global): the suppression, its
   * recipient.suppressed event and the audit entry in one script (one slot).
   */
  async addSuppressionManual(account: string | null, channel: Channel, address: string, rec: SuppressionRecord, event: OutboxEvent): Promise<boolean> {
    const audit = { action: 'suppression.add', account: account ?? '*', channel, address, reason: rec.reason, by: rec.by ?? '', note: rec.note ?? '', at: rec.at };
    return (await this.adminSuppression('add', account, channel, address, rec, event, audit)).changed;
  }

  /** Removes an admin's or any suppression, with its recipient.unsuppressed event and audit entry. */
  async removeSuppression(account: string | null, channel: Channel, address: string, event: OutboxEvent, by: string, note: string, at: string): Promise<SuppressionRecord | null> {
    const audit = { action: 'suppression.remove', account: account ?? '*', channel, address, by, note, at };
    const r = await this.adminSuppression('remove', account, channel, address, null, event, audit);
    return r.old ? (JSON.parse(r.old) as SuppressionRecord) : null;
  }

  private async adminSuppression(op: 'add' | 'remove', account: string | null, channel: Channel, address: string, rec: SuppressionRecord | null, event: OutboxEvent, audit: Record<string, string>): Promise<{ changed: boolean; old?: string }> {
    const k = account ? this.keys.account(account) : null;
    const g = this.keys.global;
    const raw = (await storeCall('adminSuppression', () =>
      this.script('adminSuppression')(
        k ? k.suppressions(channel) : this.keys.globalSuppressions(channel),
        k ? k.meta : g.meta,
        k ? k.outbox : g.outbox,
        k ? k.audit : g.audit,
        op,
        address,
        rec ? JSON.stringify(rec) : '',
        JSON.stringify(event),
        account ?? 'global',
        this.keys.outboxWake(),
        JSON.stringify(audit),
        AUDIT_KEPT,
        this.outboxFlag,
        k ? '' : this.keys.globalChanged(),
        channel,
      ),
    )) as string;
    return JSON.parse(raw) as { changed: boolean; old?: string };
  }

  /** One page of an account's (or the global) suppressions, cursor-paginated (HSCAN). */
  async listSuppressions(account: string | null, channel: Channel, cursor: string, count: number): Promise<{ cursor: string; items: Array<{ address: string } & SuppressionRecord> }> {
    const key = account ? this.keys.account(account).suppressions(channel) : this.keys.globalSuppressions(channel);
    const [next, flat] = await storeCall('listSuppressions', () => this.redis.hscan(key, cursor, 'COUNT', count));
    const items: Array<{ address: string } & SuppressionRecord> = [];
    for (let i = 0; i < flat.length; i += 2) items.push({ address: flat[i], ...(JSON.parse(flat[i + 1]) as SuppressionRecord) });
    return { cursor: next, items };
  }

  /**
   * Raw suppression lookups for a preflight chunk: one HMGET on the account's hash and one
   * on the global hash (two hash slots, two round trips pipelined), whatever the count.
   * Unlike checkSuppressions it reports both lists, so an address suppressed for the
   * account still counts as a global-list hit. Values are the stored JSON (null: absent).
   */
  async lookupSuppressions(account: string, channel: Channel, addresses: string[]): Promise<{ own: Array<string | null>; global: Array<string | null> }> {
    if (addresses.length === 0) return { own: [], global: [] };
    const [own, global] = await storeCall('lookupSuppressions', () =>
      Promise.all([this.redis.hmget(this.keys.account(account).suppressions(channel), ...addresses), this.redis.hmget(this.keys.globalSuppressions(channel), ...addresses)]),
    );
    return { own, global };
  }

  /**
   * Bulk import (a migration from another sender): each row keeps its own reason and date,
   * and an address already suppressed keeps its record (HSETNX). No events: the platform
   * sent the rows, it knows them. One audit entry for the whole import.
   */
  async importSuppressions(account: string | null, channel: Channel, rows: Array<{ address: string; rec: SuppressionRecord }>, by: string, at: string): Promise<{ added: number; exists: number }> {
    const key = account ? this.keys.account(account).suppressions(channel) : this.keys.globalSuppressions(channel);
    noteWrite(key);
    let added = 0;
    for (let i = 0; i < rows.length; i += 1000) {
      const pipe = this.redis.pipeline();
      for (const r of rows.slice(i, i + 1000)) pipe.hsetnx(key, r.address, JSON.stringify(r.rec));
      const res = (await storeCall('importSuppressions', () => pipe.exec())) ?? [];
      added += res.filter(([err, v]) => !err && v === 1).length;
    }
    await this.outbox.audit({ action: 'suppression.import', account: account ?? '*', channel, by, at, rows: String(rows.length), added: String(added) });
    return { added, exists: rows.length - added };
  }

  /**
   * Keeps a large preflight's suppressed entries for cursor fetches, with a TTL. Written
   * slice by slice (each serialised only when sent), so no second copy of the list is built.
   */
  async savePreflightSuppressed(preflightId: string, entries: readonly object[], ttlMs: number): Promise<void> {
    const key = this.keys.preflightSuppressed(preflightId);
    noteWrite(key);
    const SLICE = 10_000;
    for (let i = 0; i < entries.length; i += SLICE) {
      const values = entries.slice(i, i + SLICE).map((e) => JSON.stringify(e));
      // The TTL is set with the first slice: a write that fails halfway still expires.
      await storeCall('savePreflightSuppressed', async () => {
        if (i > 0) return void (await this.redis.rpush(key, ...values));
        const failed = (await this.redis.multi().del(key).rpush(key, ...values).pexpire(key, ttlMs).exec())?.find(([err]) => err);
        if (failed) throw failed[0];
      });
    }
  }

  /** One page of a kept preflight list; null when it is unknown or expired. */
  async preflightSuppressedPage(preflightId: string, offset: number, count: number): Promise<{ total: number; items: string[] } | null> {
    const key = this.keys.preflightSuppressed(preflightId);
    const [[, total], [, items]] = (await storeCall('preflightSuppressedPage', () => this.redis.multi().llen(key).lrange(key, offset, offset + count - 1).exec())) as [[unknown, number], [unknown, string[]]];
    return total > 0 ? { total, items } : null;
  }
}
