/**
 * Complaint and bounce policy (pure): given an account's figures per rolling window,
 * decide whether to warn or suspend, and what the guards make of it (one warning per
 * cooldown, suspension after N warnings). The gateway takes the decision inside the
 * script that counts the report (store/lua/lib/decision.lua, in recordMessage): this file
 * is its reference model, and test/store/decision.test.ts runs random sequences through both.
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

/** What the guards know of an account. */
export interface Standing {
  suspended: boolean;
  /** When the last warning was given (0: never). */
  lastWarnAt: number;
  /** When each warning still kept was given. */
  warnings: number[];
}

export interface Guards {
  cooldownMs: number;
  warningsToSuspend: number;
  /** Warnings count (and are kept) for this long. */
  warningWindowMs: number;
}

export type Outcome = 'none' | 'cooldown' | 'warned' | 'suspended';

/**
 * A decision put into effect: a suspended account is not warned or suspended again; a
 * warning within the cooldown of the last one is not given (checked before anything else);
 * the Nth warning within the warning window suspends. Returns the standing after it.
 */
export function guard(s: Standing, d: Decision, now: number, g: Guards): { outcome: Outcome; standing: Standing } {
  if (s.suspended || d.action === 'none') return { outcome: 'none', standing: s };
  if (d.action === 'warn' && now - s.lastWarnAt < g.cooldownMs) return { outcome: 'cooldown', standing: s };
  const warnings = s.warnings.filter((at) => at > now - g.warningWindowMs);
  if (d.action === 'suspend') return { outcome: 'suspended', standing: { ...s, suspended: true, warnings } };
  warnings.push(now);
  const suspended = warnings.length >= g.warningsToSuspend;
  return { outcome: suspended ? 'suspended' : 'warned', standing: { suspended, lastWarnAt: now, warnings } };
}
