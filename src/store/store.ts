/**
 * Typed operations on the state kept in Redis. Callers never see key names or Redis
 * errors: Redis being unreachable or busy becomes STORE_UNAVAILABLE (451 / 503), or
 * STORE_NOT_PERSISTING / STORE_OUT_OF_MEMORY when it refuses a write for lack of disk or
 * memory (452 / 503); any other failure is a bug and becomes INTERNAL_FAULT, which the
 * edges log with its stack.
 */
import type { AttachmentEvidence } from '../parse/report.js';
import type { ReporterSighting } from '../rules/evidence.js';
import { GatewayError } from '../errors.js';
import { newId } from '../ids.js';
import type { Channel } from '../address.js';
import type { Evidence, PolicyConfig, RateKind } from '../rules/policy.js';
import { noteWrite, type Script, scriptOf, storeCall, storeFailed } from './call.js';
import type { Keys } from './keys.js';
import type { RedisClient } from './redis.js';
import { Replication, type ReplicationOptions } from './replication.js';

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
  /** How long an account's engaged recipients are remembered after its last engagement. */
  engagedMs: number;
  /** Replicas that must confirm a write before it is acknowledged (durably); absent: none. */
  replication?: ReplicationOptions;
}

/**
 * What a report or a traffic item counts as. Only s c h u are kept in the hour buckets (the
 * window totals and the desk's chart read them) and c h per campaign (a decision's
 * evidence): the others were written and never read. src/store/lua/lib/windows.lua still
 * drops old hours of every letter, as earlier versions wrote them.
 */
export type Counter =
  | 's' // sent
  | 'd' // delivered (resets a recipient's soft-bounce count)
  | 'c' // complaint that counts toward the rates
  | 'u' // complaint from an unverified reporter: recorded, not counted toward the rates
  | 'a' // auth-failure report (RFC 6591): deduplicated, not counted
  | 'h' // hard bounce
  | 'f' // soft bounce (counts per recipient, toward the soft-bounce rule)
  | 'e'; // engaged (opens, clicks: remembered per recipient)

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

/** What a message does to one recipient (effects.ts builds it; recordMessage writes it). */
export interface RecipientEffect {
  /** Normalised address or phone number; null when the report names none. */
  address: string | null;
  counter: Counter | null;
  suppression: SuppressionRecord | null;
  /** The event announcing a new suppression (written only when it is new). */
  event: OutboxEvent | null;
  /** Stable fingerprint of this recipient's effect, so a redelivery counts once; null: no dedup. */
  fingerprint: string | null;
  /** Soft bounce: the suppression applies only at the Nth consecutive one (7, or 15 engaged). */
  softLimits?: { unengaged: number; engaged: number; idleMs: number };
}

/**
 * The rate decision a message may trigger, taken in its script from the figures after
 * counting (src/store/lua/lib/decision.lua; rules/policy.ts is the reference model).
 */
export interface RateDecision {
  kind: RateKind;
  policy: PolicyConfig;
  cooldownMs: number;
  suspendAfter: number;
  warnEventId: string;
  suspendEventId: string;
  /** The events' data (account, channel, rule, guidance); the evidence is added to it. */
  data: Record<string, unknown>;
}

/** One message's record and everything it does to one account: one script, one round trip. */
export interface MessageInput {
  /** The received-report record (its id from Keys.reportId with this account); null: none. */
  record: ReceivedReport | null;
  account: string;
  channel: Channel;
  campaign: string | null;
  /** A report id kept among the account's recent ones (a suspension's evidence). */
  sample: string | null;
  recipients: RecipientEffect[];
  decision: RateDecision | null;
  now: number;
}

export type DecisionOutcome = 'none' | 'cooldown' | 'warned' | 'suspended';

