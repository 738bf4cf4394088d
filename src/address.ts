/**
 * One normalisation for every address the gateway stores or looks up, so that a
 * suppression written from a bounce matches the MTA's lookup of the same mailbox.
 * The local part keeps its case (RFC 5321 §2.4: only the receiving host may fold it);
 * the domain is lower-cased and IDNs become punycode (RFC 5890 A-labels).
 */
import { domainToASCII } from 'node:url';

export type Channel = 'email' | 'sms';

const PLAIN_DOMAIN = /^[a-z0-9-]+(\.[a-z0-9-]+)*$/;
/** A last label with a letter and no 0x prefix: never the IPv4 number WHATWG parsing looks for. */
const PLAIN_TLD = /^(?!0x)[^.]*[a-z][^.]*$/;

export function normaliseEmail(input: string): string | null {
  let s = input.trim();
  if (s.startsWith('<') && s.endsWith('>')) s = s.slice(1, -1).trim();
  const at = s.lastIndexOf('@');
  if (at <= 0 || at === s.length - 1) return null;
  const local = s.slice(0, at);
  if (local.length > 64 || /[\s<>]/.test(local)) return null;
  const lower = s.slice(at + 1).replace(/\.$/, '').toLowerCase();
  // Plain ASCII names are already what domainToASCII would return (checked against it on a
  // million random names), so only IDNs, A-labels and names whose last label could be read
  // as a number go through it — otherwise it is the costliest step of a lookup.
  const domain = PLAIN_DOMAIN.test(lower) && !lower.includes('xn--') && PLAIN_TLD.test(lower.slice(lower.lastIndexOf('.') + 1)) ? lower : domainToASCII(lower);
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
