/** Abuse cases: reports grouped per account and campaign, worked by the desk. */
import type { AttachmentEvidence } from '../parse/report.js';
import { GatewayError } from '../errors.js';
import { newId } from '../ids.js';
import { noteWrite, storeCall } from './call.js';
import type { Outbox } from './outbox.js';
import { StorePart, type StoreOptions } from './part.js';
import type { Keys } from './keys.js';
import type { RedisClient } from './redis.js';

/** One report inside a case's evidence. */
export interface CaseReport {
  reportId: string;
  at: string;
  channel: 'email' | 'form' | 'sms';
  reporter: string | null;
  tokenState: string;
  headers?: Record<string, string>;
  phones?: string[];
  description?: string;
  recipient?: string;
  /** SMS: the sender id or number the reporter named. */
  sender?: string;
  /** Files the reporter attached: name, type, size, SHA-256 (never opened). */
  attachments?: AttachmentEvidence[];
  /** Domains of the links in the reported message. */
  linkDomains?: string[];
}

/** What a resolved case found: abuse confirmed, or the reports were unfounded. */
export type CaseOutcomeKind = 'confirmed' | 'unfounded';

export interface CaseRecord {
  id: string;
  status: 'open' | 'investigating' | 'resolved' | 'dismissed';
  /** Set on a resolved case (and only there). */
  outcome?: CaseOutcomeKind;
  channel: 'email' | 'form' | 'sms';
  reporter: string | null;
  account: string | null;
  campaign: string | null;
  createdAt: string;
  updatedAt: string;
  reportCount: number;
  suspicious: string[];
  /** high: alarming words or a doubtful account; the desk looks at these first. */
  priority?: 'high';
  reports: CaseReport[];
  notes: Array<{ at: string; by: string; text: string }>;
  history: Array<{ at: string; by: string; from: string; to: string }>;
  recipient?: string;
  /** SMS cases: how the account was found; with `candidates` when the number was texted by several (src/rules/smstrace.ts). */
  attribution?: { via: 'token' | 'number' | 'none'; candidates?: object[] };
}

/** Lua's cjson writes an empty array as {}: put the arrays back. */
function caseFromJson(raw: string): CaseRecord {
  const c = JSON.parse(raw) as CaseRecord;
  const arr = <T>(v: T[] | Record<string, never> | undefined): T[] => (Array.isArray(v) ? v : []);
  c.suspicious = arr(c.suspicious);
  c.reports = arr(c.reports).map((r) => ({ ...r, phones: arr(r.phones), attachments: arr(r.attachments), linkDomains: arr(r.linkDomains) }));
  c.notes = arr(c.notes);
  c.history = arr(c.history);
  return c;
}

export class Cases extends StorePart {
  constructor(
    redis: RedisClient,
    keys: Keys,
    opts: StoreOptions,
    private readonly outbox: Outbox,
  ) {
    super(redis, keys, opts);
  }

  /** Opens a case or joins the campaign's open one (retrying if the pointer moved). */
  async saveCase(c: CaseRecord, report: CaseReport, fingerprint: string, eventId: string, now: number, reportsKept: number): Promise<{ outcome: 'opened' | 'joined' | 'duplicate'; caseId: string; status: string }> {
    const ck = this.keys.cases;
    // Reports without an account or campaign never join: each is its own case.
    const pointer = c.account && c.campaign ? ck.open(c.account, c.campaign) : ck.open('-', c.id);
    for (let attempt = 0; attempt < 5; attempt++) {
      const current = (await storeCall('saveCase', () => this.redis.get(pointer))) ?? '';
      const raw = (await storeCall('saveCase', () =>
        this.script('saveCase')(pointer, ck.record(current || c.id), ck.all, ck.outbox, ck.seen(fingerprint), current, JSON.stringify(c), JSON.stringify(report), now, eventId, new Date(now).toISOString(), c.status, reportsKept, this.opts.dedupMs, this.keys.outboxWake(), this.outboxFlag),
      )) as string;
      const r = JSON.parse(raw) as { outcome: 'opened' | 'joined' | 'duplicate' | 'retry'; caseId: string; status?: string };
      if (r.outcome === 'duplicate') return { outcome: 'duplicate', caseId: r.caseId, status: (await this.getCase(r.caseId))?.status ?? 'open' };
      if (r.outcome !== 'retry') return { outcome: r.outcome, caseId: r.caseId, status: r.status! };
    }
    throw new GatewayError('STORE_UNAVAILABLE', 'case pointer kept moving');
  }

