/**
 * Which abuse reports are suspicious enough to suspend the account while the desk
 * investigates (pure). Each rule can be switched off or tuned in config (investigation).
 */

export interface InvestigationConfig {
  /** ARF feedback types that suggest fraud or malware. */
  feedbackTypes: readonly string[];
  phishingLanguage: boolean;
  whenWarned: boolean;
  /** Suspicious when the complaint rate exceeds this share of the warn threshold (0: off). */
  complaintRateShareOfWarn: number;
  /** Suspicious when the account is younger than this (0: off). */
  accountYoungerThanDays: number;
  /** Suspicious when the account has at least this many earlier confirmed cases (0: off). */
  confirmedCases: number;
  /** Our sending domains: a report naming one with a missing or forged token is suspicious. */
  sendingDomains: readonly string[];
}

export interface InvestigationInput {
  feedbackType: string | null;
  phishing: boolean;
  tokenState: 'valid' | 'forged' | 'missing';
  originDomains: readonly string[];
  account: null | {
    warned: boolean;
    /** Highest complaint rate over the judged windows, or null below the minimum volume. */
    complaintRate: number | null;
    warnThreshold: number;
    createdAt: number | null;
    /** Earlier cases of the account that the desk resolved as confirmed abuse. */
    confirmedCases: number;
  };
  now: number;
}

export type SuspicionReason = 'feedback-type' | 'phishing-language' | 'account-warned' | 'complaint-rate' | 'new-account' | 'confirmed-cases' | 'token-missing-or-forged';

export function suspicions(i: InvestigationInput, cfg: InvestigationConfig): SuspicionReason[] {
  const out: SuspicionReason[] = [];
  if (i.feedbackType && cfg.feedbackTypes.includes(i.feedbackType)) out.push('feedback-type');
  if (cfg.phishingLanguage && i.phishing) out.push('phishing-language');
  const a = i.account;
  if (a) {
    if (cfg.whenWarned && a.warned) out.push('account-warned');
    if (cfg.complaintRateShareOfWarn > 0 && a.complaintRate !== null && a.complaintRate > a.warnThreshold * cfg.complaintRateShareOfWarn) out.push('complaint-rate');
    if (cfg.accountYoungerThanDays > 0 && a.createdAt !== null && i.now - a.createdAt < cfg.accountYoungerThanDays * 86_400_000) out.push('new-account');
    if (cfg.confirmedCases > 0 && a.confirmedCases >= cfg.confirmedCases) out.push('confirmed-cases');
  }
  if (i.tokenState !== 'valid' && cfg.sendingDomains.length > 0) {
    const ours = (d: string) => cfg.sendingDomains.some((s) => d === s || d.endsWith('.' + s));
    if (i.originDomains.some((d) => ours(d.toLowerCase()))) out.push('token-missing-or-forged');
  }
  return out;
}
