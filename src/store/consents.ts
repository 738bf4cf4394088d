/**
 * Consent proofs in the account's `consents` hash. Two kinds, in fields of their own so
 * that a claim can never overwrite a witnessed proof:
 *  - `<channel>|<address>`: what the platform states (POST /v1/consents), a claim;
 *  - `w|<channel>|<address>`: a double opt-in confirmation we witnessed (POST /c/{token}).
 */
import type { Channel } from '../address.js';
import { scriptOf, storeCall } from './call.js';
import type { Keys } from './keys.js';
import type { RedisClient } from './redis.js';
import type { OutboxEvent, OutboxFlag } from './store.js';

export class ConsentStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    /** The main store's (Store.outboxFlag): no endpoint, no event written. */
    private readonly outboxFlag: OutboxFlag,
  ) {}


  /** True when recorded now, false when this request had been confirmed already. */
  async confirm(account: string, channel: Channel, address: string, requestId: string, proof: Record<string, unknown>, event: OutboxEvent): Promise<boolean> {
    const k = this.keys.account(account);
    const script = scriptOf(this.redis, 'confirmConsent');
    return (await storeCall('confirmConsent', () => script(k.consents, k.meta, k.outbox, `w|${channel}|${address}`, JSON.stringify(proof), requestId, JSON.stringify(event), account, this.keys.outboxWake(), this.outboxFlag))) === 1;
  }

  /** The witnessed proof and the platform's claim. */
  async get(account: string, channel: Channel, address: string): Promise<{ witnessed: Record<string, unknown> | null; claimed: Record<string, unknown> | null }> {
    const [w, c] = await storeCall('getConsent', () => this.redis.hmget(this.keys.account(account).consents, `w|${channel}|${address}`, `${channel}|${address}`));
    return { witnessed: w ? (JSON.parse(w) as Record<string, unknown>) : null, claimed: c ? (JSON.parse(c) as Record<string, unknown>) : null };
  }

  /** For each address, whether a witnessed confirmation is on record (preflight). */
  async witnessed(account: string, channel: Channel, addresses: string[]): Promise<boolean[]> {
    if (addresses.length === 0) return [];
    const v = await storeCall('witnessedConsents', () => this.redis.hmget(this.keys.account(account).consents, ...addresses.map((a) => `w|${channel}|${a}`)));
    return v.map((x) => x !== null);
  }
}
