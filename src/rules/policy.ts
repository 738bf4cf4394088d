/**
 * Complaint and bounce policy (pure): given an account's figures per rolling window,
 * decide whether to warn or suspend. The guarded, atomic application of the decision
 * (one warning per cooldown, suspension after N warnings) is in store/lua/applyDecision.
 */

export type Pool = 'shared' | 'dedicated';
export type RateKind = 'complaint' | 'bounce';

export interface WindowFigures {
  name: string;
  hours: number;
  sent: number;
  complaints: number;
  hardBounces: number;
}

export interface RateThresholds {
  warn: number;
  suspend: number;
}

export interface PolicyConfig {
  minVolume: number;
  complaint: Record<Pool, RateThresholds>;
  bounce: RateThresholds;
}

export interface Evidence {
  kind: RateKind;
  window: string;
  sent: number;
  count: number;
  rate: number;
  threshold: number;
}

export type Decision = { action: 'none' } | { action: 'warn' | 'suspend'; evidence: Evidence };

/**
 * The most severe finding over all windows: a rate above the suspend threshold in any
 * window suspends; otherwise a rate above the warn threshold warns. Windows with fewer
 * sends than minVolume are not judged (a few complaints on a tiny send say little).
 */
export function decide(kind: RateKind, pool: Pool, windows: WindowFigures[], cfg: PolicyConfig): Decision {
  const t = kind === 'complaint' ? cfg.complaint[pool] : cfg.bounce;
  let warn: Evidence | null = null;
  for (const w of windows) {
    if (w.sent < cfg.minVolume) continue;
    const count = kind === 'complaint' ? w.complaints : w.hardBounces;
    const rate = count / w.sent;
    if (rate > t.suspend) return { action: 'suspend', evidence: { kind, window: w.name, sent: w.sent, count, rate, threshold: t.suspend } };
    if (rate > t.warn && (!warn || rate > warn.rate)) warn = { kind, window: w.name, sent: w.sent, count, rate, threshold: t.warn };
  }
  return warn ? { action: 'warn', evidence: warn } : { action: 'none' };
}
