/**
 * An account's state: what messages and traffic count toward it, the rate decisions with
 * their guards (warn, suspend), reinstatement, its standing and figures, consents, the
 * reporters who named it and its preflight decisions.
 */
import type { ReporterSighting } from '../rules/evidence.js';
import { newId } from '../ids.js';
import type { Channel } from '../address.js';
import type { Evidence, PolicyConfig, RateKind } from '../rules/policy.js';
import { noteWrite, storeCall } from './call.js';
import type { OutboxEvent } from './outbox.js';
import { StorePart } from './part.js';
import { type ReceivedReport, reportFields } from './reports.js';
import type { SuppressionRecord } from './suppressions.js';

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

export class Accounts extends StorePart {
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
      events: this.outboxFlag === '1',
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
        this.outboxFlag,
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
    const r = await storeCall('reinstate', () => this.script('reinstate')(k.meta, k.warnings, k.outbox, JSON.stringify(event), account, this.keys.outboxWake(), this.outboxFlag));
    return r === 1;
  }

  async setAccountMeta(account: string, fields: Record<string, string>): Promise<void> {
    const k = this.keys.account(account);
    noteWrite(k.meta);
    await storeCall('setAccountMeta', () => this.redis.hset(k.meta, fields));
  }

  async saveConsent(account: string, channel: Channel, address: string, proof: Record<string, unknown>): Promise<void> {
    noteWrite(this.keys.account(account).consents);
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

  /**
   * Keeps a preflight decision among the account's latest (the desk lists them) and, for a
   * block or review, appends the event announcing it (campaign.blocked, campaign.review).
   */
  async recordPreflight(account: string, decision: PreflightRecord, e: OutboxEvent | null): Promise<void> {
    const k = this.keys.account(account);
    await storeCall('recordPreflight', () => this.script('recordPreflight')(k.preflights, k.meta, k.outbox, JSON.stringify(decision), PREFLIGHTS_KEPT, e ? JSON.stringify(e) : '', account, this.keys.outboxWake(), this.outboxFlag));
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
}
