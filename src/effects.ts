/**
 * What a Report does to the platform's state: suppress, count, warn, suspend — and the
 * events that announce it. Decisions come from rules/ (pure); each state change and its
 * event are written by one store script (atomic, one hash slot).
 */
import { createHash } from 'node:crypto';
import { type Channel, normaliseEmail } from './address.js';
import type { Clock } from './clock.js';
import type { Config } from './config/schema.js';
import { newId } from './ids.js';
import type { Logger } from './log.js';
import { accountActions, bounceRecipientsIgnored, unattributedReports } from './metrics.js';
import type { Report } from './parse/report.js';
import { type BounceBinding, bounceTargets, complaintEvidence, countedEventParts } from './rules/evidence.js';
import { guidanceFor } from './rules/guidance.js';
import { decide, type PolicyConfig, type RateKind } from './rules/policy.js';
import type { AccountFigures, OutboxEvent, Store, SuppressionRecord } from './store/store.js';

export interface EffectContext {
  reportId: string;
  /** The message's content fingerprint (ingest.ts messageFingerprint): the same on a redelivery. */
  fingerprint: string;
  /** Whether the reporter is trusted: untrusted complaints suppress but do not count. */
  trusted: boolean;
  /** Bounces: what the envelope VERP token speaks for (rules/evidence.ts); null: nothing. */
  binding?: BounceBinding | null;
}

export interface EffectOutcome {
  suppressed: string[];
  duplicate: boolean;
  action: 'none' | 'cooldown' | 'warned' | 'suspended';
}

const NONE: EffectOutcome = { suppressed: [], duplicate: false, action: 'none' };

export function event(type: string, now: number, data: Record<string, unknown>): OutboxEvent {
  return { id: 'evt_' + newId(now), type, timestamp: new Date(now).toISOString(), data };
}

/** recipient.suppressed for an admin's (or operator's) suppression; account null: the global list. */
export function manualSuppressedEvent(account: string | null, channel: Channel, address: string, rec: SuppressionRecord, now: number): OutboxEvent {
  return event('recipient.suppressed', now, { account, scope: account ? 'account' : 'global', channel, address, ...rec });
}

/** recipient.unsuppressed: a suppression lifted by an admin, an operator or a START. */
export function unsuppressedEvent(account: string | null, channel: Channel, address: string, by: string, note: string, now: number): OutboxEvent {
  return event('recipient.unsuppressed', now, { account, scope: account ? 'account' : 'global', channel, address, by, note, at: new Date(now).toISOString() });
}

export class Effects {
  private readonly policy: PolicyConfig;
  private readonly rates: Config['rates'];
  private readonly bounces: Config['bounces'];
  private readonly senderSide: Set<string>;
  private readonly guidance: Config['guidance'];

