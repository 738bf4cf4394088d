/**
 * Feedback-loop reports: ARF (RFC 5965), its authentication-failure flavour (RFC 6591) and
 * the dialects ISPs and relays send in practice. Pure: a MimePart tree in, facts out.
 *
 * Recognised, in this order:
 * - a `message/feedback-report` part anywhere in the message (so also a report forwarded
 *   or relayed as an attachment), except inside a DSN or MDN's returned message;
 * - Microsoft's JMRP: an enclosed message with `X-HmXmrOriginalRecipient`, or the
 *   "complaint about message from <ip>" subject with an enclosed message;
 * - Apple Mail's one-click unsubscribe request (`X-Apple-Unsubscribe: true`): opt-out;
 * - ARF fields flattened into a text part by a relay or an inline forward, when the block
 *   is unambiguous (a `Feedback-Type` line with other report fields in the same block).
 */
import { addressList, dsnAddress, firstAddress as libFirstAddress } from '../address.js';
import { type Binary, ENCLOSED_TYPES, FIELD_LINE, HeaderList, bytesToText, type MimePart, parseHeaderBlock, parseMime, partBytes, partText, utf8Binary } from './mime.js';
import { stripQuotePrefix } from './quote.js';
import { tick } from './deadline.js';

export type ArfDialect = 'arf' | 'jmrp' | 'unsubscribe-request' | 'inline';

export interface ArfRecipient {
  /** Local part as given, domain lower-cased; null when redacted or absent. */
  address: string | null;
  /** The reporter withheld the address (redacted, hashed, removed, or not given at all). */
  redacted: boolean;
  /** A hashed recipient as the report gives it (`<digest>@domain`, or a bare digest of the whole address). */
  reported?: string;
}

export interface ArfResult {
  dialect: ArfDialect;
  /** Lower case; legacy names mapped to RFC 5965/6591 ones; 'abuse' when the report has none. */
  feedbackType: string;
  version: string | null;
  userAgent: string | null;
  sourceIp: string | null;
  reportedDomain: string | null;
  /** Arrival-Date, or the Received-Date older reports use. */
  arrivalDate: string | null;
  /** Original-Mail-From as an address: the original's envelope sender (a VERP address). */
  originalMailFrom: string | null;
  originalEnvelopeId: string | null;
  /** RFC 6591 Auth-Failure (dmarc, dkim, spf, …). */
  authFailure: string | null;
  /** Feedback-ID of the original (or of the report when only the report has it). */
  feedbackId: string | null;
  /** One per recipient the report names, in its order; never empty. */
  recipients: ArfRecipient[];
  /** The report's own fields (message/feedback-report body), when there are any. */
  fields: HeaderList | null;
  /** The original's header fields, when the report carries them. */
  original: HeaderList | null;
  /** The original as a part (headers and body), for a search of its body. */
  originalPart: MimePart | null;
  /** Addresses of the report itself that may carry a VERP token (an unsubscribe request's To). */
  tokenAddresses: string[];
}

const HEADERS_ONLY_TYPES = new Set(['message/global-headers', 'message/rfc822-headers']);

/** RFC 5965 §7.3 registry plus RFC 6591 and RFC 6650; older drafts' names mapped onto them. */
const FEEDBACK_TYPES: Record<string, string> = {
  abuse: 'abuse',
  fraud: 'fraud',
  virus: 'virus',
  other: 'other',
  'not-spam': 'not-spam',
  'opt-out': 'opt-out',
  'auth-failure': 'auth-failure',
  // draft-shafranovich-feedback-report and early implementations
  miscategorized: 'not-spam',
  'opt-out-list': 'opt-out',
  optout: 'opt-out',
  dkim: 'auth-failure',
  phishing: 'fraud',
  complaint: 'abuse',
  spam: 'abuse',
};

