/**
 * Recipient addresses as bounces write them: `rfc822; <User@Example.COM>`, `"user@host":`,
 * `<user@host>...`, `user@host (unrecoverable error)`. We keep the local part as given
 * (RFC 5321 §2.4: it may be case-sensitive) and lower-case the domain.
 */

/** One address inside free text; quoted local parts ("a..b"@host) included. */
export const ADDRESS_SOURCE = String.raw`(?:"[^"\s]{1,64}"|[A-Za-z0-9!#$%&'*+/=?^_\`{|}~.-]{1,64})@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,253}[A-Za-z0-9])?`;
const ADDRESS_ANYWHERE = new RegExp(ADDRESS_SOURCE);
const ADDRESS_GLOBAL = new RegExp(ADDRESS_SOURCE, 'g');

/** Normalises one address, or returns null when the text holds none. */
export function normaliseAddress(raw: string | undefined | null): string | null {
  if (!raw) return null;
  let s = raw.trim();
  // DSN address-type prefix (RFC 3464 §2.3.2): "rfc822; addr"
  const semi = /^[A-Za-z0-9-]+\s*;\s*/.exec(s);
  if (semi) s = s.slice(semi[0].length);
  const m = ADDRESS_ANYWHERE.exec(s);
  if (!m) return null;
  return lowerDomain(cleanLocal(m[0]));
}

/** All distinct addresses in a text, in order of appearance. */
export function findAddresses(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(ADDRESS_GLOBAL)) {
    const a = lowerDomain(cleanLocal(m[0]));
    if (!out.includes(a)) out.push(a);
  }
  return out;
}

function cleanLocal(a: string): string {
  // A leading dot or quote left over from "…'user@host'" punctuation is not part of the address.
  return a.replace(/^[.'`]+/, '').replace(/\.+$/, '');
}

function lowerDomain(a: string): string {
  const at = a.lastIndexOf('@');
  return at < 0 ? a : a.slice(0, at + 1) + a.slice(at + 1).toLowerCase();
}
