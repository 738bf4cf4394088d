/** Redis side of account vetting: the history per account and the sign-up index. */
import { noteWrite, scriptOf, storeCall } from './call.js';
import type { Keys } from './keys.js';
import type { RedisClient } from './redis.js';
import type { OutboxEvent, OutboxFlag } from './store.js';

export type IndexKind = 'email' | 'domain' | 'net';

export class VettingStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    /** outboxFlag: the main store's (Store.outboxFlag). */
    private readonly opts: { kept: number; indexTtlMs: number; outboxFlag: OutboxFlag },
  ) {}


  async record(account: string, result: { decision: string; score: number }, event: OutboxEvent): Promise<void> {
    const k = this.keys.account(account);
    const script = scriptOf(this.redis, 'recordVetting');
    await storeCall('recordVetting', () => script(k.vetting, k.meta, k.outbox, JSON.stringify(result), JSON.stringify(event), this.opts.kept, result.decision, result.score, account, this.keys.outboxWake(), this.opts.outboxFlag));
  }

  /** Newest first. */
  async history<T>(account: string, limit: number): Promise<T[]> {
    const rows = await storeCall('vettingHistory', () => this.redis.lrange(this.keys.account(account).vetting, 0, limit - 1));
    return rows.map((r) => JSON.parse(r) as T);
  }

  /** Remembers what the account signed up with (each set expires indexTtlMs after its last addition). */
  async index(account: string, entries: Array<[IndexKind, string]>): Promise<void> {
    await storeCall('vettingIndex', async () => {
      const m = this.redis.multi();
      for (const [kind, value] of entries) {
        const key = this.keys.vettingIndex(kind, value);
        noteWrite(key);
        m.sadd(key, account).pexpire(key, this.opts.indexTtlMs);
      }
      await m.exec();
    });
  }

  /** Other accounts that signed up with the same value, at most `limit` of them. */
  async linked(kind: IndexKind, value: string, account: string, limit: number): Promise<string[]> {
    const members = await storeCall('vettingLinked', () => this.redis.srandmember(this.keys.vettingIndex(kind, value), limit + 1));
    return members.filter((m) => m !== account).slice(0, limit);
  }

  /** Which of the accounts are suspended now. */
  async suspended(accounts: string[]): Promise<string[]> {
    const flags = await storeCall('vettingSuspended', () => Promise.all(accounts.map((a) => this.redis.hget(this.keys.account(a).meta, 'suspended'))));
    return accounts.filter((_, i) => flags[i] === '1');
  }
}
