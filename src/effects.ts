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
import type { PolicyConfig, RateKind } from './rules/policy.js';
import type { MessageOutcome, OutboxEvent, ReceivedReport, RecipientEffect, Store, SuppressionRecord } from './store/store.js';

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

/** A message's effects on one account, before they are written (Store.recordMessage). */
interface Plan {
  account: string;
  channel: Channel;
  campaign: string | null;
  sample: string | null;
  recipients: RecipientEffect[];
  decision: RateKind | null;
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

  /**
   * Records a message: its record (when given) and its effects in one store call. A report
   * that names no account we can trust is recorded for review and changes nothing.
   */
  async apply(report: Report, ctx: EffectContext, record: ReceivedReport | null): Promise<EffectOutcome> {
    const account = report.attribution.account;
    const acts = !report.error && ['complaint', 'bounce', 'unsubscribe'].includes(report.kind);
    if (!account) {
      if (acts) unattributedReports.inc({ kind: report.kind });
      if (record) await this.store.recordReport(record);
      return NONE;
    }
    const now = this.clock.now();
    const campaign = report.attribution.campaign;
    const plan: Plan | null = !acts
      ? null
      : report.kind === 'complaint'
        ? this.complaint(report, account, campaign, ctx, now)
        : report.kind === 'bounce'
          ? this.bounce(report, account, campaign, ctx, now)
          : this.unsubscribe(report, account, campaign, ctx, now);
    const m = await this.write(plan ?? { account, channel: 'email', campaign, sample: null, recipients: [], decision: null }, record, now);
    if (!plan) return NONE;
    // One report is one complaint: its first recipient says whether it was seen before.
    const duplicate = report.kind === 'complaint' ? (m.recipients[0]?.duplicate ?? false) : m.recipients.some((r) => r.duplicate);
    return { suppressed: m.suppressed, duplicate, action: m.action };
  }

  /** An unsubscribe request mailed to unsubscribe+TOKEN@ (the List-Unsubscribe mailto). */
  private unsubscribe(report: Report, account: string, campaign: string | null, ctx: EffectContext, now: number): Plan | null {
    const address = report.recipients[0]?.address ? normaliseEmail(report.recipients[0].address) : null;
    if (!address) return null;
    return this.suppression(account, 'email', address, { reason: 'unsubscribe', source: 'mailto', campaign: campaign ?? undefined, reportId: ctx.reportId }, now);
  }

  /** An SMS complaint: the number is suppressed and the complaint counts on the sms channel. */
  async smsComplaint(account: string, campaign: string | null, phone: string, reportId: string, messageFingerprint: string): Promise<EffectOutcome> {
    const now = this.clock.now();
    const suppression: SuppressionRecord = { reason: 'complaint', source: 'sms', at: new Date(now).toISOString(), reportId, campaign: campaign ?? undefined };
    const m = await this.write(
      {
        account,
        channel: 'sms',
        campaign,
        sample: reportId,
        recipients: [
          {
            address: phone,
            counter: 'c',
            suppression,
            event: event('recipient.suppressed', now, { account, channel: 'sms', address: phone, ...suppression }),
            // The number and the report's content (the message's Message-ID or the form's text):
            // a retried delivery of the same complaint counts once.
            fingerprint: fingerprint(['sms', account, phone, messageFingerprint]),
          },
        ],
        decision: 'complaint',
      },
      null,
      now,
    );
    return { suppressed: m.suppressed, duplicate: m.recipients[0].duplicate, action: m.action };
  }

  /** Suppresses one recipient for an account (with its event), outside any report counting. */
  async suppress(account: string, channel: Channel, address: string, rec: Omit<SuppressionRecord, 'at'>): Promise<EffectOutcome> {
    const now = this.clock.now();
    const m = await this.write(this.suppression(account, channel, address, rec, now), null, now);
    return { suppressed: m.suppressed, duplicate: false, action: m.action };
  }

  private suppression(account: string, channel: Channel, address: string, rec: Omit<SuppressionRecord, 'at'>, now: number): Plan {
    const suppression: SuppressionRecord = { ...rec, at: new Date(now).toISOString() };
    return {
      account,
      channel,
      campaign: rec.campaign ?? null,
      sample: null,
      recipients: [{ address, counter: null, suppression, event: event('recipient.suppressed', now, { account, channel, address, ...suppression }), fingerprint: null }],
      decision: null,
    };
  }

