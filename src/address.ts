/**
 * The one place that knows what an e-mail address is: reading one exactly out of a header
 * field (RFC 5322 §3.4, RFC 6532 UTF-8), a DSN field (RFC 3464 §2.1.2 address types, RFC 6533
 * `utf-8;`) or free text, and the one normal form used to store and look up addresses (SMTP,
 * HTTP and the policy service all go through `normaliseEmail`).
 *
 * Exact or nothing: an address that cannot be read whole is null, never a part of one (a
 * local part over 64 octets is refused, not cut to its last 64 characters). Every reader is a
 * single left-to-right scan (no regular expressions over the input), so hostile text costs
 * time in proportion to its length.
 *
 * Two forms:
 * - the *display form* (what a Report carries): local part as written (quotes kept), domain
 *   lower-cased and kept as written, U-labels included (`user@bücher.example`);
 * - the *key* (`normaliseEmail`): local part case-folded (mailbox providers and our MTA treat
 *   it case-insensitively; RFC 5321 §2.4 allows a host to), a quoted local part that needs no
 *   quotes unquoted (RFC 5321 §4.1.2: `"john"@x` is `john@x`), domain in A-label form (RFC 5890).
 */
import { domainToASCII } from 'node:url';

export type Channel = 'email' | 'sms';

/** RFC 5321 §4.5.3.1.1. */
const MAX_LOCAL_OCTETS = 64;
/** RFC 5321 §4.5.3.1.2, and 63 per label (RFC 1035 §2.3.4). */
const MAX_DOMAIN_OCTETS = 253;
const MAX_LABEL_OCTETS = 63;
/** Nested comments followed (RFC 5322 §3.2.2 allows any depth; nobody needs more). */
const MAX_COMMENT_DEPTH = 8;
/** Longest header value read for addresses: a To of a thousand recipients fits. */
const MAX_FIELD = 64 * 1024;

// ---------------------------------------------------------------------------------------
// Characters

/** RFC 5322 §3.2.3 atext, plus any non-ASCII character (RFC 6532 §3.2 UTF8-non-ascii). */
function isAtext(c: number): boolean {
  if (c >= 0x80) return c !== 0xa0 && !(c >= 0x2000 && c <= 0x200b) && c !== 0x3000 && c !== 0xfeff;
  if ((c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39)) return true;
  // ! # $ % & ' * + - / = ? ^ _ ` { | } ~
  return c === 33 || (c >= 35 && c <= 39) || c === 42 || c === 43 || c === 45 || c === 47 || c === 61 || c === 63 || (c >= 94 && c <= 96) || (c >= 123 && c <= 126);
}

/** Letters, digits, hyphen, and non-ASCII (an IDN's U-label) make up a domain label. */
function isLabelChar(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 45 || (c >= 0x80 && isAtext(c));
}

function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/** A dot-atom (RFC 5322 §3.2.3): atext runs joined by single dots. */
function isDotAtom(s: string): boolean {
  if (s.length === 0 || s.charCodeAt(0) === 46 || s.charCodeAt(s.length - 1) === 46) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      if (s.charCodeAt(i + 1) === 46) return false;
    } else if (!isAtext(c)) return false;
  }
  return true;
}

/** A quoted-string local part (RFC 5322 §3.2.4), quotes included; no CR/LF, escapes paired. */
function isQuotedLocal(s: string): boolean {
  if (s.length < 3 || s[0] !== '"' || s[s.length - 1] !== '"') return false;
  for (let i = 1; i < s.length - 1; i++) {
    const c = s.charCodeAt(i);
    if (c === 92) {
      if (i + 1 >= s.length - 1) return false;
      i++;
    } else if (c === 34 || c === 10 || c === 13 || c === 0) return false;
  }
  return true;
}

/** The local part as written, or null when it is not one (or longer than 64 octets). */
function checkLocal(local: string): string | null {
  if (utf8Length(local) > MAX_LOCAL_OCTETS) return null;
  return isDotAtom(local) || isQuotedLocal(local) ? local : null;
}

/**
 * The domain lower-cased (U-labels kept), a trailing root dot dropped; null when not a host
 * name. A single label (`user@mailhub`) is a host name in a field that holds one address, but
 * not in free text, where `name@host` is too often something else.
 */
function checkDomain(raw: string, singleLabel = true): string | null {
  let d = raw.endsWith('.') ? raw.slice(0, -1) : raw;
  if (d.length === 0 || utf8Length(d) > MAX_DOMAIN_OCTETS) return null;
  // An address literal ([192.0.2.1]) names no mailbox a suppression could be about.
  d = d.toLowerCase();
  let labelStart = 0;
  for (let i = 0; i <= d.length; i++) {
    const c = i < d.length ? d.charCodeAt(i) : 46;
    if (c === 46) {
      const len = i - labelStart;
      if (len === 0 || len > MAX_LABEL_OCTETS || d.charCodeAt(labelStart) === 45 || d.charCodeAt(i - 1) === 45) return null;
      labelStart = i + 1;
    } else if (!isLabelChar(c)) return null;
  }
  if (!singleLabel && d.indexOf('.') < 0 && d !== 'localhost') return null;
  // The last label of a host name is never all digits (RFC 3696 §2): `user@1.2.3.4` is not one.
  if (/^[0-9]+$/.test(d.slice(d.lastIndexOf('.') + 1))) return null;
  return d;
}

