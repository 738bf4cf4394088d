/**
 * Which help pages a customer should read, by the kind of trouble (pure). One table for
 * account.warned / account.suspended events and the preflight's reasons.
 */
import type { Config } from '../config/schema.js';

export type Guidance = Config['guidance'];
export type GuidanceTopic = keyof Guidance;

const TOPICS: Record<'complaint' | 'bounce' | 'investigation', GuidanceTopic[]> = {
  complaint: ['complaints', 'unsubscribe', 'consent'],
  bounce: ['bounces', 'listHygiene', 'consent'],
  investigation: ['consent', 'complaints', 'listHygiene'],
};

/** Most relevant first. Reasons: complaint(-rate), bounce(-rate), investigation, warnings. */
export function guidanceFor(reason: string | null, g: Guidance): Array<{ topic: GuidanceTopic; url: string }> {
  const kind = reason?.startsWith('bounce') ? 'bounce' : reason === 'investigation' ? 'investigation' : 'complaint';
  return TOPICS[kind].map((topic) => ({ topic, url: g[topic] }));
}

/** The same links as a primary one and the others. */
export function suspensionGuidance(reason: string | null, g: Guidance): { guidance: string; seeAlso: string[] } {
  const [first, ...rest] = guidanceFor(reason, g);
  return { guidance: first.url, seeAlso: rest.map((r) => r.url) };
}
