/** Received-report records and the quarantine of messages that could not be parsed. */
import { storeCall } from './call.js';
import { StorePart } from './part.js';

/** What we know about a message we accepted (issue: "received-report record"). */
export interface ReceivedReport {
  id: string;
  mailbox: string;
  kind: string;
  size: number;
  clientIp: string;
  helo: string;
  mailFrom: string;
  rcptTo: string[];
  arrivedAt: number;
  /** The message's content fingerprint: a redelivery of the message carries the same one. */
  fingerprint: string;
  outcome: 'parsed' | 'quarantined';
  error?: string;
  account?: string | null;
  campaign?: string | null;
  /** How the feedback report's sender was authenticated (fbl@ only). */
  reporterAuth?: { verdict: string; basis: string; dkimPass: string[]; spf: string; dmarc: string; fromDomain: string | null };
}

export interface QuarantineEntry {
  id: string;
  reason: string;
  mailbox: string;
  arrivedAt: number;
  size: number;
  /** The first bytes of the message, for the desk to look at. */
  head: string;
}

/**
 * The longest value a report record keeps in a field, in bytes. Redis keeps a hash whose
 * values all fit `hash-max-listpack-value` (64 by default) as one listpack, a few hundred
 * bytes for a record; a single longer value turns the whole hash into a hashtable, more
 * than twice as large (docs/operations.md, memory budget). Longer values (a HELO name, a
 * VERP recipient, a parse error) are cut: the record is a receipt, not the evidence.
 */
export const REPORT_VALUE_BYTES = 64;

function clip(v: string): string {
  if (Buffer.byteLength(v) <= REPORT_VALUE_BYTES) return v;
  // Cut at a character boundary: never half a UTF-8 sequence.
  return Buffer.from(v).subarray(0, REPORT_VALUE_BYTES).toString().replace(/\uFFFD$/, '');
}

/**
 * A report record as hash fields: flat, short values (no JSON), so the hash stays a listpack.
 * The reporter's authentication is six fields of its own (`auth*`), DKIM domains and
 * recipients space-separated.
 */
export function reportFields(r: ReceivedReport): string[] {
  const out: string[] = [];
  const put = (k: string, v: string | number | null | undefined) => {
    if (v !== undefined && v !== null && v !== '') out.push(k, clip(String(v)));
  };
  put('id', r.id);
  put('mailbox', r.mailbox);
  put('kind', r.kind);
  put('size', r.size);
  put('clientIp', r.clientIp);
  put('helo', r.helo);
  put('mailFrom', r.mailFrom);
  put('rcptTo', r.rcptTo.join(' '));
  put('arrivedAt', r.arrivedAt);
  put('fingerprint', r.fingerprint);
  put('outcome', r.outcome);
  put('error', r.error);
  put('account', r.account);
  put('campaign', r.campaign);
  const a = r.reporterAuth;
  if (a) {
    put('authVerdict', a.verdict);
    put('authBasis', a.basis);
    put('authDkim', a.dkimPass.join(' '));
    put('authSpf', a.spf);
    put('authDmarc', a.dmarc);
    put('authFrom', a.fromDomain);
  }
  return out;
}

/** reportFields read back. */
export function reportFromFields(h: Record<string, string>): ReceivedReport {
  return {
    id: h.id,
    mailbox: h.mailbox,
    kind: h.kind,
    size: Number(h.size ?? 0),
    clientIp: h.clientIp ?? '',
    helo: h.helo ?? '',
    mailFrom: h.mailFrom ?? '',
    rcptTo: h.rcptTo ? h.rcptTo.split(' ') : [],
    arrivedAt: Number(h.arrivedAt ?? 0),
    fingerprint: h.fingerprint,
    outcome: h.outcome === 'quarantined' ? 'quarantined' : 'parsed',
    ...(h.error ? { error: h.error } : {}),
    account: h.account ?? null,
    campaign: h.campaign ?? null,
    ...(h.authVerdict
      ? { reporterAuth: { verdict: h.authVerdict, basis: h.authBasis ?? '', dkimPass: h.authDkim ? h.authDkim.split(' ') : [], spf: h.authSpf ?? '', dmarc: h.authDmarc ?? '', fromDomain: h.authFrom ?? null } }
      : {}),
  };
}

export class Reports extends StorePart {
  /** Writes the record of a report about no account; resolves only once Redis has it. */
  async recordReport(r: ReceivedReport): Promise<boolean> {
    const fields = reportFields(r);
    const created = await storeCall('recordReport', () =>
      this.script('recordReport')(this.keys.report(r.id), this.opts.retentionMs, ...fields),
    );
    return created === 1;
  }

  async getReport(id: string): Promise<ReceivedReport | null> {
    const h = await storeCall('getReport', () => this.redis.hgetall(this.keys.report(id)));
    return h && Object.keys(h).length > 0 ? reportFromFields(h) : null;
  }

  async quarantine(e: QuarantineEntry): Promise<void> {
    await storeCall('quarantine', () =>
      this.script('quarantine')(this.keys.quarantine(), this.keys.quarantined(e.id), e.id, JSON.stringify(e), this.opts.quarantineKeep, this.opts.retentionMs),
    );
  }

  async listQuarantine(limit: number): Promise<QuarantineEntry[]> {
    const ids = await storeCall('listQuarantine', () => this.redis.lrange(this.keys.quarantine(), 0, limit - 1));
    if (ids.length === 0) return [];
    // One slot ({q}): one MGET on a Cluster too. Entries that expired are gone from the answer.
    const items = await storeCall('listQuarantine', () => this.redis.mget(...ids.map((id) => this.keys.quarantined(id))));
    return items.filter((s): s is string => s !== null).map((s) => JSON.parse(s) as QuarantineEntry);
  }
}
