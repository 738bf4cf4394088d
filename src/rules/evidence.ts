/**
 * The evidence model (pure; docs/security.md, "Evidence model"): what a piece of evidence
 * may do to a customer's state. Anyone on the internet can send us mail and fill in the
 * form, so evidence is judged by what binds it to a real message of the account and to the
 * recipient it names, never by its words alone.
 *
 * - Suppress a recipient: only the recipient the evidence is bound to (a VERP bounce: the
 *   recipient its token was minted for; a complaint: the recipient of the reported mail).
 * - Count toward rates: complaints from trusted reporters; bounces only for the token's own
 *   recipient; one counted event per (account, recipient, kind) per dedup window.
 * - Suspend: rates past thresholds from countable evidence (rules/policy.ts), or, while the
 *   desk investigates, only by one of the rules of `investigationSuspension`.
 *
 * Effects (bounces, complaints) and the Desk (abuse reports) ask this module; nothing
 * else decides these questions.
 */
import type { RecipientReport } from '../parse/report.js';
import type { SuspicionReason } from './investigation.js';

/** The rule that suspended an account; recorded with the suspension and its event. */
export type SuspensionRule = 'complaint-rate' | 'bounce-rate' | 'own-data-and-token' | 'independent-reporters' | 'trusted-fraud';

/**
 * What the envelope token of a bounce (`bounces+TOKEN@`) says: which account, and whether
 * it speaks for a given recipient. null when the token did not verify.
 */
export interface BounceBinding {
  account: string;
  /** A legacy short token (minted before recipient binding, verifying during the transition). */
  legacy: boolean;
  boundTo(address: string): boolean;
}

export interface BounceTargets {
  /** The failed recipients the bounce may suppress and count. */
  allowed: RecipientReport[];
  /** Failed recipients named in the bounce that its token does not speak for. */
  ignored: number;
}

/**
 * Which recipients of a bounce may be acted on. A bounce to a VERP address is about the
 * one recipient that address was minted for: a receiving MTA returns one DSN per VERP
 * envelope, so any other Final-Recipient is someone's invention (issue 14: one recipient
 * of a campaign wrote a DSN naming 150 strangers). A legacy token names no recipient: it
 * is believed only for a DSN that names exactly one failed recipient.
 */
export function bounceTargets(recipients: readonly RecipientReport[], attributedAccount: string | null, binding: BounceBinding | null): BounceTargets {
  const failed = recipients.filter((r) => !r.action || r.action === 'failed');
  if (!binding || binding.account !== attributedAccount) return { allowed: [], ignored: failed.length };
  if (binding.legacy) {
    const named = failed.filter((r) => r.address);
    return named.length === 1 ? { allowed: named, ignored: failed.length - 1 } : { allowed: [], ignored: failed.length };
  }
  const allowed = failed.filter((r) => r.address !== null && binding.boundTo(r.address));
  return { allowed, ignored: failed.length - allowed.length };
}

/** Store counters: c complaint, u untrusted complaint, a auth-failure report. */
export type ComplaintCounter = 'c' | 'u' | 'a' | null;

/**
 * What an ARF report may do by its feedback type (RFC 5965 §7.3, RFC 6591) and its
 * reporter: only a trusted reporter's complaint counts toward the complaint rate; anyone's
 * complaint still suppresses the recipient of the reported mail (a person said no).
 */
export function complaintEvidence(feedbackType: string | null | undefined, trusted: boolean): { counter: ComplaintCounter; suppress: string | null } {
  switch (feedbackType) {
    case 'not-spam':
      return { counter: null, suppress: null };
    case 'opt-out':
      return { counter: null, suppress: 'unsubscribe' };
    case 'auth-failure':
      return { counter: 'a', suppress: null };
    default: // abuse, fraud, virus, other, and reports that name no type
      return { counter: trusted ? 'c' : 'u', suppress: 'complaint' };
  }
}

/**
 * The parts of the dedup fingerprint of a counted event: one per (account, recipient,
 * kind) per dedup window, whatever Message-ID or status the sender varies. Without an
 * address (a redacted complaint) the reported message tells reports apart.
 */
