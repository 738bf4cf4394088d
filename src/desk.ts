/**
 * The abuse desk: every abuse report (abuse@ mail, the web form, SMS complaints) opens a
 * case or joins its campaign's open case; a suspicious one suspends the account while the
 * desk investigates. Case state changes and their events are written atomically by the
 * store; the account suspension goes through the same guarded step as rate suspensions.
 */
import { type Channel, normaliseAddress } from './address.js';
import type { Clock } from './clock.js';
import type { Config } from './config/schema.js';
import type { Effects } from './effects.js';
import { guidanceFor } from './rules/guidance.js';
import { GatewayError } from './errors.js';
import { newId } from './ids.js';
import type { Logger } from './log.js';
import { accountActions } from './metrics.js';
import { investigationSuspension, type SuspensionRule } from './rules/evidence.js';
import { type SuspicionReason, suspicions } from './rules/investigation.js';
import { type SmsTrace, traceSms } from './rules/smstrace.js';
import type { SmsIndex } from './store/sms.js';
import { investigationOutcomes } from './metrics.js';
import { ipGroup } from './trust/ip.js';
import type { AttachmentEvidence } from './parse/report.js';
import type { CaseOutcomeKind, CaseRecord, CaseReport, Store } from './store/store.js';
import { smsTraces } from './metrics.js';

export interface AbuseInput {
  reportId: string;
  /** The report's content fingerprint: the same report delivered or posted again has the same one. */
  fingerprint: string;
  channel: 'email' | 'form' | 'sms';
  reporter: string | null;
  account: string | null;
  campaign: string | null;
  /** True when an authenticated token named the account. */
  verified: boolean;
  tokenState: 'valid' | 'forged' | 'missing';
  feedbackType: string | null;
  phishing: boolean;
  originDomains: string[];
  headers: Record<string, string>;
  phones: string[];
  description: string | null;
  recipient: string | null;
  /** SMS: the sender id or number the reporter named (narrows the trace by number). */
  sender?: string | null;
  /** Mail: the files attached to the report and the domains the reported message links to (parse/abuse). */
  attachments?: AttachmentEvidence[];
  linkDomains?: string[];
  /** The reporter's client IP (SMTP peer or HTTP client); null when unknown. */
  clientIp: string | null;
  /** A trusted feedback-loop reporter (trusted list, authenticated); never the web form. */
  trustedReporter: boolean;
}

/** Evidence kept per report: a case shows them, so they are bounded. */
const ATTACHMENTS_KEPT = 50;
const LINK_DOMAINS_KEPT = 100;

export interface CaseOutcome {
  caseId: string;
  status: string;
  joined: boolean;
  suspicious: SuspicionReason[];
  suspended: boolean;
  /** The rule that suspended the account (rules/evidence.ts), if one held. */
  rule: SuspensionRule | null;
}

export type CaseStatus = CaseRecord['status'];
export const CASE_STATUSES: readonly CaseStatus[] = ['open', 'investigating', 'resolved', 'dismissed'];
/** A resolved case's outcome: confirmed abuse counts against the account (confirmed-cases). */
export const CASE_OUTCOMES: readonly CaseOutcomeKind[] = ['confirmed', 'unfounded'];

export class Desk {
  constructor(
    private readonly store: Store,
    private readonly effects: Effects,
    private readonly config: Pick<Config, 'investigation' | 'cases' | 'rates' | 'guidance'>,
    private readonly clock: Clock,
    private readonly log: Logger,
    /** The recent SMS sends index: traces SMS reports that carry no token by their number. */
    private readonly sms: SmsIndex | null = null,
  ) {}