export interface MessageOutcome {
  /** The account was suspended before this message (nothing was decided). */
  suspended: boolean;
  recipients: Array<{ duplicate: boolean; newlySuppressed: boolean; softCount: number }>;
  /** Null when no decision was taken (nothing counted now, or a suspended account). */
  decision: { outcome: DecisionOutcome; warnings: number; evidence?: Evidence } | null;
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
const DAY = 86_400_000;
/** Days the daily counters are kept (lua/lib/daily.lua): the desk's 30-day chart and today. */
export const DAILY_KEEP_DAYS = 31;
/** Entries kept (about) per audit stream: months of admin changes, never unbounded. */
const AUDIT_KEPT = 1_000_000;

/** Preflight decisions kept per account (the newest). */
const PREFLIGHTS_KEPT = 50;

/** A preflight decision as the account keeps it (src/preflight.ts). */
export interface PreflightRecord {
  preflightId: string;
  campaign: string;
  decision: string;
  score: number;
  reasons: Array<{ code: string; severity: string; message: string }>;
  /** Recipients in the list as sent. */
  size: number;
  at: string;
}

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

export class Store {
  readonly replication: Replication;

  constructor(
    readonly redis: RedisClient,
    readonly keys: Keys,
    private readonly opts: StoreOptions,
  ) {
    this.replication = new Replication(redis, opts.replication ?? { replicas: 0, timeoutMs: 0 });
  }

  /**
   * Runs `fn`, then confirms that what it wrote is on `redis.waitReplicas` replicas (WAIT on
   * the master of each slot written, replication.ts); STORE_NOT_REPLICATED when it is not.
   * The SMTP 250 and the 2xx of the routes that take reports, suppressions and send counts
   * go through it (docs/operations.md, "Durable on failover").
   */
  durably<T>(fn: () => Promise<T>): Promise<T> {
    return this.replication.durably(fn);
  }

  private script(name: string): Script {
    return scriptOf(this.redis, name);
  }


  /** Writes the record of a report about no account; resolves only once Redis has it. */
  async recordReport(r: ReceivedReport): Promise<boolean> {
    const fields = reportFields(r);
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

  /**
   * A message's record, every recipient's effect (dedup, suppression + event, counting)
   * and the rate decision with its guards and events: one script (recordMessage), one
   * round trip, one fsync, whatever the number of recipients.
   */
  async recordMessage(m: MessageInput): Promise<MessageOutcome> {
    const k = this.keys.account(m.account);
    const d = m.decision;
    const input = {
      now: m.now,
      hour: Math.floor(m.now / HOUR),
      channel: m.channel,
      campaign: m.campaign ?? '',
      account: m.account,
      wake: this.keys.outboxWake(),
      windows: this.windowSpec,
      bucketTtlMs: this.bucketTtlMs,
      dedupMs: this.opts.dedupMs,
      warningsSince: m.now - this.opts.warningWindowMs,
      dailyKeepDays: DAILY_KEEP_DAYS,
      record: m.record ? { ttlMs: this.opts.retentionMs, fields: reportFields(m.record) } : undefined,
      sample: m.sample ?? '',
      recipients: m.recipients.map((r) => ({
        address: r.address ?? '',
        counter: r.counter ?? '',
        suppression: r.suppression ? JSON.stringify(r.suppression) : '',
        event: r.event ? JSON.stringify(r.event) : '',
        dedup: r.fingerprint !== null,
        softLimits: r.softLimits ? `${r.softLimits.unengaged},${r.softLimits.engaged}` : '',
        softIdleMs: r.softLimits?.idleMs ?? 0,
      })),
      decision: d
        ? {
            kind: d.kind,
            counter: d.kind === 'complaint' ? 'c' : 'h',
            minVolume: d.policy.minVolume,
            thresholds: d.kind === 'complaint' ? d.policy.complaint : { shared: d.policy.bounce, dedicated: d.policy.bounce },
            names: this.opts.windows.map((w) => w.name),
            cooldownMs: d.cooldownMs,
            suspendAfter: d.suspendAfter,
            warningsKeptMs: this.opts.warningWindowMs,
            warnEventId: d.warnEventId,
            suspendEventId: d.suspendEventId,
            timestamp: new Date(m.now).toISOString(),
            data: d.data,
          }
        : undefined,
    };
    const keys = [m.record ? this.keys.report(m.record.id) : k.meta, k.meta, k.suppressions(m.channel), k.windows, k.campaigns, k.samples, k.outbox, k.warnings, k.engaged, k.daily];
    for (const r of m.recipients) keys.push(k.dedup(r.fingerprint ?? '-'), k.softBounces(r.address ?? '-'));
    const raw = (await storeCall('recordMessage', () => this.script('recordMessage')(keys.length, ...keys, JSON.stringify(input)))) as string;
    const r = JSON.parse(raw) as { suspended: boolean; recipients: MessageOutcome['recipients'] | Record<string, never>; decision?: { outcome: DecisionOutcome; warnings: number; evidence?: Evidence } };
    // Lua's cjson writes an empty array as {}.
    return { suspended: r.suspended, recipients: Array.isArray(r.recipients) ? r.recipients : [], decision: r.decision ?? null };
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
  async applyDecision(d: DecisionInput): Promise<{ outcome: DecisionOutcome; warnings: number }> {
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
    return JSON.parse(r) as { outcome: DecisionOutcome; warnings: number };
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
        k.daily,
        now,
        this.bucketTtlMs,
        idempotencyKey ? this.opts.dedupMs : 0,
        this.windowSpec,
        DAILY_KEEP_DAYS,
        ...args,
      ),
    );
    return r === 1;
  }

