/**
 * The recent SMS sends index: for each recipient number, who texted it lately (account,
 * campaign, sender id or number, when). The platform reports each SMS it sends
 * (`POST /v1/events`, `{type: sent, channel: sms, recipient, sender}`); an SMS report or an
 * inbound STOP that names the number is traced through it to the account(s) that texted it.
 *
 * One list per number, newest first, at most `perNumber` entries, expiring `traceMs` after
 * its last send. An entry is `<at, seconds base36>|<account>|<campaign>|<sender>`: ids are
 * `[A-Za-z0-9._-]` and the route refuses `|` in a sender, so the split is unambiguous.
 * Measured memory per indexed send: see test/store/sms.test.ts and docs/integration.md.
 */
import { scriptOf, storeCall } from './call.js';
import type { Keys } from './keys.js';
import type { RedisClient } from './redis.js';

export interface SmsSend {
  recipient: string;
  account: string;
  campaign: string | null;
  sender: string | null;
  /** ms since the epoch. */
  at: number;
}

export type IndexedSend = Omit<SmsSend, 'recipient'>;

export interface SmsIndexOptions {
  traceMs: number;
  perNumber: number;
}

export function encodeSend(s: IndexedSend): string {
  return `${Math.floor(s.at / 1000).toString(36)}|${s.account}|${s.campaign ?? ''}|${s.sender ?? ''}`;
}

export function decodeSend(entry: string): IndexedSend | null {
  const [at, account, campaign, sender] = entry.split('|');
  if (!account || sender === undefined) return null;
  return { at: parseInt(at, 36) * 1000, account, campaign: campaign || null, sender: sender || null };
}

export class SmsIndex {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    readonly opts: SmsIndexOptions,
  ) {}


  /**
   * Indexes a batch of sends: one script call per number (each touches its own slot), all
   * written at once. Sends older than the window are not indexed.
   */
  async record(sends: readonly SmsSend[], now: number): Promise<void> {
    const byNumber = new Map<string, string[]>();
    const oldest = now - this.opts.traceMs;
    for (const s of [...sends].sort((a, b) => a.at - b.at)) {
      if (s.at < oldest) continue;
      const list = byNumber.get(s.recipient) ?? [];
      list.push(encodeSend(s));
      byNumber.set(s.recipient, list);
    }
    if (byNumber.size === 0) return;
    const script = scriptOf(this.redis, 'indexSmsSends');
    await storeCall('indexSmsSends', () =>
      Promise.all([...byNumber].map(([number, entries]) => script(this.keys.smsSends(number), this.opts.perNumber, this.opts.traceMs, ...entries.slice(-this.opts.perNumber)))),
    );
  }

  /** Sends to a number within the window, newest first. */
  async lookup(number: string, now: number): Promise<IndexedSend[]> {
    const raw = (await storeCall('smsLookup', () => this.redis.lrange(this.keys.smsSends(number), 0, -1))) as string[];
    const oldest = now - this.opts.traceMs;
    return raw.map(decodeSend).filter((s): s is IndexedSend => s !== null && s.at >= oldest);
  }
}
