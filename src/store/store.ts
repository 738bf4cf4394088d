/**
 * Typed operations on the state kept in Redis. Callers never see key names or Redis
 * errors: Redis being unreachable or busy becomes STORE_UNAVAILABLE (451 / 503), or
 * STORE_NOT_PERSISTING / STORE_OUT_OF_MEMORY when it refuses a write for lack of disk or
 * memory (452 / 503); any other failure is a bug and becomes INTERNAL_FAULT, which the
 * edges log with its stack.
 */
import type { ReporterSighting } from '../rules/evidence.js';
import { GatewayError } from '../errors.js';
import { newId } from '../ids.js';
import type { Channel } from '../address.js';
import type { AttachmentEvidence } from '../parse/report.js';
import type { Pool, WindowFigures } from '../rules/policy.js';
import { type Script, scriptOf, storeCall } from './call.js';
import type { Keys } from './keys.js';
import type { RedisClient } from './redis.js';

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

export interface StoreOptions {
  retentionMs: number;
  quarantineKeep: number;
  /** Rolling windows, e.g. [{name: '24h', hours: 24}, {name: '7d', hours: 168}]. */
  windows: ReadonlyArray<{ name: string; hours: number }>;
  /** How long a report's fingerprint is remembered to drop duplicates. */
  dedupMs: number;
  /** How long warnings count (the warning window) and are kept. */
  warningWindowMs: number;
}

/** Counter letters in the hour buckets (src/store/lua/lib/windows.lua lists them too, to drop old hours). */
export type Counter =
  | 's' // sent
  | 'd' // delivered
  | 'c' // complaint that counts toward the rates
  | 'u' // complaint from an unverified reporter: recorded, not counted toward the rates
  | 'a' // auth-failure report (RFC 6591)
  | 'h' // hard bounce
  | 'f' // soft bounce
  | 'e'; // engaged (opens, clicks)

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

export interface EffectInput {
  account: string;
  channel: Channel;
  campaign: string | null;
  /** Normalised address or phone number; null when the report names none. */
  address: string | null;
  counter: Counter | null;
  suppression: SuppressionRecord | null;
  /** The event announcing a new suppression (written only when it is new). */
  event: OutboxEvent | null;
  /** Stable fingerprint of the report, so a redelivery counts once; null: no dedup. */
  fingerprint: string | null;
  reportId: string | null;
  now: number;
  /** Soft bounce: the suppression applies only at the Nth consecutive one (7, or 15 engaged). */
  softLimits?: { unengaged: number; engaged: number; idleMs: number };
}

export interface AccountFigures {
  duplicate: boolean;
  newlySuppressed: boolean;
  suspended: boolean;
  pool: Pool;
  lastWarnAt: number;
  warnings: number;
  /** The recipient's consecutive soft bounces after this one (0 when not counted). */
  softCount: number;
  windows: WindowFigures[];
}

export interface DecisionInput {
  account: string;
  action: 'warn' | 'suspend';
  now: number;
  cooldownMs: number;
  suspendAfter: number;
  /** Reason recorded for a direct suspension. */
  reason: string;
  channel: Channel;
  /** Counter whose per-campaign figures are the evidence. */
  counter: Counter;
  windowHours: number;
  warnEventId: string;
  suspendEventId: string;
  data: Record<string, unknown>;
}

export interface CountItem {
  channel: Channel;
  at: number;
  campaign: string | null;
  counter: Counter;
  n: number;
}

const HOUR = 3_600_000;
/** Entries kept (about) per audit stream: months of admin changes, never unbounded. */
const AUDIT_KEPT = 1_000_000;

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
  /** Files the reporter attached, as evidence (name, type, size, SHA-256); never the content. */
  attachments?: AttachmentEvidence[];
  /** Domains the reported message links to. */
  linkDomains?: string[];
}

export interface CaseRecord {
  id: string;
  status: 'open' | 'investigating' | 'resolved' | 'dismissed';
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
  c.reports = arr(c.reports).map((r) => ({ ...r, phones: arr(r.phones) }));
  c.notes = arr(c.notes);
  c.history = arr(c.history);
  return c;
}


export class Store {
  constructor(
    readonly redis: RedisClient,
    readonly keys: Keys,
    private readonly opts: StoreOptions,
  ) {}

