/**
 * The sign-up address's domain. Sources: mailchecker's list of disposable-mailbox domains
 * and email-providers' list of free mailbox providers (both npm packages, updated by a
 * dependency bump). Loaded on first use: ~60,000 names that a gateway which never vets
 * need not hold.
 */
import { createRequire } from 'node:module';
import type { Signal } from '../signal.js';

const require = createRequire(import.meta.url);
let disposable: Set<string> | null = null;
let free: Set<string> | null = null;

const DISPOSABLE_SOURCE = 'mailchecker (disposable mailbox domains)';
const FREE_SOURCE = 'email-providers (free mailbox providers)';

/** The domain and each parent (mail.example.co.uk, example.co.uk, co.uk): lists name the registered domain. */
function selfAndParents(domain: string): string[] {
  const labels = domain.split('.');
  return labels.slice(0, -1).map((_, i) => labels.slice(i).join('.'));
}

export function addressSignals(email: string): Signal[] {
  const at = email.lastIndexOf('@');
  const domain = email.slice(at + 1).toLowerCase().replace(/\.$/, '');
  disposable ??= (require('mailchecker') as { blacklist(): Set<string> }).blacklist();
  free ??= new Set(require('email-providers/all.json') as string[]);
  const names = selfAndParents(domain);
  const out: Signal[] = [];
  const d = names.find((n) => disposable!.has(n));
  out.push(
    d
      ? { code: 'email.disposable', severity: 'high', value: d, message: `${d} is a disposable (throwaway) mailbox service`, source: DISPOSABLE_SOURCE, weight: 0 }
      : { code: 'email.ok', severity: 'info', value: domain, message: `${domain} is not a known disposable mailbox service`, source: DISPOSABLE_SOURCE, weight: 0 },
  );
  const f = names.find((n) => free!.has(n));
  if (f) out.push({ code: 'email.free-mailbox', severity: 'low', value: f, message: `${f} is a free mailbox provider, not the sender's own domain`, source: FREE_SOURCE, weight: 0 });
  return out;
}
