/** The outboxes and the audit streams: what the platform is told, and what admins changed. */
import { storeCall, noteWrite } from './call.js';
import { StorePart } from './part.js';

export interface OutboxEvent {
  id: string;
  type: string;
  timestamp: string;
  data: Record<string, unknown>;
  /**
   * Number of the event within its ordering key (the account; a case for case.* events),
   * 1, 2, 3 … without gaps; added by the script that appends the event.
   */
  seq?: number;
}

/** Entries kept (about) per audit stream: months of admin changes, never unbounded. */
export const AUDIT_KEPT = 1_000_000;

export class Outbox extends StorePart {
  /** Events waiting in a partition's outbox (the delivery worker reads them in order). */
  async outboxEvents(partition: number, count = 1000): Promise<OutboxEvent[]> {
    const entries = await storeCall('outbox', () => this.redis.xrange(this.keys.outbox(partition), '-', '+', 'COUNT', count));
    return entries.map(([, f]) => JSON.parse(f[f.indexOf('event') + 1]) as OutboxEvent);
  }

  async audit(entry: Record<string, string>): Promise<void> {
    noteWrite(this.keys.audit());
    await storeCall('audit', () => this.redis.xadd(this.keys.audit(), 'MAXLEN', '~', AUDIT_KEPT, '*', ...Object.entries(entry).flat()));
  }

  /** The newest entries of every audit stream, newest first (entries are ordered by stream id). */
  async readAudit(count: number): Promise<Array<Record<string, string>>> {
    const streams = await storeCall('readAudit', () => Promise.all(this.keys.audits().map((key) => this.redis.xrevrange(key, '+', '-', 'COUNT', count))));
    const all = streams.flat();
    const ms = (id: string) => Number(id.slice(0, id.indexOf('-')));
    const sq = (id: string) => Number(id.slice(id.indexOf('-') + 1));
    all.sort(([a], [b]) => ms(b) - ms(a) || sq(b) - sq(a));
    return all.slice(0, count).map(([, f]) => Object.fromEntries(f.reduce<string[][]>((acc, v, i) => (i % 2 ? acc[acc.length - 1].push(v) : acc.push([v]), acc), [])));
  }
}