  private script(name: string): Script {
    return scriptOf(this.redis, name);
  }


  /** Writes the received-report record; resolves only once Redis has it. */
  async recordReport(r: ReceivedReport): Promise<boolean> {
    const fields: string[] = [];
    for (const [k, v] of Object.entries(r)) {
      if (v === undefined || v === null) continue;
      fields.push(k, typeof v === 'string' ? v : JSON.stringify(v));
    }
    const created = await storeCall('recordReport', () =>
      this.script('recordReport')(this.keys.report(r.id), this.opts.retentionMs, ...fields),
    );
    return created === 1;
  }

  private get maxHours(): number {
    return Math.max(...this.opts.windows.map((w) => w.hours));
  }

  /** The windows' lengths as the scripts take them, "24,168". */
  private get windowSpec(): string {
    return this.opts.windows.map((w) => w.hours).join(',');
  }

  private get bucketTtlMs(): number {
    return (this.maxHours + 24) * HOUR;
  }

  /** Dedup, suppression (+ event), counting and evidence of one report, in one step. */
  async recordEffect(e: EffectInput): Promise<AccountFigures> {
    const k = this.keys.account(e.account);
    const input = {
      now: e.now,
      dedupMs: e.fingerprint ? this.opts.dedupMs : 0,
      channel: e.channel,
      hour: Math.floor(e.now / HOUR),
      counter: e.counter ?? '',
      campaign: e.campaign ?? '',
      address: e.address ?? '',
      suppression: e.suppression ? JSON.stringify(e.suppression) : '',
      event: e.event ? JSON.stringify(e.event) : '',
      reportId: e.reportId ?? '',
      bucketTtlMs: this.bucketTtlMs,
      windows: this.windowSpec,
      warningsSince: e.now - this.opts.warningWindowMs,
      softLimits: e.softLimits ? `${e.softLimits.unengaged},${e.softLimits.engaged}` : '',
      softIdleMs: e.softLimits?.idleMs ?? 0,
      account: e.account,
      wake: this.keys.outboxWake(),
    };
    const raw = (await storeCall('recordEffect', () =>
      this.script('recordEffect')(
        k.dedup(e.fingerprint ?? '-'),
        k.suppressions(e.channel),
        k.meta,
        k.windows,
        k.campaigns,
        k.samples,
        k.outbox,
        k.warnings,
        k.softBounces(e.address ?? '-'),
        k.engaged,
        JSON.stringify(input),
      ),
    )) as string;
    const r = JSON.parse(raw) as Omit<AccountFigures, 'pool' | 'windows'> & { pool: string; windows: Array<{ sent: number; complaints: number; hardBounces: number }> | Record<string, never> };
    const figures = Array.isArray(r.windows) ? r.windows : [];
    return {
      duplicate: r.duplicate,
      newlySuppressed: r.newlySuppressed,
      suspended: r.suspended,
      pool: r.pool === 'dedicated' ? 'dedicated' : 'shared',
      lastWarnAt: r.lastWarnAt,
      warnings: r.warnings,
      softCount: r.softCount,
      windows: this.opts.windows.map((w, i) => ({ name: w.name, hours: w.hours, ...figures[i] })),
    };
  }

  /**
   * Suspends at once for investigation (a reviewer's decision, or an investigation rule):
   * the same guarded step and account.suspended event as a rate suspension, without the
   * cooldown or the warnings count. True when the account was suspended now.
   */
  async suspendForInvestigation(account: string, channel: Channel, now: number, windowHours: number, data: Record<string, unknown>): Promise<boolean> {
    const r = await this.applyDecision({
      account,
      action: 'suspend',
      now,
      cooldownMs: 0,
      suspendAfter: Number.MAX_SAFE_INTEGER,
      reason: 'investigation',
      channel,
      counter: 'c',
      windowHours,
      warnEventId: 'evt_' + newId(now),
      suspendEventId: 'evt_' + newId(now),
      data,
    });
    return r.outcome === 'suspended';
  }