  /**
   * Bounces (DSNs and the like): a hard bounce suppresses at once; recipient-side soft
   * bounces count toward the 7/15 rule; sender-side reasons (we were blocked) only count
   * toward the account's figures. Hard bounces drive the bounce-rate policy.
   */
  private bounce(report: Report, account: string, campaign: string | null, ctx: EffectContext, now: number): Plan {
    // Only the recipients the VERP token speaks for (rules/evidence.ts).
    const { allowed, ignored } = bounceTargets(report.recipients, account, ctx.binding ?? null);
    if (ignored > 0) bounceRecipientsIgnored.inc({ why: ctx.binding ? 'other-recipient' : 'unverified-token' }, ignored);
    const recipients = allowed.map((r): RecipientEffect => {
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
      return {
        address,
        counter: r.hard ? 'h' : 'f',
        suppression,
        event: suppression ? event('recipient.suppressed', now, { account, channel: 'email', address, ...suppression }) : null,
        // A hard bounce counts once per recipient and dedup window (rules/evidence.ts). Each
        // soft DSN is its own bounce (the same recipient's next DSN counts again), and many
        // carry no copy of the original: the DSN itself, not the original, identifies it.
        fingerprint: r.hard ? fingerprint(countedEventParts('hard-bounce', account, address, ctx.fingerprint)) : fingerprint(['bounce', account, address, r.status, ctx.fingerprint]),
        softLimits: r.hard ? undefined : { unengaged: this.bounces.softLimit, engaged: this.bounces.softLimitEngaged, idleMs: this.bounces.softIdleDays * 86_400_000 },
      };
    });
    return { account, channel: 'email', campaign, sample: ctx.reportId, recipients, decision: recipients.some((r) => r.counter === 'h') ? 'bounce' : null };
  }

  private complaint(report: Report, account: string, campaign: string | null, ctx: EffectContext, now: number): Plan {
    const feedbackType = report.recipients[0]?.feedbackType ?? null;
    const { counter, suppress } = complaintEvidence(feedbackType, ctx.trusted);
    const addresses = [...new Set(report.recipients.map((r) => (r.address ? normaliseEmail(r.address) : null)).filter((a): a is string => !!a))];
    const targets: Array<string | null> = addresses.length ? addresses : [null];
    const recipients = targets.map((address, i): RecipientEffect => {
      const suppression: SuppressionRecord | null =
        suppress && address
          ? { reason: suppress, source: 'fbl', at: new Date(now).toISOString(), reportId: ctx.reportId, feedbackType: feedbackType ?? undefined, campaign: campaign ?? undefined }
          : null;
      return {
        address,
        // One report is one complaint, however many recipients it names.
        counter: i === 0 ? counter : null,
        suppression,
        event: suppression ? event('recipient.suppressed', now, { account, channel: 'email', address, ...suppression }) : null,
        // A counted complaint counts once per recipient and dedup window (rules/evidence.ts).
        fingerprint: counter === 'c' || counter === 'u' ? fingerprint(countedEventParts('complaint', account, address, report.original.messageId ?? ctx.fingerprint)) : complaintFingerprint(report, feedbackType, account, campaign, address, ctx.fingerprint),
      };
    });
    return { account, channel: 'email', campaign, sample: ctx.reportId, recipients, decision: counter === 'c' ? 'complaint' : null };
  }

  /** Writes a plan with its record; the rate decision is taken in the same step. */
  private async write(plan: Plan, record: ReceivedReport | null, now: number): Promise<Omit<EffectOutcome, 'duplicate'> & { recipients: MessageOutcome['recipients'] }> {
    const kind = plan.decision;
    const m = await this.store.recordMessage({
      record,
      account: plan.account,
      channel: plan.channel,
      campaign: plan.campaign,
      sample: plan.sample,
      recipients: plan.recipients,
      now,
      decision: kind
        ? {
            kind,
            policy: this.policy,
            cooldownMs: this.rates.warnCooldownHours * 3_600_000,
            suspendAfter: this.rates.warningsToSuspend,
            warnEventId: 'evt_' + newId(now),
            suspendEventId: 'evt_' + newId(now),
            data: { account: plan.account, channel: plan.channel, rule: `${kind}-rate`, guidance: guidanceFor(kind, this.guidance) },
          }
        : null,
    });
    const d = m.decision;
    if (kind && d && (d.outcome === 'warned' || d.outcome === 'suspended')) {
      accountActions.inc({ action: d.outcome, kind });
      this.log.info({ code: d.outcome === 'warned' ? 'ACCOUNT_WARNED' : 'ACCOUNT_SUSPENDED', account: plan.account, ...d.evidence, warnings: d.warnings }, `account ${d.outcome}`);
    }
    const suppressed = plan.recipients.filter((r, i) => r.address && m.recipients[i]?.newlySuppressed).map((r) => r.address!);
    return { suppressed, action: d?.outcome ?? 'none', recipients: m.recipients };
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
