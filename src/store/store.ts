/**
 * Typed operations on the state kept in Redis. Callers never see key names or Redis
 * errors: every failure becomes STORE_UNAVAILABLE, which the edges answer with 451 / 503.
 */
import { GatewayError } from '../errors.js';
import { redisErrors } from '../metrics.js';
import type { Channel } from '../address.js';
import type { Pool, WindowFigures } from '../rules/policy.js';
import type { Keys } from './keys.js';
import { type RedisClient, SCRIPT_VERSION } from './redis.js';

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
  reports: CaseReport[];
  notes: Array<{ at: string; by: string; text: string }>;
  history: Array<{ at: string; by: string; from: string; to: string }>;
  recipient?: string;
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

type Script = (...args: Array<string | number>) => Promise<unknown>;

export class Store {
  constructor(
    readonly redis: RedisClient,
    readonly keys: Keys,
    private readonly opts: StoreOptions,
  ) {}

  private script(name: string): Script {
    const fn = (this.redis as unknown as Record<string, Script>)[SCRIPT_VERSION + name];
    return fn.bind(this.redis);
  }

  private async call<T>(what: string, op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (err) {
      redisErrors.inc({ op: what });
      throw new GatewayError('STORE_UNAVAILABLE', undefined, { cause: err });
    }
  }

  /** Writes the received-report record; resolves only once Redis has it. */
  async recordReport(r: ReceivedReport): Promise<boolean> {
    const fields: string[] = [];
    for (const [k, v] of Object.entries(r)) {
      if (v === undefined || v === null) continue;
      fields.push(k, typeof v === 'string' ? v : JSON.stringify(v));
    }
    const created = await this.call('recordReport', () =>
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
    const r = (await this.call('recordEffect', () =>
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
        e.now,
        e.fingerprint ? this.opts.dedupMs : 0,
        e.channel,
        Math.floor(e.now / HOUR),
        e.counter ?? '',
        e.campaign ?? '',
        e.address ?? '',
        e.suppression ? JSON.stringify(e.suppression) : '',
        e.event ? JSON.stringify(e.event) : '',
        e.reportId ?? '',
        this.bucketTtlMs,
        this.windowSpec,
        e.now - this.opts.warningWindowMs,
        e.softLimits ? `${e.softLimits.unengaged},${e.softLimits.engaged}` : '',
        e.softLimits?.idleMs ?? 0,
      ),
    )) as Array<number | string>;
    return {
      duplicate: r[0] === 1,
      newlySuppressed: r[1] === 1,
      suspended: r[2] === 1,
      pool: r[3] === 'dedicated' ? 'dedicated' : 'shared',
      lastWarnAt: Number(r[4]),
      warnings: Number(r[5]),
      softCount: Number(r[6]),
      windows: this.opts.windows.map((w, i) => ({
        name: w.name,
        hours: w.hours,
        sent: Number(r[7 + i * 3]),
        complaints: Number(r[8 + i * 3]),
        hardBounces: Number(r[9 + i * 3]),
      })),
    };
  }