  /** Applies a warn/suspend decision with its guards; returns what happened. */
  async applyDecision(d: DecisionInput): Promise<{ outcome: 'none' | 'cooldown' | 'warned' | 'suspended'; warnings: number }> {
    const k = this.keys.account(d.account);
    const r = (await storeCall('applyDecision', () =>
      this.script('applyDecision')(
        k.meta,
        k.warnings,
        k.campaigns,
        k.samples,
        k.outbox,
        d.action,
        d.now,
        d.cooldownMs,
        d.now - this.opts.warningWindowMs,
        d.suspendAfter,
        d.warnEventId,
        d.suspendEventId,
        JSON.stringify(d.data),
        new Date(d.now).toISOString(),
        d.reason,
        `${d.channel}|${Math.floor(d.now / HOUR) - d.windowHours + 1}|${d.counter}`,
        this.opts.warningWindowMs,
        d.account,
        this.keys.outboxWake(),
      ),
    )) as string;
    return JSON.parse(r) as { outcome: 'none' | 'cooldown' | 'warned' | 'suspended'; warnings: number };
  }

  /** Adds counts for one account; with an idempotency key a repeated batch counts once. */
  async count(account: string, items: CountItem[], idempotencyKey: string | null, now: number): Promise<boolean> {
    const k = this.keys.account(account);
    const args: Array<string | number> = [];
    for (const it of items) args.push(it.channel, Math.floor(it.at / HOUR), it.campaign ?? '', it.counter, it.n);
    const r = await storeCall('count', () =>
      this.script('count')(
        k.windows,
        k.campaigns,
        k.meta,
        k.dedup('batch:' + (idempotencyKey ?? '-')),
        now,
        this.bucketTtlMs,
        idempotencyKey ? this.opts.dedupMs : 0,
        this.windowSpec,
        ...args,
      ),
    );
    return r === 1;
  }

  /** Per-recipient traffic: a delivery resets the soft-bounce count; engagement is remembered. */
  async markRecipients(account: string, items: Array<{ address: string; type: 'delivered' | 'engaged' }>, now: number): Promise<void> {
    const k = this.keys.account(account);
    const tx = this.redis.multi();
    for (const it of items) {
      if (it.type === 'delivered') tx.del(k.softBounces(it.address));
      else tx.hset(k.engaged, it.address, now);
    }
    await storeCall('markRecipients', () => tx.exec());
  }

  /** An account's standing: meta, warnings in the warning window, figures per window. */
  async readAccount(account: string, channel: Channel, now: number) {
    const k = this.keys.account(account);
    const [meta, warnings, figures] = await storeCall('readAccount', () =>
      Promise.all([
        this.redis.hgetall(k.meta),
        this.redis.zrangebyscore(k.warnings, now - this.opts.warningWindowMs, '+inf', 'WITHSCORES'),
        // The running window totals, read (never written) by a script: see lua/lib/windows.lua.
        this.script('figures')(k.windows, channel, Math.floor(now / HOUR), this.windowSpec) as Promise<number[]>,
      ]),
    );
    const windows = this.opts.windows.map((w, i) => ({
      name: w.name,
      hours: w.hours,
      sent: Number(figures[i * 4]),
      complaints: Number(figures[i * 4 + 1]),
      hardBounces: Number(figures[i * 4 + 2]),
      unverifiedComplaints: Number(figures[i * 4 + 3]),
    }));
    const warningTimes: number[] = [];
    for (let i = 1; i < warnings.length; i += 2) warningTimes.push(Number(warnings[i]));
    return { meta, warnings: warningTimes, windows };
  }

  /** Lifts a suspension and clears the warnings; writes account.reinstated with it. */
  async reinstate(account: string, event: OutboxEvent): Promise<boolean> {
    const k = this.keys.account(account);
    const r = await storeCall('reinstate', () => this.script('reinstate')(k.meta, k.warnings, k.outbox, JSON.stringify(event), account, this.keys.outboxWake()));
    return r === 1;
  }

  async setAccountMeta(account: string, fields: Record<string, string>): Promise<void> {
    const k = this.keys.account(account);
    await storeCall('setAccountMeta', () => this.redis.hset(k.meta, fields));
  }