const FEEDBACK_TYPE_LINE = /^([ \t]*(?:>[ \t]?)*)Feedback-Type:[ \t]*([A-Za-z][A-Za-z0-9_-]*)[ \t]*;?[^\n]*$/im;
/** Fields that make a Feedback-Type line a report rather than prose (RFC 5965 §3.1-3.2). */
const ARF_FIELD_NAMES = new Set([
  'user-agent',
  'version',
  'original-mail-from',
  'original-rcpt-to',
  'arrival-date',
  'received-date',
  'source-ip',
  'reported-domain',
  'reported-uri',
  'removal-recipient',
  'original-envelope-id',
  'reporting-mta',
  'incidents',
  'auth-failure',
  'authentication-results',
]);
/** Fields only a message header block has; a block with two of them starts a message. */
const MESSAGE_FIELD_NAMES = new Set([
  'received',
  'return-path',
  'from',
  'to',
  'subject',
  'date',
  'message-id',
  'mime-version',
  'dkim-signature',
  'x-hmxmroriginalrecipient',
]);
const IP_SOURCE = String.raw`[0-9]{1,3}(?:\.[0-9]{1,3}){3}|[0-9A-Fa-f]*:[0-9A-Fa-f:.]+`;
const IP_LIKE = new RegExp(String.raw`^\[?(${IP_SOURCE})\]?$`);
const JMRP_SUBJECT = new RegExp(String.raw`complaint about message from\s+\[?(${IP_SOURCE})\]?`, 'i');
const MAX_INLINE_SCAN = 512 * 1024;

/** Parses a feedback-loop report; null when the message is not one. */
export function parseArf(root: MimePart): ArfResult | null {
  return fromFeedbackPart(root) ?? fromJmrp(root) ?? fromUnsubscribeRequest(root) ?? fromInline(root);
}

// ---------------------------------------------------------------------------------------
// RFC 5965 multipart/report

interface Located {
  part: MimePart;
  parent: MimePart | null;
}

/**
 * Depth-first search that does not look inside the returned message of a DSN or MDN:
 * a bounce of a forwarded report is a bounce, not a complaint.
 */
function findPart(part: MimePart, parent: MimePart | null, want: (p: MimePart) => boolean): Located | null {
  if (want(part)) return { part, parent };
  if (part.type === 'multipart/report') {
    const rt = (part.params['report-type'] || '').toLowerCase();
    if (rt !== '' && rt !== 'feedback-report') return null;
  }
  for (const c of part.children) {
    const hit = findPart(c, part, want);
    if (hit) return hit;
  }
  return null;
}

function fromFeedbackPart(root: MimePart): ArfResult | null {
  const hit = findPart(root, null, (p) => p.type === 'message/feedback-report');
  if (!hit) return null;
  const text = partBytes(hit.part).replace(/^\s+/, '') as Binary;
  let originalPart = hit.parent ? enclosedOriginal(hit.parent, hit.part) : null;
  // Some generators put the original's headers into the feedback part itself, after a
  // blank line: read the fields only up to where a message header block begins.
  const gap = text.indexOf('\n\n');
  const at = gap < 0 ? -1 : messageStart(text, gap + 1);
  if (at >= 0 && !originalPart) originalPart = safeParse(text.slice(at) as Binary);
  const fields = parseHeaderBlock(at >= 0 ? (text.slice(0, at) as Binary) : text);
  return build('arf', fields, originalPart);
}

/** The original next to the feedback part: message/rfc822, text/rfc822-headers, or look-alikes. */
function enclosedOriginal(parent: MimePart, report: MimePart): MimePart | null {
  const siblings = parent.children;
  for (const c of siblings) {
    if (ENCLOSED_TYPES.has(c.type) && c.children[0]) return c.children[0];
  }
  for (const c of siblings) {
    if (HEADERS_ONLY_TYPES.has(c.type)) return headersOnlyPart(partBytes(c), c.depth + 1);
  }
  // Some generators label the original text/plain or application/octet-stream (an .eml
  // attachment); take it when its text starts with a message header block.
  const start = siblings.indexOf(report);
  for (let i = start + 1; i < siblings.length; i++) {
    const c = siblings[i];
    if (c.children.length > 0 || !(c.type.startsWith('text/') || c.type === 'application/octet-stream')) continue;
    const text = partBytes(c);
    const at = messageStart(text, 0);
    if (at === 0 || (at > 0 && /^\s*$/.test(text.slice(0, at)))) return safeParse(text.slice(at) as Binary);
  }
  return null;
}