// ---------------------------------------------------------------------------------------
// One address

/**
 * Exactly one addr-spec (`local@domain`, optionally in angle brackets and surrounded by
 * space), in display form; null for anything else.
 */
export function parseAddrSpec(input: string | null | undefined): string | null {
  if (!input) return null;
  let s = input.trim();
  if (s.startsWith('<') && s.endsWith('>')) s = s.slice(1, -1).trim();
  const at = s.lastIndexOf('@');
  if (at <= 0 || at === s.length - 1) return null;
  const local = checkLocal(s.slice(0, at));
  const domain = local === null ? null : checkDomain(s.slice(at + 1));
  return local !== null && domain !== null ? `${local}@${domain}` : null;
}

/**
 * The address of a DSN recipient field (RFC 3464 §2.1.2: `address-type ; address`):
 * `rfc822` as an addr-spec, `utf-8` (RFC 6533 §3) with its `\x{HEX}` escapes decoded.
 * Without a type the value is read as rfc822. Comments after the address are dropped.
 */
export function dsnAddress(value: string | null | undefined): string | null {
  if (!value) return null;
  let v = value.trim();
  let type = 'rfc822';
  const semi = v.indexOf(';');
  if (semi > 0 && semi <= 20 && /^[A-Za-z0-9-]+\s*$/.test(v.slice(0, semi))) {
    type = v.slice(0, semi).trim().toLowerCase();
    v = v.slice(semi + 1).trim();
  }
  if (type === 'utf-8') v = decodeUtf8Addr(v);
  else if (type !== 'rfc822') return null; // x400, unknown: not a mailbox we can name
  // `"user@host"`: some MTAs quote the whole address.
  if (v.length > 2 && v[0] === '"' && v.endsWith('"') && v.indexOf('"', 1) === v.length - 1 && v.includes('@')) v = v.slice(1, -1);
  const list = addressList(v, 1);
  return list.length === 1 ? list[0] : null;
}

/** RFC 6533 §3 utf-8-addr-xtext / -unitext: `\x{HEX}` stands for one code point. */
function decodeUtf8Addr(v: string): string {
  if (v.indexOf('\\x{') < 0) return v;
  let out = '';
  let i = 0;
  for (;;) {
    const j = v.indexOf('\\x{', i);
    if (j < 0) break;
    const close = v.indexOf('}', j + 3);
    const hex = close < 0 ? '' : v.slice(j + 3, close);
    const cp = hex.length >= 1 && hex.length <= 6 && /^[0-9A-Fa-f]+$/.test(hex) ? parseInt(hex, 16) : -1;
    if (cp < 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
      out += v.slice(i, j + 3);
      i = j + 3;
      continue;
    }
    out += v.slice(i, j) + String.fromCodePoint(cp);
    i = close + 1;
  }
  return out + v.slice(i);
}

// ---------------------------------------------------------------------------------------
// Header fields: RFC 5322 §3.4 address-list

/**
 * The addresses of an address-list header value (From, To, Original-Rcpt-To, …), in order,
 * deduplicated, display form. `Name <a@b>`, `a@b (comment)`, groups (`list: a@b, c@d;`),
 * quoted display names with commas or `<` in them. A mailbox that is not exact is left
 * out. When the value does not parse as a list at all (`Name a@b`), addresses standing as
 * whole words in it are taken (`findAddresses`).
 */
