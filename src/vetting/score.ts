/**
 * Pure: signals → score and decision. Score = 100 minus the weight of every signal that
 * fired (config vetting.weights), and of every unavailable source (weights.unavailable).
 * An account is approved only when the score reaches approveAt AND every source answered:
 * what we could not check we do not vouch for.
 */
import type { Config } from '../config/schema.js';
import { SIGNAL_WEIGHTS, type Signal } from './signal.js';

export type VettingDecision = 'approve' | 'review' | 'reject';

export function weigh(signals: readonly Signal[], cfg: Config['vetting']): Signal[] {
  return signals.map((s) => {
    if (s.severity === 'unavailable') return { ...s, weight: cfg.weights.unavailable };
    const key = SIGNAL_WEIGHTS[s.code as keyof typeof SIGNAL_WEIGHTS];
    return { ...s, weight: key ? cfg.weights[key] : 0 };
  });
}

export function decide(weighed: readonly Signal[], cfg: Config['vetting']): { score: number; decision: VettingDecision } {
  const score = Math.max(0, 100 - weighed.reduce((n, s) => n + s.weight, 0));
  const blind = weighed.some((s) => s.severity === 'unavailable');
  const decision: VettingDecision = score < cfg.rejectBelow ? 'reject' : score >= cfg.approveAt && !blind ? 'approve' : 'review';
  return { score, decision };
}