  /**
   * Per-recipient traffic: a delivery resets the soft-bounce count; engagement is remembered
   * (bounces.engagedDays after the account's last one: one field per recipient, so the hash
   * is bounded by the account's list, like its suppressions).
   */
  async markRecipients(account: string, items: Array<{ address: string; type: 'delivered' | 'engaged' }>, now: number): Promise<void> {
    const k = this.keys.account(account);
    noteWrite(k.meta);
    const tx = this.redis.multi();
    for (const it of items) {
      if (it.type === 'delivered') tx.del(k.softBounces(it.address));
      else tx.hset(k.engaged, it.address, now);
    }
    if (items.some((it) => it.type === 'engaged')) tx.pexpire(k.engaged, this.opts.engagedMs);
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
   * One address's suppression, the account's list first, then the global list: the single
   * lookup's question (GET /v1/suppressions/{account}/{address}), asked by the MTA for every
   * recipient. Two HGETs (the two hashes are in different slots), sent in one write by
   * auto-pipelining; the stored JSON is returned unparsed with the list it came from, and no
   * async wrapper stands between the replies and the caller (each was a promise and a closure
   * per lookup, for the MTA's most frequent question).
   */
  suppressionOf(account: string, channel: Channel, address: string): Promise<{ json: string; scope: 'account' | 'global' } | null> {
    const own = this.redis.hget(this.keys.accountSuppressions(account, channel), address);
    const global = this.redis.hget(this.keys.globalSuppressions(channel), address);
    return Promise.all([own, global]).then(
      ([o, g]) => (o !== null ? { json: o, scope: 'account' as const } : g !== null ? { json: g, scope: 'global' as const } : null),
      (err: unknown) => storeFailed('suppressionOf', err),
    );
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
      this.script('updateCase')(ck.record(caseId), pointer, ck.outbox, status ?? '', note ? JSON.stringify(note) : '', eventId, new Date(now).toISOString(), by, this.keys.outboxWake(), outcome ?? ''),
    );
    await this.audit({ action: 'case.update', caseId, by, status: status ?? '', ...(outcome ? { outcome } : {}), note: note?.text ?? '', at: new Date(now).toISOString() });
    const c = raw ? caseFromJson(raw as string) : null;
    // The account's confirmed cases follow the case (another slot, so a second step): a
    // set, so resolving again counts once, and a step lost to a crash is made good by
    // resolving again.
    if (c?.account && (status || outcome)) {
      const key = this.keys.account(c.account).confirmedCases;
      const confirmed = c.status === 'resolved' && c.outcome === 'confirmed';
      await storeCall('updateCase', () => (confirmed ? this.redis.sadd(key, c.id) : this.redis.srem(key, c.id)));
    }
    return c;
  }

  /** The account's cases resolved as confirmed abuse (ids, oldest first). */
  async confirmedCases(account: string): Promise<string[]> {
    const ids = await storeCall('confirmedCases', () => this.redis.smembers(this.keys.account(account).confirmedCases));
    return ids.sort();
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

  /** Counts `n` hits in a fixed one-minute window; returns the count so far. */
  async hit(scope: string, client: string, now: number, n = 1): Promise<number> {
    const key = this.keys.rateLimit(scope, client, Math.floor(now / 60_000));
    return (await storeCall('rateLimit', () => this.script('hit')(key, 120_000, n))) as number;
  }

  /** Events waiting in a partition's outbox (the delivery worker reads them in order). */
  async outboxEvents(partition: number, count = 1000): Promise<OutboxEvent[]> {
    const entries = await storeCall('outbox', () => this.redis.xrange(this.keys.outbox(partition), '-', '+', 'COUNT', count));
    return entries.map(([, f]) => JSON.parse(f[f.indexOf('event') + 1]) as OutboxEvent);
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

  /**
   * Keeps a preflight decision among the account's latest (the desk lists them) and, for a
   * block or review, appends the event announcing it (campaign.blocked, campaign.review).
   */
  async recordPreflight(account: string, decision: PreflightRecord, e: OutboxEvent | null): Promise<void> {
    const k = this.keys.account(account);
    await storeCall('recordPreflight', () => this.script('recordPreflight')(k.preflights, k.meta, k.outbox, JSON.stringify(decision), PREFLIGHTS_KEPT, e ? JSON.stringify(e) : '', account, this.keys.outboxWake()));
  }

  /** The account's latest preflight decisions, newest first. */
  async recentPreflights(account: string, limit = PREFLIGHTS_KEPT): Promise<PreflightRecord[]> {
    const rows = await storeCall('recentPreflights', () => this.redis.lrange(this.keys.account(account).preflights, 0, limit - 1));
    return rows.map((r) => {
      const p = JSON.parse(r) as PreflightRecord;
      // Lua never touches the JSON, but keep the reader as forgiving as caseFromJson.
      return { ...p, reasons: Array.isArray(p.reasons) ? p.reasons : [] };
    });
  }

  // --- evidence (issue 14): who reported an account, for the independent-reporters rule ---

  /**
   * Notes an abuse report about an account and returns every report of the last `windowMs`
   * (this one included), oldest first. One key, so MULTI keeps it atomic on a cluster.
   */
  async noteReporter(account: string, s: ReporterSighting, now: number, windowMs: number): Promise<ReporterSighting[]> {
    const key = this.keys.account(account).reporters;
    noteWrite(key);
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
   * Sent, complaints and hard bounces per UTC day for the last `days` days up to `now`
   * (oldest first), from the daily counters (one HMGET; kept DAILY_KEEP_DAYS days).
   */
  async dailyFigures(account: string, channel: Channel, now: number, days: number): Promise<Array<{ day: string; sent: number; complaints: number; hardBounces: number }>> {
    const last = Math.floor(now / DAY);
    const first = last - Math.min(days, DAILY_KEEP_DAYS) + 1;
    const fields: string[] = [];
    for (let d = first; d <= last; d++) fields.push(`${channel}|${d}|s`, `${channel}|${d}|c`, `${channel}|${d}|h`);
    const v = await storeCall('dailyFigures', () => this.redis.hmget(this.keys.account(account).daily, ...fields));
    return Array.from({ length: last - first + 1 }, (_, i) => ({
      day: new Date((first + i) * DAY).toISOString().slice(0, 10),
      sent: Number(v[i * 3] ?? 0),
      complaints: Number(v[i * 3 + 1] ?? 0),
      hardBounces: Number(v[i * 3 + 2] ?? 0),
    }));
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
    noteWrite(key);
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
