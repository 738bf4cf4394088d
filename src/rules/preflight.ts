/**
 * Campaign preflight rules (pure): the figures of a list and of its account → send, review
 * or block, a score and the reasons, each in words a customer understands with a link to
 * what to change. Thresholds come from config (preflight); config/default.yaml says why
 * each default is what it is, and the sentences below repeat those reasons to the customer.
 */

import { type Guidance, suspensionGuidance } from './guidance.js';

export { suspensionGuidance };

export type PreflightDecision = 'send' | 'review' | 'block';

/** Suppression buckets the stats count (admin-sourced entries count as `manual`). */
export const SUPPRESSION_BUCKETS = ['complaint', 'hard-bounce', 'soft-bounce-limit', 'unsubscribe', 'manual', 'other'] as const;
export type SuppressionBucket = (typeof SUPPRESSION_BUCKETS)[number];

/** Which bucket a stored suppression counts in. */
export function suppressionBucket(rec: { reason: string; source: string }): SuppressionBucket {
  if (rec.source === 'admin') return 'manual';
  switch (rec.reason) {
    case 'complaint':
    case 'hard-bounce':
    case 'soft-bounce-limit':
    case 'unsubscribe':
    case 'manual':
      return rec.reason;
    default:
      return 'other';
  }
}

export interface PreflightFigures {
  /** Entries received (duplicates and invalid ones included). */
  size: number;
  /** Distinct valid addresses after normalisation. */
  unique: number;
  duplicates: number;
  invalid: number;
  /** Distinct valid addresses whose local part names a role (abuse@, noreply@, …). */
  role: number;
  /** Distinct addresses already suppressed for this account, by bucket. */
  suppressed: Record<SuppressionBucket, number>;
  /** Distinct addresses on the global list (spam traps, never-mail). */
  global: number;
  /** Distinct addresses with a double opt-in confirmation we witnessed; null when the rule is off for this account. */
  witnessed: number | null;
  account: {
    status: 'active' | 'warned' | 'suspended';
    suspendReason: string | null;
    /** Highest complaint rate over the judged windows; null below the minimum volume. */
    complaintRate: number | null;
    /** The complaint warn threshold of the account's pool. */
    complaintWarn: number;
    /** The latest vetting decision (a reviewer's, when one reviewed it); null: never vetted. */
    vetting: 'approve' | 'review' | 'reject' | null;
  };
}

export interface PreflightRules {
  blockSuppressedShare: number;
  reviewRoleShare: number;
  reviewInvalidShare: number;
  reviewGlobalHits: number;
  reviewComplaintRateShareOfWarn: number;
  /** Review every campaign of an account whose vetting says review or reject, until a reviewer approves it. */
  reviewUnvettedAccounts: boolean;
  /** Review when more than this share of the list has no witnessed double opt-in (0: off). */
  reviewUnwitnessedShare: number;
}

export type { Guidance };

export type ReasonCode = 'account-suspended' | 'previously-suppressed' | 'role-addresses' | 'invalid-addresses' | 'global-list' | 'complaint-rate' | 'account-vetting' | 'unwitnessed-consent';

export interface PreflightReason {
  code: ReasonCode;
  severity: 'review' | 'block';
  message: string;
  guidance: string;
  /** The measured figure and the configured line it crossed. */
  value: number;
  threshold: number;
}

export interface PreflightVerdict {
  decision: PreflightDecision;
  /** 0–100: 0–39 send, 40–69 review, 70–100 block; within a band, how far past the line. */
  score: number;
  reasons: PreflightReason[];
}

const pct = (x: number) => `${(x * 100).toFixed(x < 0.001 ? 3 : x < 0.1 ? 2 : 1).replace(/\.?0+$/, '')} %`;
const n = (x: number) => x.toLocaleString('en-US');
const plural = (count: number, one: string, many: string) => `${n(count)} ${count === 1 ? one : many}`;
const share = (part: number, whole: number) => (whole > 0 ? part / whole : 0);

interface Rule {
  code: ReasonCode;
  severity: 'review' | 'block';
  /** The figure judged; null: cannot be judged (e.g. too little volume). */
  value(f: PreflightFigures): number | null;
  /** The line; 0 switches the rule off. */
  threshold(f: PreflightFigures, r: PreflightRules): number;
  /** Counts fire at the line (≥); shares and rates above it (>). */
  atLine?: boolean;
  guidance(f: PreflightFigures, g: Guidance): string;
  message(f: PreflightFigures, value: number, threshold: number): string;
}