  async report(reported: AbuseInput): Promise<CaseOutcome> {
    const now = this.clock.now();
    const { input, trace } = await this.traceByNumber(reported, now);
    const at = new Date(now).toISOString();
    // Only a verified account is judged, and only a verified account can be suspended:
    // a forged report must never get a customer suspended.
    const account = input.verified ? input.account : null;
    const standing = account ? await this.standing(account, now) : null;
    const suspicious = suspicions(
      { feedbackType: input.feedbackType, phishing: input.phishing, tokenState: input.tokenState, originDomains: input.originDomains, account: standing?.figures ?? null, now },
      this.config.investigation,
    );
    const report: CaseReport = strip({
      reportId: input.reportId,
      at,
      channel: input.channel,
      reporter: input.reporter,
      tokenState: input.tokenState,
      headers: Object.keys(input.headers).length ? input.headers : undefined,
      phones: input.phones.length ? input.phones : undefined,
      description: input.description?.slice(0, 10_000) ?? undefined,
      recipient: input.recipient ?? undefined,
      sender: input.sender ?? undefined,
      attachments: input.attachments?.length ? input.attachments.slice(0, ATTACHMENTS_KEPT) : undefined,
      linkDomains: input.linkDomains?.length ? input.linkDomains.slice(0, LINK_DOMAINS_KEPT) : undefined,
    });
    // Who else reported this account lately: the independent-reporters rule counts them.
    const recent = account
      ? await this.store.noteReporter(account, { reportId: input.reportId, ipGroup: input.clientIp ? ipGroup(input.clientIp) : 'unknown', address: input.reporter?.toLowerCase() ?? null }, now, this.config.investigation.reporterWindowHours * 3_600_000)
      : [];
    const finding = account
      ? investigationSuspension(
          { reportId: input.reportId, verified: input.verified, trustedReporter: input.trustedReporter, feedbackType: input.feedbackType, standing: suspicious, recent, confirmedCases: standing?.confirmedCases ?? [] },
          { independentReporters: this.config.investigation.independentReporters, trustedFeedbackTypes: this.config.investigation.feedbackTypes },
        )
      : null;
    investigationOutcomes.inc({ rule: finding?.rule ?? 'none' });
    const record: CaseRecord = {
      id: 'case_' + newId(now),
      status: suspicious.length || finding ? 'investigating' : 'open',
      // Alarming words or a doubtful account put the case first in the desk's queue.
      ...(suspicious.length ? { priority: 'high' as const } : {}),
      channel: input.channel,
      reporter: input.reporter,
      account: input.account,
      campaign: input.campaign,
      createdAt: at,
      updatedAt: at,
      reportCount: 1,
      suspicious,
      reports: [report],
      notes: [],
      history: [],
      ...(input.recipient ? { recipient: input.recipient } : {}),
      ...(input.channel === 'sms'
        ? { attribution: { via: trace?.chosen ? 'number' : input.verified ? 'token' : 'none', ...(trace && trace.candidates.length ? { candidates: trace.candidates } : {}) } }
        : {}),
    };
    const saved = await this.store.saveCase(record, report, input.fingerprint, 'evt_' + newId(now), now, this.config.cases.reportsKept);
    // A redelivery (duplicate) changes nothing in the case. The steps after the case are
    // still taken: each is idempotent (a suspended account is not suspended again, the SMS
    // complaint has its own fingerprint), and the first delivery may have failed after
    // saving the case, before them.
    if (saved.outcome === 'joined' && (suspicious.length || finding) && saved.status === 'open') {
      await this.store.updateCase(saved.caseId, input.account, input.campaign, 'investigating', { at, by: 'abusegate', text: `suspicious report ${input.reportId}: ${suspicious.join(', ')}` }, 'abusegate', 'evt_' + newId(now), now);
    }
    let suspended = false;
    if (account && finding) {
      suspended = await this.store.suspendForInvestigation(account, input.channel === 'sms' ? 'sms' : 'email', now, Math.max(...this.config.rates.windowHours), {
        account,
        kind: 'investigation',
        rule: finding.rule,
        evidence: finding.evidence,
        caseId: saved.caseId,
        suspicions: suspicious,
        campaign: input.campaign,
        guidance: guidanceFor('investigation', this.config.guidance),
      });
      if (suspended) {
        accountActions.inc({ action: 'suspended', kind: 'investigation' });
        this.log.warn({ code: 'ACCOUNT_SUSPENDED', account, reason: 'investigation', rule: finding.rule, evidence: finding.evidence, caseId: saved.caseId, suspicious }, 'account suspended for investigation');
      }
    }
    // SMS complaints suppress the number and count toward the account's SMS figures.
    if (account && input.channel === 'sms') {
      for (const phone of input.phones) await this.effects.smsComplaint(account, input.campaign, phone, input.reportId, input.fingerprint);
    }
    return { caseId: saved.caseId, status: suspicious.length || finding ? 'investigating' : saved.status, joined: saved.outcome !== 'opened', suspicious, suspended, rule: suspended && finding ? finding.rule : null };
  }

