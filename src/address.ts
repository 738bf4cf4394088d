/**
 * One normalisation for every address the gateway stores or looks up, so that a
 * suppression written from a bounce matches the MTA's lookup of the same mailbox.
 * The local part keeps its case (RFC 5321 §2.4: only the receiving host may fold it);
 * the domain is lower-cased and IDNs become punycode (RFC 5890 A-labels).
 */
import { domainToASCII } from 'node:url';

export type Channel = 'email' | 'sms';

export function normaliseEmail(input: string): string | null {
  let s = input.trim();
  if (s.startsWith('<') && s.endsWith('>')) s = s.slice(1, -1).trim();
  const at = s.lastIndexOf('@');
  if (at <= 0 || at === s.length - 1) return null;
  const local = s.slice(0, at);
  if (local.length > 64 || /[\s<>]/.test(local)) return null;
  const domain = domainToASCII(s.slice(at + 1).replace(/\.$/, '').toLowerCase());
  if (!domain || !/^[a-z0-9.-]+$/.test(domain) || !domain.includes('.') && domain !== 'localhost') return null;
  return `${local}@${domain}`;
}

/** E.164: a plus sign and 8 to 15 digits; separators dropped. */
export function normalisePhone(input: string): string | null {
  const s = input.trim().replace(/[\s().-]/g, '');
  return /^\+[1-9]\d{7,14}$/.test(s) ? s : null;
}

export function normaliseAddress(input: string, channel: Channel): string | null {
  return channel === 'sms' ? normalisePhone(input) : normaliseEmail(input);
}