/** The rules, most severe first; each is documented with its default in config/default.yaml. */
export const RULES: readonly Rule[] = [
  {
    code: 'account-suspended',
    severity: 'block',
    value: (f) => (f.account.status === 'suspended' ? 1 : 0),
    threshold: () => 1,
    atLine: true,
    guidance: (f, g) => suspensionGuidance(f.account.suspendReason, g).guidance,
    message: (f) =>
      `Your account is suspended${f.account.suspendReason ? ` (${f.account.suspendReason})` : ''}: no campaign can be sent until the abuse desk reinstates it. ` +
      'Follow the linked guidance and reply to the notice you received.',
  },
  {
    code: 'previously-suppressed',
    severity: 'block',
    value: (f) => share(f.suppressed.complaint + f.suppressed['hard-bounce'], f.unique),
    threshold: (_f, r) => r.blockSuppressedShare,
    guidance: (_f, g) => g.listHygiene,
    message: (f, v, t) =>
      `${pct(v)} of this list (${plural(f.suppressed.complaint, 'complaint', 'complaints')} and ${plural(f.suppressed['hard-bounce'], 'hard bounce', 'hard bounces')} among ${plural(f.unique, 'address', 'addresses')}) ` +
      `already complained about or bounced your earlier mail; the limit is ${pct(t)}. A list like this was usually bought, scraped or left to go stale, ` +
      'and sending to it again hurts delivery for you and for every customer who shares your sending IPs. Send only to people who asked for your mail recently.',
  },
  {
    code: 'role-addresses',
    severity: 'review',
    value: (f) => share(f.role, f.unique),
    threshold: (_f, r) => r.reviewRoleShare,
    guidance: (_f, g) => g.consent,
    message: (f, v, t) =>
      `${pct(v)} of this list are role addresses such as abuse@, postmaster@ or noreply@ (${plural(f.role, 'address', 'addresses')}); the limit is ${pct(t)}. ` +
      'People do not sign up with them, so a list full of them was not opted in. Collect addresses with double opt-in.',
  },
  {
    code: 'invalid-addresses',
    severity: 'review',
    value: (f) => share(f.invalid, f.size),
    threshold: (_f, r) => r.reviewInvalidShare,
    guidance: (_f, g) => g.consent,
    message: (f, v, t) =>
      `${pct(v)} of the entries (${n(f.invalid)}) are not valid email addresses; the limit is ${pct(t)}. ` +
      'Addresses typed by hand and never confirmed end up like this: double opt-in catches them before they reach your list.',
  },
  {
    code: 'global-list',
    severity: 'review',
    value: (f) => f.global,
    threshold: (_f, r) => r.reviewGlobalHits,
    atLine: true,
    guidance: (_f, g) => g.listHygiene,
    message: (f) =>
      `${n(f.global)} ${f.global === 1 ? 'address is' : 'addresses are'} on our global do-not-mail list, which holds known spam traps. ` +
      'Nobody signs up with a spam trap: finding one means part of this list did not come from your subscribers. They were removed from the send; check where the list came from.',
  },
  {
    code: 'account-vetting',
    severity: 'review',
    value: (f) => (f.account.vetting === 'review' || f.account.vetting === 'reject' ? 1 : 0),
    threshold: (_f, r) => (r.reviewUnvettedAccounts ? 1 : 0),
    atLine: true,
    guidance: (_f, g) => g.consent,
    message: () =>
      'Your account is new and the abuse desk has not finished checking it yet: this campaign waits for a reviewer. ' +
      'Make sure your sending domain publishes SPF and DMARC and that your list was collected with double opt-in.',
  },
  {
    code: 'unwitnessed-consent',
    severity: 'review',
    value: (f) => (f.witnessed === null ? null : share(f.unique - f.witnessed, f.unique)),
    threshold: (_f, r) => r.reviewUnwitnessedShare,
    guidance: (_f, g) => g.consent,
    message: (f, v, t) =>
      `${pct(v)} of this list (${plural(f.unique - (f.witnessed ?? 0), 'address', 'addresses')}) never confirmed a subscription through a double opt-in link; the limit is ${pct(t)}. ` +
      'Send confirmation links from your sign-up forms and mail only those who confirmed.',
  },
  {
    code: 'complaint-rate',
    severity: 'review',
    value: (f) => f.account.complaintRate,
    threshold: (f, r) => f.account.complaintWarn * r.reviewComplaintRateShareOfWarn,
    guidance: (_f, g) => g.complaints,
    message: (f, v, t) =>
      `Your recent complaint rate is ${pct(v)}, above ${pct(t)} (half the ${pct(f.account.complaintWarn)} at which we warn). ` +
      'Another campaign to an unengaged list could push it over. Make unsubscribing easy and send only to people who engage.',
  },
];

/** Runs every rule over the figures: the decision, the score and the reasons that fired. */
export function judgePreflight(f: PreflightFigures, rules: PreflightRules, guidance: Guidance): PreflightVerdict {
  const reasons: PreflightReason[] = [];
  let score = 0;
  for (const rule of RULES) {
    const value = rule.value(f);
    const threshold = rule.threshold(f, rules);
    if (value === null || threshold <= 0) continue;
    const p = value / threshold;
    const fired = rule.atLine ? value >= threshold : value > threshold;
    let s: number;
    if (!fired) s = 39 * Math.min(p, 1);
    else if (rule.code === 'account-suspended') s = 100;
    else if (rule.severity === 'block') s = 70 + 30 * Math.min(1, p - 1);
    else s = 40 + 29 * Math.min(1, p - 1);
    score = Math.max(score, s);
    if (fired) {
      const round = (x: number) => Math.round(x * 1e6) / 1e6;
      reasons.push({ code: rule.code, severity: rule.severity, message: rule.message(f, value, threshold), guidance: rule.guidance(f, guidance), value: round(value), threshold: round(threshold) });
    }
  }
  const decision: PreflightDecision = reasons.some((r) => r.severity === 'block') ? 'block' : reasons.length ? 'review' : 'send';
  return { decision, score: Math.round(score), reasons };
}