  async getSuppression(account: string, channel: Channel, address: string): Promise<SuppressionRecord | null> {
    const v = await storeCall('getSuppression', () => this.redis.hget(this.keys.account(account).suppressions(channel), address));
    return v ? (JSON.parse(v) as SuppressionRecord) : null;
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

  async audit(entry: Record<string, string>): Promise<void> {
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

  /** Opens a case or joins the campaign's open one (retrying if the pointer moved). */
  async saveCase(c: CaseRecord, report: CaseReport, fingerprint: string, eventId: string, now: number, reportsKept: number): Promise<{ outcome: 'opened' | 'joined' | 'duplicate'; caseId: string; status: string }> {
    const ck = this.keys.cases;
    // Reports without an account or campaign never join: each is its own case.
    const pointer = c.account && c.campaign ? ck.open(c.account, c.campaign) : ck.open('-', c.id);
    for (let attempt = 0; attempt < 5; attempt++) {
      const current = (await storeCall('saveCase', () => this.redis.get(pointer))) ?? '';
      const raw = (await storeCall('saveCase', () =>
        this.script('saveCase')(pointer, ck.record(current || c.id), ck.all, ck.outbox, ck.seen(fingerprint), current, JSON.stringify(c), JSON.stringify(report), now, eventId, new Date(now).toISOString(), c.status, reportsKept, this.opts.dedupMs, this.keys.outboxWake()),
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

  async updateCase(caseId: string, account: string | null, campaign: string | null, status: string | null, note: Record<string, string> | null, by: string, eventId: string, now: number): Promise<CaseRecord | null> {
    const ck = this.keys.cases;
    const pointer = account && campaign ? ck.open(account, campaign) : ck.open('-', caseId);
    const raw = await storeCall('updateCase', () =>
      this.script('updateCase')(ck.record(caseId), pointer, ck.outbox, status ?? '', note ? JSON.stringify(note) : '', eventId, new Date(now).toISOString(), by, this.keys.outboxWake()),
    );
    await this.audit({ action: 'case.update', caseId, by, status: status ?? '', note: note?.text ?? '', at: new Date(now).toISOString() });
    return raw ? caseFromJson(raw as string) : null;
  }

  async saveConsent(account: string, channel: Channel, address: string, proof: Record<string, unknown>): Promise<void> {
    await storeCall('saveConsent', () => this.redis.hset(this.keys.account(account).consents, `${channel}|${address}`, JSON.stringify(proof)));
  }

  /**
   * The consent on record for a recipient: the double opt-in confirmation we witnessed
   * (`w|…`, see store/consents.ts) when there is one, else the platform's claim; `witnessed` says which.
   */
  async getConsent(account: string, channel: Channel, address: string): Promise<Record<string, unknown> | null> {
    const [w, c] = await storeCall('getConsent', () => this.redis.hmget(this.keys.account(account).consents, `w|${channel}|${address}`, `${channel}|${address}`));
    const v = w ?? c;
    return v ? { ...(JSON.parse(v) as Record<string, unknown>), witnessed: w !== null } : null;
  }

  /** Counts a hit in a fixed one-minute window; returns the count so far. */
  async hit(scope: string, client: string, now: number): Promise<number> {
    const key = this.keys.rateLimit(scope, client, Math.floor(now / 60_000));
    return (await storeCall('rateLimit', () => this.script('hit')(key, 120_000))) as number;
  }

  /** Events waiting in a partition's outbox (the delivery worker reads them in order). */
  async outboxEvents(partition: number, count = 1000): Promise<OutboxEvent[]> {
    const entries = await storeCall('outbox', () => this.redis.xrange(this.keys.outbox(partition), '-', '+', 'COUNT', count));
    return entries.map(([, f]) => JSON.parse(f[f.indexOf('event') + 1]) as OutboxEvent);
  }

  async getReport(id: string): Promise<Record<string, string> | null> {
    const h = await storeCall('getReport', () => this.redis.hgetall(this.keys.report(id)));
    return h && Object.keys(h).length > 0 ? h : null;
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

  /** True when Redis answers now. */
  async ping(): Promise<boolean> {
    try {
      return (await this.redis.ping()) === 'PONG';
    } catch {
      return false;
    }
  }

  // --- preflight ---

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
   * Keeps a large preflight's suppressed entries for cursor fetches, with a TTL. Written
   * slice by slice (each serialised only when sent), so no second copy of the list is built.
   */
  async savePreflightSuppressed(preflightId: string, entries: readonly object[], ttlMs: number): Promise<void> {
    const key = this.keys.preflightSuppressed(preflightId);
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

  /** Appends a campaign event (campaign.blocked, campaign.review) to the account's outbox. */
  async writeCampaignEvent(account: string, e: OutboxEvent): Promise<void> {
    const k = this.keys.account(account);
    await storeCall('writeCampaignEvent', () => this.script('appendEvent')(k.meta, k.outbox, JSON.stringify(e), account, this.keys.outboxWake()));
  }

  // --- evidence (issue 14): who reported an account, for the independent-reporters rule ---

  /**
   * Notes an abuse report about an account and returns every report of the last `windowMs`
   * (this one included), oldest first. One key, so MULTI keeps it atomic on a cluster.
   */
  async noteReporter(account: string, s: ReporterSighting, now: number, windowMs: number): Promise<ReporterSighting[]> {
    const key = this.keys.account(account).reporters;
    // '|' cannot occur in a report id or an IP group; an address keeps any '|' after the second.
    const member = `${s.reportId}|${s.ipGroup}|${s.address ?? ''}`;
    const res = await storeCall('noteReporter', () =>
      this.redis.multi().zadd(key, now, member).zremrangebyscore(key, '-inf', now - windowMs).zrange(key, '0', '999').pexpire(key, windowMs).exec(),
    );
    const failed = res?.find(([err]) => err);
    if (failed) throw failed[0];
    return (res![2][1] as string[]).map((m) => {
      const a = m.indexOf('|');
      const b = m.indexOf('|', a + 1);
      return { reportId: m.slice(0, a), ipGroup: m.slice(a + 1, b), address: m.slice(b + 1) || null };
    });
  }

  // --- desk console ---

  /**
   * Sent, complaints and hard bounces per hour for the last `hours` hours up to `now`, from
   * the hour buckets (one HMGET). Buckets older than the longest window are dropped (see
   * lua/lib/windows.lua): those hours read as null, "no longer kept".
   */
  async hourlyFigures(account: string, channel: Channel, now: number, hours: number): Promise<Array<{ hour: number; sent: number; complaints: number; hardBounces: number } | null>> {
    const last = Math.floor(now / HOUR);
    const first = last - hours + 1;
    const fields: string[] = [];
    for (let h = first; h <= last; h++) fields.push(`${channel}|${h}|s`, `${channel}|${h}|c`, `${channel}|${h}|h`);
    const v = await storeCall('hourlyFigures', () => this.redis.hmget(this.keys.account(account).windows, ...fields));
    const kept = last - this.maxHours - 1;
    return Array.from({ length: hours }, (_, i) =>
      first + i <= kept ? null : { hour: first + i, sent: Number(v[i * 3] ?? 0), complaints: Number(v[i * 3 + 1] ?? 0), hardBounces: Number(v[i * 3 + 2] ?? 0) },
    );
  }

  /** Which of `accounts` are suspended (one pipelined HGET each): the desk queue's priority. */
  async suspendedAccounts(accounts: string[]): Promise<Set<string>> {
    if (accounts.length === 0) return new Set();
    const pipe = this.redis.pipeline();
    for (const a of accounts) pipe.hget(this.keys.account(a).meta, 'suspended');
    const rows = (await storeCall('suspendedAccounts', () => pipe.exec())) ?? [];
    return new Set(accounts.filter((_, i) => rows[i]?.[1] === '1'));
  }

  /**
   * Bulk import (a migration from another sender): each row keeps its own reason and date,
   * and an address already suppressed keeps its record (HSETNX). No events: the platform
   * sent the rows, it knows them. One audit entry for the whole import.
   */
  async importSuppressions(account: string | null, channel: Channel, rows: Array<{ address: string; rec: SuppressionRecord }>, by: string, at: string): Promise<{ added: number; exists: number }> {
    const key = account ? this.keys.account(account).suppressions(channel) : this.keys.globalSuppressions(channel);
    let added = 0;
    for (let i = 0; i < rows.length; i += 1000) {
      const pipe = this.redis.pipeline();
      for (const r of rows.slice(i, i + 1000)) pipe.hsetnx(key, r.address, JSON.stringify(r.rec));
      const res = (await storeCall('importSuppressions', () => pipe.exec())) ?? [];
      added += res.filter(([err, v]) => !err && v === 1).length;
    }
    await this.audit({ action: 'suppression.import', account: account ?? '*', channel, by, at, rows: String(rows.length), added: String(added) });
    return { added, exists: rows.length - added };
  }
}
