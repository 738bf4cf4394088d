/**
 * The one entry point from bytes to a Report, shared by the SMTP path and `abusegate parse`
 * (contracts.md, "`abusegate parse`"). Pure apart from loading the default bounce rules
 * once when the caller passes none. Never throws: what cannot be read comes back as
 * `kind: 'unknown'` with `error` set, and the SMTP path quarantines it.
 */
import { analyseAbuse, describeOriginal, type Evidence } from './abuse/index.js';
import { parseArf, pastedMessage, classify, firstAddress, addressesIn, type ArfRecipient, type ArfResult } from './arf.js';
import { attribute, DEFAULT_TOKEN_HEADER, tokenShaped, tokenState } from './attribution.js';
import { loadBounceRules, parseBounce, type BounceRules } from './bounce/index.js';
import { ENCLOSED_TYPES, type HeaderList, type MimeLimits, type MimePart, parseMime, partText } from './mime.js';
import { type AbuseDetails, type Attribution, type OriginalMessage, type RecipientReport, type Report, type Reporter, unreadableReport } from './report.js';
import type { TokenCodec } from '../token/token.js';
import { withDeadline } from './deadline.js';

export interface ParseOptions {
  /** Which of our mailboxes the message was delivered to. */
  mailbox?: 'fbl' | 'abuse' | 'bounces' | 'unsubscribe';
  /** The token of the envelope recipient (`bounces+TOKEN@`, `unsubscribe+TOKEN@`). */
  envelopeToken?: string;
  /** Without a codec no token verifies (attribution is then Feedback-ID or none). */
  codec?: TokenCodec;
  /** Name of the header that carries the long token; default X-Abuse-Token. */
  tokenHeader?: string;
  bounceRules?: BounceRules;
  limits?: MimeLimits;
  /**
   * ISO 3166 region in which a phone number written the national way ("0400 000 000") is
   * read, for SMS complaints to abuse@; default US (the gateway passes phoneRegions instead).
   */
  phoneRegion?: string;
  /** Regions in which a national number is tried (config phone.regions); wins over phoneRegion. */
  phoneRegions?: readonly string[];
  /**
   * Time budget of one parse (config smtp.parseDeadlineMs): past it the message is
   * reported unreadable with the error `parse deadline` and quarantined (deadline.ts).
   */
  deadlineMs?: number;
}

/** Generous for any real report (a 1 MiB one parses in tens of milliseconds). */
export const DEFAULT_PARSE_DEADLINE_MS = 1000;

export const DEFAULT_PHONE_REGION = 'US';

/** Bodies searched for a token: enough for any footer, bounded for hostile input. */
const MAX_BODY_TEXT = 1024 * 1024;
const MESSAGE_FIELDS = ['from', 'to', 'subject', 'date', 'message-id', 'received', 'content-type', 'return-path', 'mime-version'];

let defaultRules: BounceRules | null | undefined;

function rulesFor(opts: ParseOptions): BounceRules | null {
  if (opts.bounceRules) return opts.bounceRules;
  if (defaultRules === undefined) {
    try {
      defaultRules = loadBounceRules();
    } catch {
      defaultRules = null;
    }
  }
  return defaultRules;
}

/**
 * Above this size a report is copied out of the message text before it is returned. Its
 * strings are slices of that text, and V8 keeps the whole parent of a sliced string alive:
 * a report of a 1 MiB message held ~1 MB while it waited on Redis (50 of them at once, 50
 * MB). A copy costs microseconds; below this size there is nothing worth freeing.
 */
const DETACH_ABOVE = 64 * 1024;

export function parseMessage(raw: Buffer, opts: ParseOptions = {}): Report {
  try {
    const report = withDeadline(opts.deadlineMs ?? DEFAULT_PARSE_DEADLINE_MS, () => parse(raw, opts));
    return raw.length > DETACH_ABOVE ? (JSON.parse(JSON.stringify(report)) as Report) : report;
  } catch (err) {
    return unreadableReport(err instanceof Error ? err.message || err.name : String(err));
  }
}