export function countedEventParts(kind: 'complaint' | 'hard-bounce' | 'soft-bounce', account: string, address: string | null, messageId: string): string[] {
  return address ? ['counted', kind, account, address] : ['counted', kind, account, '', messageId];
}

export interface ReporterSighting {
  reportId: string;
  /** The client IP grouped by /24 (IPv4) or /64 (IPv6): trust/ip.ts. */
  ipGroup: string;
  /** The reporter's address, lower case; null when none was given. */
  address: string | null;
}

export interface InvestigationEvidence {
  reportId: string;
  /** An authenticated token of the account names the reported message. */
  verified: boolean;
  /** The report came from a trusted feedback-loop reporter (trusted list, DKIM/SPF). */
  trustedReporter: boolean;
  feedbackType: string | null;
  /** What our own data says of the account (rules/investigation.ts). */
  standing: readonly SuspicionReason[];
  /** Reports about this account in the last 24 h, this one included. */
  recent: readonly ReporterSighting[];
  /** The account's earlier cases resolved as confirmed abuse (ids): evidence of confirmed-cases. */
  confirmedCases?: readonly string[];
}

/** Earlier confirmed cases named in a suspension's evidence (the newest). */
const CASES_IN_EVIDENCE = 10;

export interface InvestigationRules {
  /** Independent reporters that suspend while investigating (distinct IP groups and addresses). */
  independentReporters: number;
  /** Feedback types a trusted reporter may suspend with at once. */
  trustedFeedbackTypes: readonly string[];
}

export interface SuspensionFinding {
  rule: SuspensionRule;
  /** Report ids the rule rests on. */
  evidence: string[];
}

/** Distinct IP groups and distinct addresses among sightings, and who they were. */
export function independence(recent: readonly ReporterSighting[]): { groups: number; addresses: number; reportIds: string[] } {
  const groups = new Set<string>();
  const addresses = new Set<string>();
  const reportIds: string[] = [];
  for (const s of recent) {
    const fresh = !groups.has(s.ipGroup);
    groups.add(s.ipGroup);
    if (s.address) addresses.add(s.address);
    if (fresh) reportIds.push(s.reportId);
  }
  return { groups: groups.size, addresses: addresses.size, reportIds };
}

/**
 * Whether an abuse report suspends the account while the desk investigates (issue 14).
 * Words alone never do: a report in alarming language opens an `investigating` case with
 * high priority and suspends no one. A suspension needs one of:
 *
 * 1. trusted-fraud: a trusted feedback-loop reporter says `fraud` or `virus` about a
 *    message our token ties to the account;
 * 2. independent-reporters: N reporters from N distinct networks (/24, /64) with N distinct
 *    addresses report the account within 24 h;
 * 3. own-data-and-token: our own data already doubts the account (warned, complaint rate
 *    above its share of warn, earlier confirmed cases, or young *and* reported N times)
 *    and the report is about a real message of the account (verified token). The evidence
 *    is the report, and the confirmed cases when they are among the doubts.
 */
export function investigationSuspension(e: InvestigationEvidence, rules: InvestigationRules): SuspensionFinding | null {
  if (e.trustedReporter && e.verified && e.feedbackType && rules.trustedFeedbackTypes.includes(e.feedbackType)) {
    return { rule: 'trusted-fraud', evidence: [e.reportId] };
  }
  const n = rules.independentReporters;
  const ind = independence(e.recent);
  if (n > 0 && ind.groups >= n && ind.addresses >= n) return { rule: 'independent-reporters', evidence: ind.reportIds };
  const doubts = e.standing.filter((s) => s === 'account-warned' || s === 'complaint-rate' || s === 'confirmed-cases' || (s === 'new-account' && n > 0 && ind.groups >= n));
  if (e.verified && doubts.length > 0) {
    const cases = doubts.includes('confirmed-cases') ? (e.confirmedCases ?? []).slice(-CASES_IN_EVIDENCE) : [];
    return { rule: 'own-data-and-token', evidence: [e.reportId, ...cases] };
  }
  return null;
}