function headersOnlyPart(text: Binary, depth: number): MimePart {
  const head = text.replace(/^\s+/, '');
  const end = head.indexOf('\n\n');
  return {
    headers: parseHeaderBlock((end < 0 ? head : head.slice(0, end)) as Binary),
    type: 'text/plain',
    params: {},
    rawBody: '' as Binary,
    children: [],
    depth,
  };
}

function safeParse(text: Binary): MimePart | null {
  try {
    return parseMime(text);
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------
// Microsoft JMRP: multipart/mixed with the original attached; the recipient is in
// X-HmXmrOriginalRecipient (an ISP-added header), the source IP in the subject.

function fromJmrp(root: MimePart): ArfResult | null {
  const bySubject = JMRP_SUBJECT.exec(root.headers.decoded('subject') || '');
  const enclosed = (p: MimePart): boolean => p !== root && ENCLOSED_TYPES.has(p.type) && p.children.length > 0;
  const hit =
    findPart(root, null, (p) => enclosed(p) && p.children[0].headers.has('x-hmxmroriginalrecipient')) ??
    (bySubject ? findPart(root, null, enclosed) : null);
  if (!hit) return null;
  const r = build('jmrp', null, hit.part.children[0]);
  if (bySubject) r.sourceIp = bySubject[1];
  return r;
}

// ---------------------------------------------------------------------------------------
// Apple Mail's "Unsubscribe" button mails the List-Unsubscribe mailto: address a message
// from the recipient with X-Apple-Unsubscribe: true. It is the recipient opting out.

function fromUnsubscribeRequest(root: MimePart): ArfResult | null {
  if ((root.headers.get('x-apple-unsubscribe') || '').trim().toLowerCase() !== 'true') return null;
  const from = firstAddress(root.headers.get('from'));
  if (!from) return null;
  const r = build('unsubscribe-request', null, null);
  r.feedbackType = 'opt-out';
  r.recipients = [classify(from, true)];
  r.tokenAddresses = addressesIn(root.headers.get('to'));
  return r;
}

// ---------------------------------------------------------------------------------------
// Flattened reports: the feedback fields in a text part (a relay that rewrote the report,
// an inline forward of one). Only a block that reads as a report counts.

function fromInline(root: MimePart): ArfResult | null {
  let scanned = 0;
  for (const { part, parent } of leaves(root, null)) {
    if (part.type !== 'text/plain' && part.type !== 'message/feedback-report') continue;
    if (scanned > MAX_INLINE_SCAN) break;
    let text = partText(part);
    if (text.length > MAX_INLINE_SCAN) text = text.slice(0, MAX_INLINE_SCAN);
    scanned += text.length;
    const m = FEEDBACK_TYPE_LINE.exec(text);
    if (!m) continue;
    const prefix = m[1];
    const block = takeBlock(text, m.index, prefix);
    const fields = parseHeaderBlock(utf8Binary(block.lines.join('\n')));
    let arfFields = 0;
    for (const [name] of fields.fields) if (ARF_FIELD_NAMES.has(name)) arfFields++;
    if (arfFields === 0) continue;
    // The original follows in the same text (a flattened report), or sits next to the part
    // (a report whose feedback part was mislabelled text/plain).
    const at = messageStart(text, block.end, prefix);
    let original = at >= 0 ? safeParse(utf8Binary(stripPrefix(text.slice(at), prefix))) : null;
    if (!original && parent) original = enclosedOriginal(parent, part);
    return build('inline', fields, original);
  }
  return null;
}

/** Leaves with their parents, not descending into DSN/MDN returned messages. */
function* leaves(part: MimePart, parent: MimePart | null): Generator<Located> {
  if (part.type === 'multipart/report') {
    const rt = (part.params['report-type'] || '').toLowerCase();
    if (rt !== '' && rt !== 'feedback-report') return;
  }
  if (part.children.length === 0) {
    yield { part, parent };
    return;
  }
  for (const c of part.children) yield* leaves(c, part);
}

/** Lines of the paragraph that starts at `from`, each without the quote prefix. */
function takeBlock(text: string, from: number, prefix: string): { lines: string[]; end: number } {
  const lines: string[] = [];
  let pos = from;
  while (pos < text.length) {
    tick();
    const nl = text.indexOf('\n', pos);
    const end = nl < 0 ? text.length : nl;
    const line = stripQuotePrefix(text.slice(pos, end), prefix);
    if (line.trim() === '') return { lines, end: pos };
    lines.push(line);
    pos = end + 1;
  }
  return { lines, end: text.length };
}

function stripPrefix(text: string, prefix: string): string {
  if (!prefix) return text;
  return text
    .split('\n')
    .map((l) => stripQuotePrefix(l, prefix))
    .join('\n');
}

/**
 * Offset of the first line at or after `from` that opens a message header block: a run of
 * header fields, two or more of them ones only a message has (From, Received, Subject…).
 */
function messageStart(text: string, from: number, prefix = ''): number {
  let pos = from;
  let blockStart = -1;
  let count = 0;
  let lines = 0;
  while (pos < text.length && lines < 5000) {
    tick();
    lines++;
    const nl = text.indexOf('\n', pos);
    const end = nl < 0 ? text.length : nl;
    const line = stripQuotePrefix(text.slice(pos, end), prefix);
    const m = FIELD_LINE.exec(line);
    if (m) {
      if (blockStart < 0) {
        blockStart = pos;
        count = 0;
      }
      if (MESSAGE_FIELD_NAMES.has(m[1].toLowerCase())) count++;
      if (count >= 2) return blockStart;
    } else if (/^[ \t]+\S/.test(line) && blockStart >= 0) {
      // folded continuation of the previous field
    } else if (/^>?From /.test(line) && blockStart < 0) {
      // mbox separator before the headers: part of the message
      blockStart = pos;
      count = 0;
    } else {
      blockStart = -1;
    }
    pos = end + 1;
  }
  return -1;
}

// ---------------------------------------------------------------------------------------
// Common: fields + original → result

function build(dialect: ArfDialect, fields: HeaderList | null, originalPart: MimePart | null): ArfResult {
  const f = fields ?? new HeaderList([]);
  let original = originalPart ? originalPart.headers : null;
  let originalBody = originalPart;

  // A relay that wraps the ISP's report in its own: the "original" is itself a report.
  let inner: ArfResult | null = null;
  if (originalPart && originalPart.depth < 12) {
    const nested = fromFeedbackPart(originalPart);
    if (nested) inner = nested;
  }
  if (inner) {
    original = inner.original;
    originalBody = inner.originalPart;
  }

  const pick = (name: string): string | null => {
    const v = f.get(name);
    return v !== undefined && v.trim() !== '' ? v.trim() : null;
  };
  const result: ArfResult = {
    dialect,
    feedbackType: normaliseFeedbackType(f.get('feedback-type')) ?? inner?.feedbackType ?? 'abuse',
    version: pick('version') ?? inner?.version ?? null,
    userAgent: pick('user-agent') ?? inner?.userAgent ?? null,
    sourceIp: cleanIp(pick('source-ip')) ?? inner?.sourceIp ?? null,
    reportedDomain: pick('reported-domain') ?? inner?.reportedDomain ?? null,
    arrivalDate: pick('arrival-date') ?? pick('received-date') ?? inner?.arrivalDate ?? null,
    originalMailFrom: firstAddress(f.get('original-mail-from')) ?? inner?.originalMailFrom ?? null,
    originalEnvelopeId: pick('original-envelope-id') ?? inner?.originalEnvelopeId ?? null,
    authFailure: pick('auth-failure')?.toLowerCase() ?? inner?.authFailure ?? null,
    feedbackId: original?.get('feedback-id')?.trim() || pick('feedback-id') || inner?.feedbackId || null,
    recipients: [],
    fields,
    original,
    originalPart: originalBody,
    tokenAddresses: [],
  };

  const named = reportRecipients(f);
  result.recipients = named.length > 0 || !inner ? resolveRecipients(named, original) : inner.recipients;
  return result;
}

/**
 * Recipients the report fields name: Removal-Recipient (opt-out) first, else Original-Rcpt-To,
 * else the Redacted-Address some reporters write instead.
 */
const MAX_RECIPIENTS = 100;

function reportRecipients(f: HeaderList): ArfRecipient[] {
  let values = f.getAll('removal-recipient');
  if (values.length === 0) values = f.getAll('original-rcpt-to');
  if (values.length === 0) values = f.getAll('redacted-address');
  const out: ArfRecipient[] = [];
  const seen = new Set<string>();
  // RFC 5965 §3.2: one report per complained message; a report naming thousands of
  // recipients is hostile, and only the first MAX_RECIPIENTS are read.
  for (const v of values.slice(0, MAX_RECIPIENTS * 4)) {
    const r = classify(v);
    const key = r.address ?? r.reported;
    if (key) {
      if (seen.has(key)) continue;
      seen.add(key);
    }
    out.push(r);
    if (out.length === MAX_RECIPIENTS) break;
  }
  return out;
}

/**
 * Fills in what the report fields do not give: Microsoft's X-HmXmrOriginalRecipient, then
 * the original's To (RFC 5965 §3.2 makes Original-Rcpt-To optional).
 */
function resolveRecipients(named: ArfRecipient[], original: HeaderList | null): ArfRecipient[] {
  const fallback = (): { r: ArfRecipient; domainOf: string | null } | null => {
    if (!original) return null;
    // A hashed recipient is what the report says when nothing gives the address.
    let hashed: ArfRecipient | null = null;
    for (const v of original.getAll('x-hmxmroriginalrecipient')) {
      const r = classify(v);
      if (r.address) return { r, domainOf: domain(r.address) };
      hashed ??= r.reported ? r : null;
    }
    const to = original.get('to');
    if (to === undefined) return hashed ? { r: hashed, domainOf: null } : null;
    const first = firstAddress(to);
    const r: ArfRecipient = first ? classify(first, true) : { address: null, redacted: true };
    if (first && r.address) return { r, domainOf: domain(first) };
    return { r: hashed ?? r, domainOf: null };
  };

  if (named.length === 0) {
    const fb = fallback();
    return [fb ? fb.r : { address: null, redacted: true }];
  }
  // One redacted recipient: the original may still show it (a report that redacts its own
  // fields but not the enclosed headers) — only when the domains agree, so that a list
  // address in To is never mistaken for the complainant.
  if (named.length === 1 && named[0].address === null) {
    const fb = fallback();
    const hint = redactedDomain.get(named[0]) ?? null;
    if (fb && fb.r.address && (hint === null || hint === fb.domainOf)) {
      return [{ address: fb.r.address, redacted: true, ...(named[0].reported ? { reported: named[0].reported } : {}) }];
    }
  }
  return named;
}

// ---------------------------------------------------------------------------------------
// Addresses and redaction (RFC 6590)

const REDACTED_LOCAL = /redact|\*\*|^x{3,}$|^\[.*\]$|^(?:hidden|removed|anonymous|anonymi[sz]ed|masked|undisclosed)$/i;
/**
 * A hex digest: MD5 is 32 characters, SHA-1 40, SHA-256 64; 24 allows for truncated ones.
 * No person's mailbox is two dozen hex digits, and a feedback loop that hashes writes it so.
 */
const HEX_HASH = /^[0-9a-f]{24,128}$/i;
const B64_HASH = /^[A-Za-z0-9+/=-]{22,128}$/;
/** The quotes of a quoted local part (RFC 5322 §3.4.1), for a look at what they hold. */
const DQUOTES = /^"|"$/g;
const UPPER = /[A-Z]/g;
const LOWER = /[a-z]/g;
const DIGIT = /[0-9]/g;

/** Domain a redacted value still shows (`redacted@aol.com`), for the To cross-check. */
const redactedDomain = new WeakMap<ArfRecipient, string>();

/**
 * A recipient value as a report gives it (raw header octets, or an address already read):
 * address, redacted form, or nothing. A hashed one (RFC 6590 lets a report hash the
 * local part or the whole address) is redacted and keeps its form in `reported`, so that
 * the platform, which can hash its own recipients the same way, can match it.
 */
export function classify(raw: Binary | string, alreadyText = false): ArfRecipient {
  let v = (alreadyText ? raw : bytesToText(raw as Binary)).trim();
  const semi = /^[A-Za-z0-9-]{1,20}\s*;\s*/.exec(v); // "rfc822; addr" (RFC 3464 address-type)
  if (semi) v = v.slice(semi[0].length);
  const addr = semi && /^utf-8\s*;/i.test(semi[0]) ? dsnAddress(semi[0] + v) : libFirstAddress(v);
  if (addr && addr.indexOf('@') > 0) {
    const at = addr.lastIndexOf('@');
    const local = addr.slice(0, at).replace(DQUOTES, '');
    const hashed = isHashedLocal(local);
    if (hashed || REDACTED_LOCAL.test(local)) {
      const r: ArfRecipient = hashed ? { address: null, redacted: true, reported: addr } : { address: null, redacted: true };
      redactedDomain.set(r, addr.slice(at + 1).toLowerCase());
      return r;
    }
    return { address: addr, redacted: false };
  }
  // The whole address hashed: a bare digest, perhaps in angle brackets.
  const bare = (v.startsWith('<') && v.endsWith('>') ? v.slice(1, -1).trim() : v).replace(DQUOTES, '');
  if (isHashedLocal(bare)) return { address: null, redacted: true, reported: bare };
  // No address at all: "[redacted]", "<redacted>", "localpart@", "@example.com", or empty.
  const r: ArfRecipient = { address: null, redacted: true };
  const dom = /@([A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63})\s*>?$/.exec(v);
  if (dom) redactedDomain.set(r, dom[1].toLowerCase());
  return r;
}

/** A local part (or a whole value) that is a digest: hex, or base64 with the mix of cases and digits no person picks. */
function isHashedLocal(local: string): boolean {
  if (HEX_HASH.test(local)) return true;
  return B64_HASH.test(local) && count(local, UPPER) >= 4 && count(local, LOWER) >= 4 && count(local, DIGIT) >= 2;
}

function count(s: string, re: RegExp): number {
  return s.match(re)?.length ?? 0;
}

/** First address of a raw header value (RFC 5322 address-list, RFC 6532 UTF-8). */
export function firstAddress(value: Binary | null | undefined): string | null {
  return value ? libFirstAddress(bytesToText(value)) : null;
}

/** Addresses of a raw header value, in order. */
export function addressesIn(value: Binary | null | undefined): string[] {
  return value ? addressList(bytesToText(value)) : [];
}

function domain(a: string): string | null {
  const at = a.lastIndexOf('@');
  return at < 0 ? null : a.slice(at + 1).toLowerCase();
}

function cleanIp(v: string | null): string | null {
  if (!v) return null;
  const m = IP_LIKE.exec(v.trim().split(/\s+/)[0]);
  return m ? m[1] : v.trim();
}

/** Lower-cased RFC 5965 feedback type; null when absent. Unknown types are kept as given. */
export function normaliseFeedbackType(v: string | undefined | null): string | null {
  if (!v) return null;
  const t = v.trim().split(/[\s;(]/)[0].toLowerCase();
  if (!t) return null;
  return FEEDBACK_TYPES[t] ?? t;
}

/** A message pasted into a text (an inline forward): from its header block on, parsed. */
export function pastedMessage(text: string): MimePart | null {
  const at = messageStart(text, 0);
  return at < 0 ? null : safeParse(utf8Binary(text.slice(at)));
}