function parse(raw: Buffer, opts: ParseOptions): Report {
  if (raw.length === 0 || (raw.length < 4096 && /^\s*$/.test(raw.toString('latin1')))) return unreadableReport('empty message');
  const root = parseMime(raw, opts.limits);
  if (!MESSAGE_FIELDS.some((f) => root.headers.has(f))) return unreadableReport('no message header fields');

  const arf = parseArf(root);
  if (arf) return complaint(root, arf, opts);

  if (opts.mailbox === 'unsubscribe') return unsubscribe(root, opts);
  if (opts.mailbox === 'abuse') return abuse(root, opts).report;

  const rules = rulesFor(opts);
  const bounce = rules ? parseBounce(root, rules) : null;
  if (bounce) {
    const enclosed = firstEnclosed(root);
    const original = bounce.original ?? enclosed?.headers ?? null;
    const { attribution, recipient } = attribute({
      headers: original,
      bodyText: enclosed ? () => textOf(enclosed) : null,
      envelopeToken: opts.envelopeToken,
      codec: opts.codec,
      tokenHeader: opts.tokenHeader ?? DEFAULT_TOKEN_HEADER,
    });
    const recipients = bounce.recipients.map(shape);
    // A bounce that lost the address (some MTAs write only "user unknown") can still be
    // traced to its recipient through a long token, when there is exactly one.
    if (recipient && recipients.length === 1 && recipients[0].address === null) recipients[0].address = recipient;
    return report(bounce.kind, recipients, originalOf(original, null), nullReporter(), attribution);
  }

  // `abusegate parse` names no mailbox: a message that reads as an abuse report is one.
  if (opts.mailbox === undefined) {
    const r = abuse(root, opts);
    if (r.looksLikeReport) return r.report;
  }
  return other('unknown', root, opts);
}

// ---------------------------------------------------------------------------------------

function complaint(root: MimePart, arf: ArfResult, opts: ParseOptions): Report {
  const orig = arf.originalPart;
  const { attribution, recipient } = attribute({
    headers: arf.original,
    bodyText: orig ? () => textOf(orig) : arf.original ? null : () => textOf(root),
    envelopeAddresses: [arf.originalMailFrom, ...arf.tokenAddresses],
    envelopeToken: opts.envelopeToken,
    feedbackId: arf.feedbackId,
    codec: opts.codec,
    tokenHeader: opts.tokenHeader ?? DEFAULT_TOKEN_HEADER,
  });

  // Recipient: the token's, then the report's Original-Rcpt-To, then the original's To
  // (parseArf has applied the last two).
  let named = arf.recipients;
  if (recipient && (named.length <= 1 || named.every((r) => r.address === null))) {
    // A hashed recipient the token recovers keeps its reported form beside the address.
    named = [{ address: normaliseDomain(recipient), redacted: named[0]?.redacted ?? false, ...(named[0]?.reported ? { reported: named[0].reported } : {}) }];
  }
  const recipients = named.map((r) => feedbackRecipient(r, arf.feedbackType));
  const kind = arf.dialect === 'unsubscribe-request' && opts.mailbox === 'unsubscribe' ? 'unsubscribe' : 'complaint';
  const reporter: Reporter = { userAgent: arf.userAgent, sourceIp: arf.sourceIp, reportedDomain: arf.reportedDomain };
  const out = report(kind, recipients, originalOf(arf.original, arf.originalMailFrom), reporter, attribution);
  if (opts.mailbox === 'abuse') {
    // A feedback report sent to abuse@ stays a complaint; the desk's case still wants these.
    const { attachments, linkDomains, ...described } = describeOriginal(root, arf.original, orig, firstText(root) ?? '');
    const body = orig ? textOf(orig) : '';
    out.abuse = {
      channel: 'email',
      reporter: firstAddress(root.headers.get('from')),
      originalFound: !orig ? 'none' : orig.children.length === 0 && orig.rawBody.trim() === '' ? 'headers-only' : arf.dialect === 'inline' ? 'inline' : 'attached',
      ...described,
      tokenState: tokenState(attribution, () => tokenShaped(arf.original, body, opts.tokenHeader ?? DEFAULT_TOKEN_HEADER)),
      ...evidence({ attachments, linkDomains }),
    };
  }
  return out;
}