  constructor(
    private readonly store: Store,
    config: Pick<Config, 'rates' | 'bounces' | 'guidance'>,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {
    this.rates = config.rates;
    this.bounces = config.bounces;
    this.senderSide = new Set(config.bounces.senderSideReasons);
    this.guidance = config.guidance;
    this.policy = { minVolume: this.rates.minVolume, complaint: this.rates.complaint, bounce: this.rates.bounce };
  }

  async apply(report: Report, ctx: EffectContext): Promise<EffectOutcome> {
    if (report.error || !['complaint', 'bounce', 'unsubscribe'].includes(report.kind)) return NONE;
    const { account, campaign } = report.attribution;
    // A report that names no account we can trust is recorded for review and changes nothing.
    if (!account) {
      unattributedReports.inc({ kind: report.kind });
      return NONE;
    }
    if (report.kind === 'complaint') return this.complaint(report, account, campaign, ctx);
    if (report.kind === 'bounce') return this.bounce(report, account, campaign, ctx);
    return this.unsubscribe(report, account, campaign, ctx);
  }

  /** An unsubscribe request mailed to unsubscribe+TOKEN@ (the List-Unsubscribe mailto). */
  private async unsubscribe(report: Report, account: string, campaign: string | null, ctx: EffectContext): Promise<EffectOutcome> {
    const address = report.recipients[0]?.address ? normaliseEmail(report.recipients[0].address) : null;
    if (!address) return NONE;
    return this.suppress(account, 'email', address, { reason: 'unsubscribe', source: 'mailto', campaign: campaign ?? undefined, reportId: ctx.reportId });
  }

  /** An SMS complaint: the number is suppressed and the complaint counts on the sms channel. */
  async smsComplaint(account: string, campaign: string | null, phone: string, reportId: string, messageFingerprint: string): Promise<EffectOutcome> {
    const now = this.clock.now();
    const suppression: SuppressionRecord = { reason: 'complaint', source: 'sms', at: new Date(now).toISOString(), reportId, campaign: campaign ?? undefined };
    const f = await this.store.recordEffect({
      account,
      channel: 'sms',
      campaign,
      address: phone,
      counter: 'c',
      suppression,
      event: event('recipient.suppressed', now, { account, channel: 'sms', address: phone, ...suppression }),
      // The number and the report's content (the message's Message-ID or the form's text):
      // a retried delivery of the same complaint counts once.
      fingerprint: fingerprint(['sms', account, phone, messageFingerprint]),
      reportId,
      now,
    });
    const action = f.suspended ? 'none' : await this.judge(account, 'complaint', 'sms', f, now);
    return { suppressed: f.newlySuppressed ? [phone] : [], duplicate: f.duplicate, action };
  }

  /** Suppresses one recipient for an account (with its event), outside any report counting. */
  async suppress(account: string, channel: Channel, address: string, rec: Omit<SuppressionRecord, 'at'>): Promise<EffectOutcome> {
    const now = this.clock.now();
    const suppression: SuppressionRecord = { ...rec, at: new Date(now).toISOString() };
    const f = await this.store.recordEffect({
      account,
      channel,
      campaign: rec.campaign ?? null,
      address,
      counter: null,
      suppression,
      event: event('recipient.suppressed', now, { account, channel, address, ...suppression }),
      fingerprint: null,
      reportId: null,
      now,
    });
    return { suppressed: f.newlySuppressed ? [address] : [], duplicate: false, action: 'none' };
  }

  /**
   * Bounces (DSNs and the like): a hard bounce suppresses at once; recipient-side soft
   * bounces count toward the 7/15 rule; sender-side reasons (we were blocked) only count
   * toward the account's figures. Hard bounces drive the bounce-rate policy.
   */
  private async bounce(report: Report, account: string, campaign: string | null, ctx: EffectContext): Promise<EffectOutcome> {
    const now = this.clock.now();
    const out: EffectOutcome = { suppressed: [], duplicate: false, action: 'none' };
    let hardFigures: AccountFigures | null = null;
    // Only the recipients the VERP token speaks for (rules/evidence.ts).
    const { allowed, ignored } = bounceTargets(report.recipients, account, ctx.binding ?? null);
    if (ignored > 0) bounceRecipientsIgnored.inc({ why: ctx.binding ? 'other-recipient' : 'unverified-token' }, ignored);
    for (const r of allowed) {
      const address = r.address ? normaliseEmail(r.address) : null;
      const senderSide = !r.hard && this.senderSide.has(r.reason ?? '');
      const suppression: SuppressionRecord | null =
        address && !senderSide
          ? {
              reason: r.hard ? 'hard-bounce' : 'soft-bounce-limit',
              source: 'bounce',
              at: new Date(now).toISOString(),
              reportId: ctx.reportId,
              campaign: campaign ?? undefined,
              status: r.status ?? undefined,
              diagnostic: r.diagnostic?.slice(0, 500) ?? undefined,
            }
          : null;
      const f = await this.store.recordEffect({
        account,
        channel: 'email',
        campaign,
        address,
        counter: r.hard ? 'h' : 'f',
        suppression,
        event: suppression ? event('recipient.suppressed', now, { account, channel: 'email', address, ...suppression }) : null,
        // A hard bounce counts once per recipient and dedup window (rules/evidence.ts). Each
        // soft DSN is its own bounce (the same recipient's next DSN counts again), and many
        // carry no copy of the original: the DSN itself, not the original, identifies it.
        fingerprint: r.hard ? fingerprint(countedEventParts('hard-bounce', account, address, ctx.fingerprint)) : fingerprint(['bounce', account, address, r.status, ctx.fingerprint]),
        reportId: ctx.reportId,
        now,
        softLimits: r.hard ? undefined : { unengaged: this.bounces.softLimit, engaged: this.bounces.softLimitEngaged, idleMs: this.bounces.softIdleDays * 86_400_000 },
      });
      if (f.newlySuppressed && address) out.suppressed.push(address);
      if (f.duplicate) out.duplicate = true;
      if (r.hard && !f.suspended) hardFigures = f;
    }
    if (hardFigures) out.action = await this.judge(account, 'bounce', 'email', hardFigures, now);
    return out;
  }

  private async complaint(report: Report, account: string, campaign: string | null, ctx: EffectContext): Promise<EffectOutcome> {
    const now = this.clock.now();
    const feedbackType = report.recipients[0]?.feedbackType ?? null;
    const { counter, suppress } = complaintEvidence(feedbackType, ctx.trusted);
    const addresses = [...new Set(report.recipients.map((r) => (r.address ? normaliseEmail(r.address) : null)).filter((a): a is string => !!a))];
    const targets: Array<string | null> = addresses.length ? addresses : [null];
    const out: EffectOutcome = { suppressed: [], duplicate: false, action: 'none' };
    let figures: AccountFigures | null = null;
    for (const [i, address] of targets.entries()) {
      const suppression: SuppressionRecord | null =
        suppress && address
          ? { reason: suppress, source: 'fbl', at: new Date(now).toISOString(), reportId: ctx.reportId, feedbackType: feedbackType ?? undefined, campaign: campaign ?? undefined }
          : null;
      const f = await this.store.recordEffect({
        account,
        channel: 'email',
        campaign,
        address,
        // One report is one complaint, however many recipients it names.
        counter: i === 0 ? counter : null,
        suppression,
        event: suppression ? event('recipient.suppressed', now, { account, channel: 'email', address, ...suppression }) : null,
        // A counted complaint counts once per recipient and dedup window (rules/evidence.ts).
        fingerprint: counter === 'c' || counter === 'u' ? fingerprint(countedEventParts('complaint', account, address, report.original.messageId ?? ctx.fingerprint)) : complaintFingerprint(report, feedbackType, account, campaign, address, ctx.fingerprint),
        reportId: i === 0 ? ctx.reportId : null,
        now,
      });
      if (f.newlySuppressed && address) out.suppressed.push(address);
      if (i === 0) {
        figures = f;
        out.duplicate = f.duplicate;
      }
    }
    if (counter === 'c' && figures && !figures.suspended) {
      out.action = await this.judge(account, 'complaint', 'email', figures, now);
    }
    return out;
  }

  /** Decides on the account's figures and applies the decision with its guards. */
  private async judge(account: string, kind: RateKind, channel: Channel, f: AccountFigures, now: number): Promise<EffectOutcome['action']> {
    const d = decide(kind, f.pool, f.windows, this.policy);
    if (d.action === 'none') return 'none';
    const window = this.rates.windowHours[f.windows.findIndex((w) => w.name === d.evidence.window)];
    const r = await this.store.applyDecision({
      account,
      action: d.action,
      now,
      cooldownMs: this.rates.warnCooldownHours * 3_600_000,
      suspendAfter: this.rates.warningsToSuspend,
      reason: `${kind}-rate`,
      channel,
      counter: kind === 'complaint' ? 'c' : 'h',
      windowHours: window,
      warnEventId: 'evt_' + newId(now),
      suspendEventId: 'evt_' + newId(now),
      data: { account, pool: f.pool, channel, rule: `${kind}-rate`, ...d.evidence, guidance: guidanceFor(kind, this.guidance) },
    });
    if (r.outcome === 'warned' || r.outcome === 'suspended') {
      accountActions.inc({ action: r.outcome, kind });
      this.log.info({ code: r.outcome === 'warned' ? 'ACCOUNT_WARNED' : 'ACCOUNT_SUSPENDED', account, ...d.evidence, warnings: r.warnings }, `account ${r.outcome}`);
    }
    return r.outcome;
  }
}

export function fingerprint(parts: Array<string | null | undefined>): string {
  return createHash('sha256').update(parts.map((p) => p ?? '').join('\u0000')).digest('base64url').slice(0, 22);
}

/**
 * One recipient's complaint about one message counts once, however many reports of it
 * arrive: keyed by the complained-about message's Message-ID when the report carries it,
 * else by the report's own content (two reports without the original are two complaints).
 */
function complaintFingerprint(report: Report, feedbackType: string | null, account: string, campaign: string | null, address: string | null, messageFingerprint: string): string {
  const original = report.original.messageId;
  return original ? fingerprint(['complaint', feedbackType, account, campaign, address, original]) : fingerprint(['complaint-report', feedbackType, account, address, messageFingerprint]);
}
