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
import { accountActions, unattributedReports } from './metrics.js';
import type { Report } from './parse/report.js';
import { decide, type PolicyConfig, type RateKind } from './rules/policy.js';
import type { AccountFigures, Counter, OutboxEvent, Store, SuppressionRecord } from './store/store.js';

export interface EffectContext {
  reportId: string;
  /** Whether the reporter is trusted: untrusted complaints suppress but do not count. */
  trusted: boolean;
}

export interface EffectOutcome {
  suppressed: string[];
  duplicate: boolean;
  action: 'none' | 'cooldown' | 'warned' | 'suspended';
}

const NONE: EffectOutcome = { suppressed: [], duplicate: false, action: 'none' };

/** ARF feedback types (RFC 5965 §7.3, RFC 6591) and what each does. */
function complaintEffect(feedbackType: string | null | undefined): { counter: Counter | null; suppress: string | null } {
  switch (feedbackType) {
    case 'not-spam':
      return { counter: null, suppress: null };
    case 'opt-out':
      return { counter: null, suppress: 'unsubscribe' };
    case 'auth-failure':
      return { counter: 'a', suppress: null };
    default: // abuse, fraud, virus, other, and reports that name no type
      return { counter: 'c', suppress: 'complaint' };
  }
}

export function event(type: string, now: number, data: Record<string, unknown>): OutboxEvent {
  return { id: 'evt_' + newId(now), type, timestamp: new Date(now).toISOString(), data };
}

export class Effects {
  private readonly policy: PolicyConfig;

  constructor(
    private readonly store: Store,
    private readonly rates: Config['rates'],
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {
    this.policy = { minVolume: rates.minVolume, complaint: rates.complaint, bounce: rates.bounce };
  }

  async apply(report: Report, ctx: EffectContext): Promise<EffectOutcome> {
    if (report.error) return NONE;
    if (report.kind === 'complaint') return this.complaint(report, ctx);
    return NONE;
  }

  private async complaint(report: Report, ctx: EffectContext): Promise<EffectOutcome> {
    const { account, campaign } = report.attribution;
    if (!account) {
      unattributedReports.inc({ kind: report.kind });
      return NONE;
    }
    const now = this.clock.now();
    const feedbackType = report.recipients[0]?.feedbackType ?? null;
    let { counter, suppress } = complaintEffect(feedbackType);
    if (counter === 'c' && !ctx.trusted) counter = 'u';
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
        fingerprint: fingerprint(['complaint', feedbackType, account, campaign, address, report.original.messageId ?? `${report.original.date}|${report.original.subject}`]),
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
      data: { account, pool: f.pool, channel, ...d.evidence },
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
