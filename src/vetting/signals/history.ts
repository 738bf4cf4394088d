/**
 * Our own data: earlier accounts that signed up with the same address, domain or network
 * (IPv4 /24, IPv6 /64 — one operator's range) and are suspended now; and, re-scored as the
 * account sends, its own complaint rate against the warn line.
 */
import { isIP } from 'node:net';
import type { IndexKind, VettingStore } from '../../store/vetting.js';
import type { Signal } from '../signal.js';
import { canonicalIp } from './ip.js';

const LINKED_LIMIT = 50;

/** The network an address belongs to for linking: /24 for IPv4, /64 for IPv6. */
export function networkOf(rawIp: string): string | null {
  const ip = canonicalIp(rawIp);
  if (isIP(ip) === 4) return ip.split('.').slice(0, 3).join('.') + '.0/24';
  if (isIP(ip) === 6) {
    const [head, tail = ''] = ip.toLowerCase().split('::');
    const h = head ? head.split(':') : [];
    const t = tail ? tail.split(':') : [];
    const groups = ip.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
    return groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':') + '::/64';
  }
  return null;
}

export function indexEntries(input: { email: string; domain: string | null; signupIp: string | null }): Array<[IndexKind, string]> {
  const out: Array<[IndexKind, string]> = [['email', input.email.toLowerCase()]];
  if (input.domain) out.push(['domain', input.domain.toLowerCase()]);
  const net = input.signupIp ? networkOf(input.signupIp) : null;
  if (net) out.push(['net', net]);
  return out;
}

const LABEL: Record<IndexKind, string> = { email: 'sign-up address', domain: 'domain', net: 'network' };

export async function historySignals(
  account: string,
  entries: Array<[IndexKind, string]>,
  store: VettingStore,
  standing: { complaintRate: number | null; complaintWarn: number },
): Promise<Signal[]> {
  const out: Signal[] = [];
  for (const [kind, value] of entries) {
    const others = await store.linked(kind, value, account, LINKED_LIMIT);
    const bad = others.length ? await store.suspended(others) : [];
    if (bad.length) {
      out.push({
        code: 'history.linked-suspended',
        severity: 'high',
        value: bad.slice(0, 10).join(','),
        message: `${bad.length} suspended account(s) signed up with the same ${LABEL[kind]} ${value}: ${bad.slice(0, 10).join(', ')}`,
        source: 'abusegate accounts',
        weight: 0,
      });
    }
  }
  if (standing.complaintRate !== null && standing.complaintRate >= standing.complaintWarn) {
    out.push({
      code: 'history.complaint-rate',
      severity: 'high',
      value: standing.complaintRate,
      message: `the account's complaint rate ${(standing.complaintRate * 100).toFixed(3)} % is past the warn line ${(standing.complaintWarn * 100).toFixed(3)} %`,
      source: 'abusegate complaint figures',
      weight: 0,
    });
  }
  return out;
}