export function addressList(input: string | null | undefined, max = 100): string[] {
  if (!input) return [];
  const value = input.length > MAX_FIELD ? input.slice(0, MAX_FIELD) : input;
  const out: string[] = [];
  const add = (a: string | null): void => {
    if (a !== null && out.length < max && !out.includes(a)) out.push(a);
  };
  // One mailbox at a time: its angle-addr if it has one, else its addr-spec. Words apart
  // from each other outside quotes (`Name a@b`) are a phrase, not an addr-spec.
  let spec = '';
  let gap = false;
  let phrase = false;
  let angle: string | null = null;
  let sawAngle = false;
  let broken = false;
  const flush = (): void => {
    if (angle !== null) add(parseAddrSpec(stripRoute(angle)));
    else if (spec !== '' && !phrase) add(parseAddrSpec(spec));
    spec = '';
    gap = phrase = false;
    angle = null;
  };
  const append = (s: string): void => {
    if (gap && spec !== '') phrase = true;
    gap = false;
    spec += s;
  };
  let i = 0;
  const n = value.length;
  while (i < n && out.length < max) {
    const ch = value[i];
    if (ch === '"') {
      // quoted-string: part of a display name, or a quoted local part
      let j = i + 1;
      while (j < n && value[j] !== '"') j += value[j] === '\\' ? 2 : 1;
      if (j >= n) {
        broken = true;
        break;
      }
      append(value.slice(i, j + 1));
      i = j + 1;
    } else if (ch === '(') {
      let depth = 0;
      let j = i;
      for (; j < n; j++) {
        const c = value[j];
        if (c === '\\') j++;
        else if (c === '(') {
          if (++depth > MAX_COMMENT_DEPTH) break;
        } else if (c === ')' && --depth === 0) break;
      }
      if (j >= n || depth > MAX_COMMENT_DEPTH) {
        broken = true;
        break;
      }
      gap = true;
      i = j + 1;
    } else if (ch === '<') {
      const close = value.indexOf('>', i + 1);
      if (close < 0) {
        broken = true;
        break;
      }
      angle = value.slice(i + 1, close);
      sawAngle = true;
      i = close + 1;
    } else if (ch === ',' || ch === ';') {
      flush();
      i++;
    } else if (ch === ':') {
      // group display name (RFC 5322 §3.4): what came before is a phrase
      spec = '';
      gap = phrase = false;
      angle = null;
      i++;
    } else if (ch === ' ' || ch === '\t' || ch === '\r' || ch === '\n') {
      gap = true;
      i++;
    } else {
      append(ch);
      i++;
    }
  }
  if (!broken) flush();
  if (out.length === 0 && (broken || !sawAngle)) for (const f of findAddresses(value, max)) add(f.address);
  return out;
}

/** `@a,@b:user@host` (RFC 5322 §4.4 obs-route) → `user@host`. */
function stripRoute(s: string): string {
  const t = s.trim();
  if (!t.startsWith('@')) return t;
  const colon = t.indexOf(':');
  return colon < 0 ? t : t.slice(colon + 1);
}

/** The first address of a header value, or null. */
export function firstAddress(value: string | null | undefined): string | null {
  return addressList(value, 1)[0] ?? null;
}

// ---------------------------------------------------------------------------------------
// Free text

export interface FoundAddress {
  address: string;
  /** Offsets of the address in the text (end exclusive). */
  start: number;
  end: number;
}

/**
 * Addresses standing as whole words in free text (a bounce's prose, a diagnostic), in order,
 * deduplicated. Each `@` is read outwards: the local part to the left up to a character that
 * cannot be in one (space, `<`, `(`, `:`, `,` …; a quoted local part is taken whole), the
 * domain to the right. A local part longer than 64 octets, or one running into another `@`,
 * is no address: never its last 64 characters.
 */
export function findAddresses(text: string, max = 1000): FoundAddress[] {
  const out: FoundAddress[] = [];
  const seen = new Set<string>();
  let from = 0;
  while (out.length < max) {
    const at = text.indexOf('@', from);
    if (at < 0) break;
    from = at + 1;
    const hit = addressAround(text, at);
    if (!hit) continue;
    from = Math.max(from, hit.end);
    if (seen.has(hit.address)) continue;
    seen.add(hit.address);
    out.push(hit);
  }
  return out;
}

/**
 * The address whose local part begins exactly at `start` in `text` (a line-shape pattern
 * found where an address should be), read with the same boundaries as findAddresses; null
 * when what stands there is not exactly one address.
 */