  /**
   * An SMS report without a verified token is traced through the recent-sends index (see
   * rules/smstrace.ts): exactly one account → it becomes the report's account, campaign and
   * number, as trusted as a token (the platform itself told us it texted the number).
   */
  private async traceByNumber(input: AbuseInput, now: number): Promise<{ input: AbuseInput; trace: SmsTrace | null }> {
    if (!this.sms || input.channel !== 'sms' || input.verified || input.phones.length === 0) return { input, trace: null };
    const found = await Promise.all(input.phones.slice(0, 5).map(async (number) => ({ number, sends: await this.sms!.lookup(number, now) })));
    const trace = traceSms(found, input.sender ?? null);
    smsTraces.inc({ result: trace.chosen ? 'one' : trace.candidates.length ? 'several' : 'none' });
    if (!trace.chosen) return { input, trace };
    const c = trace.chosen;
    return { input: { ...input, account: c.account, campaign: c.campaign, verified: true, phones: [c.number], recipient: c.number }, trace };
  }

  /** What our own data says of the account, and its earlier confirmed cases. */
  private async standing(account: string, now: number) {
    const [a, confirmedCases] = await Promise.all([this.store.readAccount(account, 'email', now), this.store.confirmedCases(account)]);
    const pool = a.meta.pool === 'dedicated' ? 'dedicated' : 'shared';
    const judged = a.windows.filter((w) => w.sent >= this.config.rates.minVolume);
    return {
      figures: {
        warned: a.warnings.length > 0,
        complaintRate: judged.length ? Math.max(...judged.map((w) => w.complaints / w.sent)) : null,
        warnThreshold: this.config.rates.complaint[pool].warn,
        createdAt: a.meta.createdAt ? Number(a.meta.createdAt) : null,
        confirmedCases: confirmedCases.length,
      },
      confirmedCases,
    };
  }

  async get(caseId: string): Promise<CaseRecord & { consent: Record<string, unknown> | null }> {
    const c = await this.store.getCase(caseId);
    if (!c) throw new GatewayError('NOT_FOUND', `No case ${caseId}`);
    const channel: Channel = c.channel === 'sms' ? 'sms' : 'email';
    // Consents are kept under the normalised address (address.ts), the case keeps it as reported.
    const recipient = c.recipient ? (normaliseAddress(c.recipient, channel) ?? c.recipient) : null;
    const consent = c.account && recipient ? await this.store.getConsent(c.account, channel, recipient) : null;
    return { ...c, consent };
  }

  /** Newest first; `cursor` is the id of the last case of the previous page. */
  async list(filter: { account?: string; campaign?: string; status?: CaseStatus; limit?: number; cursor?: string }): Promise<{ items: CaseRecord[]; next: string | null }> {
    const limit = filter.limit ?? this.config.cases.pageSize;
    const items: CaseRecord[] = [];
    let before: string | null = filter.cursor ?? null;
    // Scan in batches until the page is full or the cases run out; filters are applied here.
    for (let scanned = 0; items.length < limit && scanned < 100_000; ) {
      const batch = await this.store.listCases(before, 500);
      if (batch.length === 0) return { items, next: null };
      scanned += batch.length;
      for (const c of batch) {
        before = c.id;
        if (filter.account && c.account !== filter.account) continue;
        if (filter.campaign && c.campaign !== filter.campaign) continue;
        if (filter.status && c.status !== filter.status) continue;
        items.push(c);
        if (items.length === limit) return { items, next: before };
      }
    }
    return { items, next: null };
  }

  /**
   * A reviewer's change. Resolving takes an outcome (confirmed abuse, or unfounded), and an
   * outcome is given only with the status resolved: a confirmed case counts against its
   * account in later investigations (confirmed-cases), once however often it is resolved.
   */
  async update(caseId: string, change: { status?: CaseStatus; note?: string; outcome?: CaseOutcomeKind }, by: string): Promise<CaseRecord> {
    if (change.status === 'resolved' && !change.outcome) throw new GatewayError('VALIDATION', 'resolving a case needs an outcome: confirmed or unfounded');
    if (change.outcome && change.status !== 'resolved') throw new GatewayError('VALIDATION', 'an outcome is given with the status resolved');
    const c = await this.store.getCase(caseId);
    if (!c) throw new GatewayError('NOT_FOUND', `No case ${caseId}`);
    const now = this.clock.now();
    const note = change.note ? { at: new Date(now).toISOString(), by, text: change.note } : null;
    const updated = await this.store.updateCase(caseId, c.account, c.campaign, change.status ?? null, note, by, 'evt_' + newId(now), now, change.outcome ?? null);
    if (!updated) throw new GatewayError('NOT_FOUND', `No case ${caseId}`);
    return updated;
  }
}

/** Drops undefined fields (Lua's cjson must not see empty arrays; see caseFromJson). */
function strip<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
