/**
 * Traffic from the sending MTA: sent counts feed the rate windows; delivered and engaged
 * events are about one recipient (they drive the soft-bounce rule).
 */
import { type Channel } from './address.js';
import type { Clock } from './clock.js';
import type { CountItem, Store } from './store/store.js';

export interface TrafficEvent {
  type: 'sent' | 'delivered' | 'engaged';
  account: string;
  campaign?: string;
  recipient?: string;
  channel?: Channel;
  count?: number;
  at?: string;
}

export class Traffic {
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
  ) {}

  /** Applies a validated batch; one store call per account. */
  async record(events: TrafficEvent[], idempotencyKey: string | null): Promise<{ accepted: number; repeated: boolean }> {
    const now = this.clock.now();
    const byAccount = new Map<string, CountItem[]>();
    for (const e of events) {
      // A timestamp in the future (clock skew) counts now; one in the past, in its hour.
      const at = e.at ? Math.min(Date.parse(e.at), now) : now;
      const items = byAccount.get(e.account) ?? [];
      items.push({ channel: e.channel ?? 'email', at, campaign: e.campaign ?? null, counter: e.type === 'sent' ? 's' : e.type === 'delivered' ? 'd' : 'e', n: e.count ?? 1 });
      byAccount.set(e.account, items);
    }
    let repeated = false;
    for (const [account, items] of byAccount) {
      const counted = await this.store.count(account, items, idempotencyKey, now);
      if (!counted) repeated = true;
    }
    return { accepted: events.length, repeated };
  }
}