  async getCase(caseId: string): Promise<CaseRecord | null> {
    const raw = await storeCall('getCase', () => this.redis.hget(this.keys.cases.record(caseId), 'data'));
    return raw ? caseFromJson(raw) : null;
  }

  /** Newest first, after the case `before` (exclusive; null: from the newest); filtered by the caller. */
  async listCases(before: string | null, scan: number): Promise<CaseRecord[]> {
    const ids = await storeCall('listCases', () => this.redis.zrevrangebylex(this.keys.cases.all, before ? `(${before}` : '+', '-', 'LIMIT', 0, scan));
    if (ids.length === 0) return [];
    const pipe = this.redis.pipeline();
    for (const id of ids) pipe.hget(this.keys.cases.record(id), 'data');
    const rows = (await storeCall('listCases', () => pipe.exec())) ?? [];
    return rows.map(([, raw]) => (raw ? caseFromJson(raw as string) : null)).filter((c): c is CaseRecord => c !== null);
  }

  /**
   * Archives the resolved and dismissed cases last changed before `now - afterMs`: out of
   * the list of cases and the desk's assignments, their records expiring `afterMs` later
   * (archiveCase.lua). Only cases created before the cutoff can qualify: case ids are
   * time-ordered, so the scan stops there. Returns how many were archived.
   */
  async archiveCases(now: number, afterMs: number): Promise<number> {
    const ck = this.keys.cases;
    const cutoff = now - afterMs;
    const cutoffIso = new Date(cutoff).toISOString();
    const end = `(case_${newId(cutoff).slice(0, 10)}`;
    let from = '-';
    let archived = 0;
    for (;;) {
      const ids = await storeCall('archiveCases', () => this.redis.zrangebylex(ck.all, from, end, 'LIMIT', 0, 500));
      if (ids.length === 0) return archived;
      const done = (await storeCall('archiveCases', () => Promise.all(ids.map((id) => this.script('archiveCase')(ck.all, ck.record(id), id, cutoffIso, afterMs))))) as number[];
      const gone = ids.filter((_, i) => done[i] === 1);
      if (gone.length) await storeCall('archiveCases', () => this.redis.hdel(this.keys.desk.assignees, ...gone));
      archived += gone.length;
      from = `(${ids[ids.length - 1]}`;
    }
  }

  async updateCase(
    caseId: string,
    account: string | null,
    campaign: string | null,
    status: string | null,
    note: Record<string, string> | null,
    by: string,
    eventId: string,
    now: number,
    outcome: CaseOutcomeKind | null = null,
  ): Promise<CaseRecord | null> {
    const ck = this.keys.cases;
    const pointer = account && campaign ? ck.open(account, campaign) : ck.open('-', caseId);
    const raw = await storeCall('updateCase', () =>
      this.script('updateCase')(ck.record(caseId), pointer, ck.outbox, status ?? '', note ? JSON.stringify(note) : '', eventId, new Date(now).toISOString(), by, this.keys.outboxWake(), outcome ?? '', this.outboxFlag),
    );
    await this.outbox.audit({ action: 'case.update', caseId, by, status: status ?? '', ...(outcome ? { outcome } : {}), note: note?.text ?? '', at: new Date(now).toISOString() });
    const c = raw ? caseFromJson(raw as string) : null;
    // The account's confirmed cases follow the case (another slot, so a second step): a
    // set, so resolving again counts once, and a step lost to a crash is made good by
    // resolving again.
    if (c?.account && (status || outcome)) {
      const key = this.keys.account(c.account).confirmedCases;
      const confirmed = c.status === 'resolved' && c.outcome === 'confirmed';
      noteWrite(key);
      await storeCall('updateCase', () => (confirmed ? this.redis.sadd(key, c.id) : this.redis.srem(key, c.id)));
    }
    return c;
  }

  /** The account's cases resolved as confirmed abuse (ids, oldest first). */
  async confirmedCases(account: string): Promise<string[]> {
    const ids = await storeCall('confirmedCases', () => this.redis.smembers(this.keys.account(account).confirmedCases));
    return ids.sort();
  }
}