  /** Applies a warn/suspend decision with its guards; returns what happened. */
  async applyDecision(d: DecisionInput): Promise<{ outcome: 'none' | 'cooldown' | 'warned' | 'suspended'; warnings: number }> {
    const k = this.keys.account(d.account);
    const r = (await this.call('applyDecision', () =>
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
      ),
    )) as [string, number];
    return { outcome: r[0] as 'none' | 'cooldown' | 'warned' | 'suspended', warnings: Number(r[1]) };
  }

  /** Adds counts for one account; with an idempotency key a repeated batch counts once. */
  async count(account: string, items: CountItem[], idempotencyKey: string | null, now: number): Promise<boolean> {
    const k = this.keys.account(account);
    const args: Array<string | number> = [];
    for (const it of items) args.push(it.channel, Math.floor(it.at / HOUR), it.campaign ?? '', it.counter, it.n);
    const r = await this.call('count', () =>
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
    await this.call('markRecipients', () => tx.exec());
  }

  /** An account's standing: meta, warnings in the warning window, figures per window. */
  async readAccount(account: string, channel: Channel, now: number) {
    const k = this.keys.account(account);
    const [meta, warnings, figures] = await this.call('readAccount', () =>
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
    const r = await this.call('reinstate', () => this.script('reinstate')(k.meta, k.warnings, k.outbox, JSON.stringify(event)));
    return r === 1;
  }

  async setAccountMeta(account: string, fields: Record<string, string>): Promise<void> {
    const k = this.keys.account(account);
    await this.call('setAccountMeta', () => this.redis.hset(k.meta, fields));
  }

  async getSuppression(account: string, channel: Channel, address: string): Promise<SuppressionRecord | null> {
    const v = await this.call('getSuppression', () => this.redis.hget(this.keys.account(account).suppressions(channel), address));
    return v ? (JSON.parse(v) as SuppressionRecord) : null;
  }

  /**
   * Which of `addresses` are suppressed for the account or globally: one HMGET on the
   * account's hash and one on the global hash (two hash slots), whatever the count.
   */
  async checkSuppressions(account: string, channel: Channel, addresses: string[]): Promise<Array<(SuppressionRecord & { scope: 'account' | 'global' }) | null>> {
    if (addresses.length === 0) return [];
    const [own, global] = await this.call('checkSuppressions', () =>
      Promise.all([this.redis.hmget(this.keys.account(account).suppressions(channel), ...addresses), this.redis.hmget(this.keys.globalSuppressions(channel), ...addresses)]),
    );
    return addresses.map((_, i) => {
      const v = own[i] ?? global[i];
      return v ? { ...(JSON.parse(v) as SuppressionRecord), scope: own[i] ? 'account' : 'global' } : null;
    });
  }

  /** An admin's suppression (account or, with account null, global) and its audit entry. */
  async addSuppressionManual(account: string | null, channel: Channel, address: string, rec: SuppressionRecord, event: OutboxEvent | null): Promise<boolean> {
    const key = account ? this.keys.account(account).suppressions(channel) : this.keys.globalSuppressions(channel);
    const created = account
      ? (await this.recordEffect({ account, channel, campaign: null, address, counter: null, suppression: rec, event, fingerprint: null, reportId: null, now: Date.parse(rec.at) })).newlySuppressed
      : (await this.call('addGlobal', () => this.redis.hsetnx(key, address, JSON.stringify(rec)))) === 1;
    await this.audit({ action: 'suppression.add', account: account ?? '*', channel, address, reason: rec.reason, by: rec.by ?? '', note: rec.note ?? '', at: rec.at, result: created ? 'added' : 'exists' });
    return created;
  }

  async removeSuppression(account: string | null, channel: Channel, address: string, by: string, note: string, at: string): Promise<SuppressionRecord | null> {
    const key = account ? this.keys.account(account).suppressions(channel) : this.keys.globalSuppressions(channel);
    const [[, old], [, removed]] = (await this.call('removeSuppression', () => this.redis.multi().hget(key, address).hdel(key, address).exec())) as [[unknown, string | null], [unknown, number]];
    await this.audit({ action: 'suppression.remove', account: account ?? '*', channel, address, by, note, at, result: removed ? 'removed' : 'absent' });
    return old ? (JSON.parse(old) as SuppressionRecord) : null;
  }

  /** One page of an account's (or the global) suppressions, cursor-paginated (HSCAN). */
  async listSuppressions(account: string | null, channel: Channel, cursor: string, count: number): Promise<{ cursor: string; items: Array<{ address: string } & SuppressionRecord> }> {
    const key = account ? this.keys.account(account).suppressions(channel) : this.keys.globalSuppressions(channel);
    const [next, flat] = await this.call('listSuppressions', () => this.redis.hscan(key, cursor, 'COUNT', count));
    const items: Array<{ address: string } & SuppressionRecord> = [];
    for (let i = 0; i < flat.length; i += 2) items.push({ address: flat[i], ...(JSON.parse(flat[i + 1]) as SuppressionRecord) });
    return { cursor: next, items };
  }

  async audit(entry: Record<string, string>): Promise<void> {
    await this.call('audit', () => this.redis.xadd(this.keys.audit(), 'MAXLEN', '~', '1000000', '*', ...Object.entries(entry).flat()));
  }

  async readAudit(count: number): Promise<Array<Record<string, string>>> {
    const entries = await this.call('readAudit', () => this.redis.xrevrange(this.keys.audit(), '+', '-', 'COUNT', count));
    return entries.map(([, f]) => Object.fromEntries(f.reduce<string[][]>((acc, v, i) => (i % 2 ? acc[acc.length - 1].push(v) : acc.push([v]), acc), [])));
  }

  /** Opens a case or joins the campaign's open one (retrying if the pointer moved). */
  async saveCase(c: CaseRecord, report: CaseReport, eventId: string, now: number, reportsKept: number): Promise<{ outcome: 'opened' | 'joined'; caseId: string; status: string }> {
    const ck = this.keys.cases;
    // Reports without an account or campaign never join: each is its own case.
    const pointer = c.account && c.campaign ? ck.open(c.account, c.campaign) : ck.open('-', c.id);
    for (let attempt = 0; attempt < 5; attempt++) {
      const current = (await this.call('saveCase', () => this.redis.get(pointer))) ?? '';
      const r = (await this.call('saveCase', () =>
        this.script('saveCase')(pointer, ck.record(current || c.id), ck.all, ck.outbox, current, JSON.stringify(c), JSON.stringify(report), now, eventId, new Date(now).toISOString(), c.status, reportsKept),
      )) as string[];
      if (r[0] !== 'retry') return { outcome: r[0] as 'opened' | 'joined', caseId: r[1], status: r[2] };
    }
    throw new GatewayError('STORE_UNAVAILABLE', 'case pointer kept moving');
  }

  async getCase(caseId: string): Promise<CaseRecord | null> {
    const raw = await this.call('getCase', () => this.redis.hget(this.keys.cases.record(caseId), 'data'));
    return raw ? caseFromJson(raw) : null;
  }

  /** Newest first, after the case `before` (exclusive; null: from the newest); filtered by the caller. */
  async listCases(before: string | null, scan: number): Promise<CaseRecord[]> {
    const ids = await this.call('listCases', () => this.redis.zrevrangebylex(this.keys.cases.all, before ? `(${before}` : '+', '-', 'LIMIT', 0, scan));
    if (ids.length === 0) return [];
    const pipe = this.redis.pipeline();
    for (const id of ids) pipe.hget(this.keys.cases.record(id), 'data');
    const rows = (await this.call('listCases', () => pipe.exec())) ?? [];
    return rows.map(([, raw]) => (raw ? caseFromJson(raw as string) : null)).filter((c): c is CaseRecord => c !== null);
  }

  async updateCase(caseId: string, account: string | null, campaign: string | null, status: string | null, note: Record<string, string> | null, by: string, eventId: string, now: number): Promise<CaseRecord | null> {
    const ck = this.keys.cases;
    const pointer = account && campaign ? ck.open(account, campaign) : ck.open('-', caseId);
    const raw = await this.call('updateCase', () =>
      this.script('updateCase')(ck.record(caseId), pointer, ck.outbox, status ?? '', note ? JSON.stringify(note) : '', eventId, new Date(now).toISOString(), by),
    );
    await this.audit({ action: 'case.update', caseId, by, status: status ?? '', note: note?.text ?? '', at: new Date(now).toISOString() });
    return raw ? caseFromJson(raw as string) : null;
  }

  async saveConsent(account: string, channel: Channel, address: string, proof: Record<string, unknown>): Promise<void> {
    await this.call('saveConsent', () => this.redis.hset(this.keys.account(account).consents, `${channel}|${address}`, JSON.stringify(proof)));
  }

  /**
   * The consent on record for a recipient: the double opt-in confirmation we witnessed
   * (`w|…`, see store/consents.ts) when there is one, else the platform's claim; `witnessed` says which.
   */
  async getConsent(account: string, channel: Channel, address: string): Promise<Record<string, unknown> | null> {
    const [w, c] = await this.call('getConsent', () => this.redis.hmget(this.keys.account(account).consents, `w|${channel}|${address}`, `${channel}|${address}`));
    const v = w ?? c;
    return v ? { ...(JSON.parse(v) as Record<string, unknown>), witnessed: w !== null } : null;
  }

  /** Counts a hit in a fixed one-minute window; returns the count so far. */
  async hit(scope: string, client: string, now: number): Promise<number> {
    const key = this.keys.rateLimit(scope, client, Math.floor(now / 60_000));
    return (await this.call('rateLimit', () => this.script('hit')(key, 120_000))) as number;
  }

  /** Events waiting in a partition's outbox (the delivery worker reads them in order). */
  async outboxEvents(partition: number, count = 1000): Promise<OutboxEvent[]> {
    const entries = await this.call('outbox', () => this.redis.xrange(this.keys.outbox(partition), '-', '+', 'COUNT', count));
    return entries.map(([, f]) => JSON.parse(f[f.indexOf('event') + 1]) as OutboxEvent);
  }

  async getReport(id: string): Promise<Record<string, string> | null> {
    const h = await this.call('getReport', () => this.redis.hgetall(this.keys.report(id)));
    return h && Object.keys(h).length > 0 ? h : null;
  }

  async quarantine(e: QuarantineEntry): Promise<void> {
    await this.call('quarantine', () =>
      this.script('quarantine')(this.keys.quarantine(), JSON.stringify(e), this.opts.quarantineKeep),
    );
  }

  async listQuarantine(limit: number): Promise<QuarantineEntry[]> {
    const items = await this.call('listQuarantine', () => this.redis.lrange(this.keys.quarantine(), 0, limit - 1));
    return items.map((s) => JSON.parse(s) as QuarantineEntry);
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
    const [own, global] = await this.call('lookupSuppressions', () =>
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
      await this.call('savePreflightSuppressed', async () => {
        if (i > 0) return void (await this.redis.rpush(key, ...values));
        const failed = (await this.redis.multi().del(key).rpush(key, ...values).pexpire(key, ttlMs).exec())?.find(([err]) => err);
        if (failed) throw failed[0];
      });
    }
  }

  /** One page of a kept preflight list; null when it is unknown or expired. */
  async preflightSuppressedPage(preflightId: string, offset: number, count: number): Promise<{ total: number; items: string[] } | null> {
    const key = this.keys.preflightSuppressed(preflightId);
    const [[, total], [, items]] = (await this.call('preflightSuppressedPage', () => this.redis.multi().llen(key).lrange(key, offset, offset + count - 1).exec())) as [[unknown, number], [unknown, string[]]];
    return total > 0 ? { total, items } : null;
  }

  /** Appends a campaign event (campaign.blocked, campaign.review) to the account's outbox. */
  async writeCampaignEvent(account: string, e: OutboxEvent): Promise<void> {
    await this.call('writeCampaignEvent', () => this.redis.xadd(this.keys.account(account).outbox, '*', 'event', JSON.stringify(e)));
  }
}