/** A request sent to unsubscribe+TOKEN@: the sender opts out. */
function unsubscribe(root: MimePart, opts: ParseOptions): Report {
  const { attribution, recipient } = attribute({
    headers: null,
    envelopeAddresses: addressesIn(root.headers.get('to')),
    envelopeToken: opts.envelopeToken,
    feedbackId: null,
    codec: opts.codec,
  });
  const from = firstAddress(root.headers.get('from'));
  const who = recipient ? { address: normaliseDomain(recipient), redacted: false } : from ? classify(from, true) : null;
  const recipients = who ? [feedbackRecipient(who, 'opt-out')] : [];
  return report('unsubscribe', recipients, originalOf(null, null), nullReporter(), attribution);
}

/**
 * Mail to abuse@ (see abuse/): the offending message attached, forwarded inline or
 * pasted; an SMS complaint's mobile numbers; what investigation needs (phishing language,
 * the domains the original names, whether its token is valid, forged or missing).
 */
function abuse(root: MimePart, opts: ParseOptions): { report: Report; looksLikeReport: boolean } {
  const a = analyseAbuse(root, { phoneRegion: opts.phoneRegion ?? DEFAULT_PHONE_REGION, phoneRegions: opts.phoneRegions });
  let body: string | undefined;
  const bodyText = (): string => {
    if (body === undefined) {
      body = textOf(root);
      // Link-rewriting gateways (Safe Links, URL Defense) URL-encode the footer link.
      if (/%2F/i.test(body)) body += '\n' + body.replace(/%2F/gi, '/').replace(/%3A/gi, ':');
    }
    return body;
  };
  const tokenHeader = opts.tokenHeader ?? DEFAULT_TOKEN_HEADER;
  const { attribution, recipient } = attribute({ headers: a.original, bodyText, envelopeToken: opts.envelopeToken, codec: opts.codec, tokenHeader });
  // The recipient of the offending message: the one a long token names, else the original's
  // To when it names exactly one address (an inline forward keeps it; an ISP may redact it).
  let address = recipient ? normaliseDomain(recipient) : null;
  if (!address && a.original && a.channel === 'email') {
    const to = addressesIn(a.original.get('to'));
    if (to.length === 1) address = classify(to[0], true).address;
  }
  const recipients: RecipientReport[] = address
    ? [{ address, redacted: false, reason: 'feedback', hard: false, action: null, status: null, replyCode: null, diagnostic: null }]
    : [];
  const out = report('abuse', recipients, originalOf(a.original, null), nullReporter(), attribution);
  out.phones = a.phones;
  out.abuse = {
    channel: a.channel,
    reporter: a.reporter,
    originalFound: a.originalFound,
    phishing: a.phishing,
    phishingTerms: a.phishingTerms,
    originDomains: a.originDomains,
    tokenState: tokenState(attribution, () => tokenShaped(a.original, bodyText(), tokenHeader)),
    ...(a.sender ? { sender: a.sender } : {}),
    ...evidence(a),
  };
  return { report: out, looksLikeReport: a.looksLikeReport };
}

/**
 * Anything unrecognised: the original is an attached message, or one
 * pasted into the text (an inline forward); tokens are looked for in both.
 */
function other(kind: 'unknown', root: MimePart, opts: ParseOptions): Report {
  const enclosed = firstEnclosed(root);
  let original: HeaderList | null = enclosed?.headers ?? null;
  if (!original) {
    const text = firstText(root);
    if (text) original = pastedMessage(text)?.headers ?? null;
  }
  const { attribution } = attribute({
    headers: original,
    bodyText: () => textOf(root),
    envelopeToken: opts.envelopeToken,
    codec: opts.codec,
    tokenHeader: opts.tokenHeader ?? DEFAULT_TOKEN_HEADER,
  });
  return report(kind, [], originalOf(original, null), nullReporter(), attribution);
}

