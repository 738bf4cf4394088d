import client from 'prom-client';
import { registry } from '../metrics.js';

/** What a basis says, without the domain or range it names (label values stay a closed list). */
export const BASIS_KINDS = ['ip', 'dkim', 'dmarc', 'spf', 'no-trusted-signature', 'temperror', 'error'] as const;
export type BasisKind = (typeof BASIS_KINDS)[number];

export const reporterAuthTotal = new client.Counter({
  name: 'abusegate_reporter_auth_total',
  help: 'Feedback-loop reports authenticated, by verdict (trusted, unverified) and basis (ip, dkim, dmarc, spf, no-trusted-signature, temperror, error)',
  labelNames: ['verdict', 'basis'] as const,
  registers: [registry],
});

export function basisKind(basis: string): BasisKind {
  const k = basis.split(':', 1)[0] as BasisKind;
  return BASIS_KINDS.includes(k) ? k : 'error';
}
