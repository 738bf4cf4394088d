/**
 * Traffic from the sending MTA: sent counts feed the rate windows; delivered and engaged
 * events are about one recipient (they drive the soft-bounce rule).
 */
import { type Channel, normaliseAddress } from './address.js';
import type { Clock } from './clock.js';
import { GatewayError } from './errors.js';
import type { SmsIndex, SmsSend } from './store/sms.js';
import type { CountItem, Store } from './store/store.js';

export interface TrafficEvent {
  type: 'sent' | 'delivered' | 'engaged';
  account: string;
  campaign?: string;
  recipient?: string;
  channel?: Channel;
  count?: number;
  at?: string;
  /** SMS: the sender id or number it went out from. */
  sender?: string;
}

export class Traffic {
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly sms: SmsIndex | null = null,
  ) {}

  /** Applies a validated batch; one store call per account. */
  async record(events: TrafficEvent[], idempotencyKey: string | null): Promise<{ accepted: number; repeated: boolean }> {
    // Checked before anything is applied: a bad item rejects the whole batch.
    events.forEach((e, i) => {
      if (e.recipient !== undefined && !normaliseAddress(e.recipient, e.channel ?? 'email')) {
        throw new GatewayError('VALIDATION', `body/events/${i}/recipient is not a valid ${e.channel === 'sms' ? 'E.164 number' : 'address'}`);
      }
    });
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
    const marks = new Map<string, Array<{ address: string; type: 'delivered' | 'engaged' }>>();
    for (const e of events) {
      if (e.type === 'sent' || !e.recipient) continue;
      const address = normaliseAddress(e.recipient, e.channel ?? 'email');
      if (!address) continue;
      const list = marks.get(e.account) ?? [];
      list.push({ address, type: e.type });
      marks.set(e.account, list);
    }
    for (const [account, items] of marks) await this.store.markRecipients(account, items, now);
    // Each SMS sent to a named number goes into the recent-sends index (store/sms.ts); a
    // batch repeated under its idempotency key was indexed the first time.
    if (this.sms && !repeated) {
      const sends: SmsSend[] = [];
      for (const e of events) {
        if (e.type !== 'sent' || e.channel !== 'sms' || !e.recipient) continue;
        const recipient = normaliseAddress(e.recipient, 'sms');
        if (recipient) sends.push({ recipient, account: e.account, campaign: e.campaign ?? null, sender: e.sender ?? null, at: e.at ? Math.min(Date.parse(e.at), now) : now });
      }
      if (sends.length) await this.sms.record(sends, now);
    }
    return { accepted: events.length, repeated };
  }
}