// ---------------------------------------------------------------------------------------
// Shapes (field order as in contracts.md)

function report(
  kind: Report['kind'],
  recipients: RecipientReport[],
  original: OriginalMessage,
  reporter: Reporter,
  attribution: Attribution,
): Report {
  return { kind, recipients, original, reporter, attribution, phones: [] };
}

/** A recipient a feedback report (or an opt-out) names; `reported` only for a hashed one. */
function feedbackRecipient(r: ArfRecipient, feedbackType: string): RecipientReport {
  return {
    address: r.address,
    redacted: r.redacted,
    ...(r.reported ? { reported: r.reported } : {}),
    reason: 'feedback',
    hard: false,
    action: null,
    status: null,
    replyCode: null,
    diagnostic: null,
    feedbackType,
  };
}

function shape(r: RecipientReport): RecipientReport {
  const out: RecipientReport = {
    address: r.address ?? null,
    redacted: r.redacted ?? false,
    reason: r.reason ?? null,
    hard: r.hard ?? false,
    action: r.action ?? null,
    status: r.status ?? null,
    replyCode: r.replyCode ?? null,
    diagnostic: r.diagnostic ?? null,
  };
  if (r.feedbackType !== undefined) out.feedbackType = r.feedbackType;
  return out;
}

/** The evidence lists of AbuseDetails, each only when it has entries (contracts.md: fields that do not apply are left out). */
function evidence(e: Evidence): Pick<AbuseDetails, 'attachments' | 'linkDomains'> {
  return { ...(e.attachments.length ? { attachments: e.attachments } : {}), ...(e.linkDomains.length ? { linkDomains: e.linkDomains } : {}) };
}

function nullReporter(): Reporter {
  return { userAgent: null, sourceIp: null, reportedDomain: null };
}

function originalOf(h: HeaderList | null, mailFrom: string | null): OriginalMessage {
  const val = (name: string): string | null => {
    const v = h?.decoded(name)?.trim();
    return v ? v : null;
  };
  const rp = h?.get('return-path');
  return {
    messageId: val('message-id'),
    from: val('from'),
    subject: val('subject'),
    date: val('date'),
    returnPath: (rp !== undefined ? firstAddress(rp) : null) ?? mailFrom,
  };
}

function normaliseDomain(a: string): string {
  const at = a.lastIndexOf('@');
  return at < 0 ? a : a.slice(0, at + 1) + a.slice(at + 1).toLowerCase();
}

// ---------------------------------------------------------------------------------------
// Walking

function firstEnclosed(root: MimePart): MimePart | null {
  const stack: MimePart[] = [root];
  while (stack.length > 0) {
    const p = stack.shift()!;
    if (p !== root && ENCLOSED_TYPES.has(p.type) && p.children[0]) return p.children[0];
    stack.push(...p.children);
  }
  return null;
}

/** The first text/plain leaf outside enclosed messages (the forwarder's own words). */
function firstText(root: MimePart): string | null {
  const stack: MimePart[] = [root];
  while (stack.length > 0) {
    const p = stack.shift()!;
    if (p.children.length === 0) {
      if (p.type === 'text/plain') return partText(p).slice(0, MAX_BODY_TEXT);
      continue;
    }
    if (ENCLOSED_TYPES.has(p.type)) continue;
    stack.push(...p.children);
  }
  return null;
}

/** Decoded text of every text leaf under `part`, bounded. */
function textOf(part: MimePart): string {
  const out: string[] = [];
  let size = 0;
  const visit = (p: MimePart): void => {
    if (size >= MAX_BODY_TEXT) return;
    if (p.children.length > 0) {
      for (const c of p.children) visit(c);
      return;
    }
    if (!p.type.startsWith('text/')) return;
    const t = partText(p);
    out.push(t);
    size += t.length;
  };
  visit(part);
  const s = out.join('\n');
  return s.length > MAX_BODY_TEXT ? s.slice(0, MAX_BODY_TEXT) : s;
}