export function addressAt(text: string, start: number): string | null {
  const at = start < 0 ? -1 : text.indexOf('@', start);
  if (at < 0 || at - start > MAX_LOCAL_OCTETS + 2) return null;
  const hit = addressAround(text, at);
  if (!hit) return null;
  // A leading quote or dot the reader dropped as punctuation still counts as this start.
  return hit.start === start || (hit.start > start && /^['.`]+$/.test(text.slice(start, hit.start))) ? hit.address : null;
}

function addressAround(text: string, at: number): FoundAddress | null {
  // Left: a quoted local part, or a run of atext and dots.
  let start: number;
  let local: string;
  if (text.charCodeAt(at - 1) === 34) {
    const open = text.lastIndexOf('"', at - 2);
    if (open < 0 || at - open > MAX_LOCAL_OCTETS + 2) return null;
    start = open;
    local = text.slice(open, at);
    if (!isQuotedLocal(local)) return null;
  } else {
    start = at;
    // Scan one past the limit so that a longer run is seen (and refused) rather than cut.
    while (start > 0 && at - start <= MAX_LOCAL_OCTETS && (isAtext(text.charCodeAt(start - 1)) || text.charCodeAt(start - 1) === 46)) start--;
    if (start === at || at - start > MAX_LOCAL_OCTETS) return null;
    local = text.slice(start, at);
    // Sentence punctuation before the address ("…to .user@x", "'user@x'") is not part of it.
    while (local.charCodeAt(0) === 46) {
      local = local.slice(1);
      start++;
    }
  }
  if (start > 0) {
    const before = text.charCodeAt(start - 1);
    // A left neighbour that could continue the address (another @, a backslash escape) makes it uncertain.
    if (before === 64 || before === 92) return null;
  }
  // Right: labels and dots.
  let end = at + 1;
  while (end < text.length && end - at <= MAX_DOMAIN_OCTETS + 1 && (isLabelChar(text.charCodeAt(end)) || text.charCodeAt(end) === 46)) end++;
  let domainEnd = end;
  while (domainEnd > at + 1 && text.charCodeAt(domainEnd - 1) === 46) domainEnd--; // "…at user@example.com."
  if (end < text.length) {
    const after = text.charCodeAt(end);
    if (after === 64 || after === 95) return null; // user@host@other, user@host_name: not certain
  }
  // 'user@host': quotes around the whole address, not part of the local part.
  if (local.charCodeAt(0) === 39 && text.charCodeAt(domainEnd) === 39) {
    local = local.slice(1);
    start++;
  }
  const l = checkLocal(local);
  const d = l === null ? null : checkDomain(text.slice(at + 1, domainEnd), false);
  if (l === null || d === null) return null;
  return { address: `${l}@${d}`, start, end: domainEnd };
}

// ---------------------------------------------------------------------------------------
// The key: one normalisation for storage and lookups

/** Plain ASCII domain names are their own A-label form (checked against domainToASCII). */
const PLAIN_DOMAIN = /^[a-z0-9-]+(?:\.[a-z0-9-]+)*$/;
/** A last label with a letter and no 0x prefix: never the IPv4 number WHATWG parsing looks for. */
const PLAIN_TLD = /^(?!0x)[^.]*[a-z][^.]*$/;

/**
 * The local part's key: case-folded, and unquoted when the quotes add nothing. Null when it
 * is not a local part. Exported so that a cached normaliser (preflight) applies the same rule.
 */
export function normaliseLocal(raw: string): string | null {
  const local = checkLocal(raw.normalize('NFC'));
  if (local === null) return null;
  let key = local;
  if (local.startsWith('"')) {
    const inner = local.slice(1, -1).replace(/\\(.)/g, '$1');
    if (isDotAtom(inner)) key = inner;
  }
  return key.toLowerCase();
}

/** The domain's key: lower case, A-labels (RFC 5890), null when not a host name. */
function domainKey(raw: string): string | null {
  const lower = checkDomain(raw.trim(), false);
  if (lower === null) return null;
  // Plain ASCII names are already what domainToASCII would return (checked against it on a
  // million random names), so only IDNs, A-labels and names whose last label could be read
  // as a number go through it — otherwise it is the costliest step of a lookup.
  const domain = PLAIN_DOMAIN.test(lower) && !lower.includes('xn--') && PLAIN_TLD.test(lower.slice(lower.lastIndexOf('.') + 1)) ? lower : domainToASCII(lower);
  // WHATWG reads a numeric name as IPv4 ("0xb" → 0.0.0.11): no mail domain without brackets.
  if (!domain || !/^[a-z0-9.-]+$/.test(domain) || /^[0-9.]+$/.test(domain) || (!domain.includes('.') && domain !== 'localhost')) return null;
  return domain;
}

/**
 * The key every address is stored and looked up under: case-folded local part, A-label
 * domain. `Blocked@Bücher.Example` and `blocked@xn--bcher-kva.example` are one key.
 */
export function normaliseEmail(input: string): string | null {
  let s = input.trim();
  if (s.startsWith('<') && s.endsWith('>')) s = s.slice(1, -1).trim();
  const at = s.lastIndexOf('@');
  if (at <= 0 || at === s.length - 1) return null;
  const local = normaliseLocal(s.slice(0, at));
  if (local === null) return null;
  const domain = domainKey(s.slice(at + 1));
  return domain === null ? null : `${local}@${domain}`;
}

/** Whether two addresses name the same mailbox (compared by key). */
export function sameAddress(a: string, b: string): boolean {
  const ka = normaliseEmail(a);
  return ka !== null && ka === normaliseEmail(b);
}

/** E.164: a plus sign and 8 to 15 digits; separators dropped. */
export function normalisePhone(input: string): string | null {
  const s = input.trim().replace(/[\s().-]/g, '');
  return /^\+[1-9]\d{7,14}$/.test(s) ? s : null;
}

export function normaliseAddress(input: string, channel: Channel): string | null {
  return channel === 'sms' ? normalisePhone(input) : normaliseEmail(input);
}
