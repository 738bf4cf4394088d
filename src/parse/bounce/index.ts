/**
 * Bounces: RFC 3464 DSNs, the non-standard notices of other MTAs, and RFC 3834
 * autoreplies, turned into one RecipientReport per recipient. Pure: a MimePart in, data out.
 */
import { ENCLOSED_TYPES, type HeaderList, type MimePart, parseHeaderBlock, partText, utf8Binary } from '../mime.js';
import { stripQuotePrefix } from '../quote.js';
import type { RecipientReport } from '../report.js';
import { addressList, firstAddress } from '../../address.js';
import { isAutoreply } from './autoreply.js';
import { type DsnRecipient, dsnAddress, parseDsnFields } from './dsn.js';
import { type BounceRules, type Classification, classify, matchText, statusFromText, replyCodeFromText } from './rules.js';
import { parseSesNotification } from './ses.js';
import { cutOriginal, findNoticeRecipients, type NoticeRecipient, segmentFor } from './text.js';
import { tick } from '../deadline.js';
import { htmlToText } from '../html.js';

export { loadBounceRules, classify, compileBounceRules } from './rules.js';
export type { BounceRules, ClassifyInput, Classification, TextRule } from './rules.js';

export interface BounceResult {
  kind: 'bounce' | 'delivery-notice' | 'autoreply';
  recipients: RecipientReport[];
  /** Headers of the returned message if found (enclosed part or quoted in the text). */
  original?: HeaderList;
}

/** Senders that only ever write bounces (RFC 5321 §4.5.5 null sender aside). */
const DAEMON_SENDER =
  /(?:^|[<\s"(])(?:mailer[-_.]?daemon|mail[-_.]?daemon|postmaster|post_master|mdaemon|mail[-_. ]?delivery[-_. ]?(?:system|subsystem|service)?|bounces?|mail[-_.]?admin|nobody|mailer)(?:@|[>\s")]|$)/i;
const BOUNCE_DISPLAY_NAME = /^\s*"?(?:mail delivery (?:system|subsystem|service)|mail administrator|mailer[- ]daemon|postmaster|system administrator)/i;
/** Subjects of non-delivery notices (English and the languages in the wild). */
const BOUNCE_SUBJECT =
  /undeliver|undelivered|not delivered|delivery (?:status|failure|failed|notification|problem|report|has failed|error)|returned mail|returning message|failure notice|mail delivery|could not be delivered|non[- ]?delivery|nondeliverable|returned to sender|mail system error|delivery (?:incomplete|delayed)|warning: message|mail failure|message (?:delivery )?(?:failed|failure)|bounce|unzustellbar|non remis|no entregado|non recapitato|échec|rejected|error|loop alert|メールエラー|配信|不達/i;

const DELAY_NOTICE =
  /\b(?:has not yet been delivered|not been delivered yet|(?:is|been|was) delayed|delivery (?:is )?delayed|delayed delivery|will (?:continue|keep) (?:to )?(?:try|retry)|still (?:trying|retrying)|no action is required on your part)\b/i;
const PERMANENT_NOTICE = /\b(?:permanent(?:ly)?|fatal|given up|gave up|could not be delivered|undeliverable|failed)\b/i;

interface Parts {
  dsn: MimePart[];
  text: MimePart[];
  html: MimePart[];
  original: MimePart | null;
  feedback: boolean;
}

/** Splits the tree: report parts, the notice's own text parts, and the returned message. */
function collectParts(root: MimePart): Parts {
  const parts: Parts = { dsn: [], text: [], html: [], original: null, feedback: false };
  const visit = (p: MimePart): void => {
    // The returned message; nothing inside it is the notice's.
    if (ENCLOSED_TYPES.has(p.type) || p.type === 'message/global-headers' || p.type === 'message/partial') {
      if (!parts.original && p.children[0]) parts.original = p.children[0];
      return;
    }
    switch (p.type) {
      case 'message/delivery-status':
      case 'message/global-delivery-status':
        parts.dsn.push(p);
        return;
      case 'message/feedback-report':
        parts.feedback = true;
        return;
      case 'text/plain':
        parts.text.push(p);
        return;
      case 'text/html':
        parts.html.push(p);
        return;
      default:
        // A multipart whose body holds no delimiter line at all (old sendmail wrote the
        // report parts without them) is read as the text it is.
        if (p.type.startsWith('multipart/') && p.children.length === 0) parts.text.push(p);
        for (const c of p.children) visit(c);
    }
  };
  visit(root);
  return parts;
}

/** Sentences only non-delivery notices write. */
const NOTICE_PHRASE =
  /could not be delivered|couldn't be delivered|was not delivered|undeliverable|delivery (?:has )?failed|delivery to the following|permanent (?:fatal )?error|following (?:address(?:es)?|recipients?) (?:had|failed|could not|was|were)|not be delivered to|unable to deliver|error delivering|wasn't able to deliver|did not reach|returned mail|mail delivery failed|delivery status notification/i;

function isBounceLike(h: HeaderList): boolean {
  if (h.has('x-failed-recipients')) return true;
  const from = h.decoded('from') ?? '';
  if (DAEMON_SENDER.test(from) || BOUNCE_DISPLAY_NAME.test(from)) return true;
  const returnPath = (h.get('return-path') ?? '').trim();
  const subject = h.decoded('subject') ?? '';
  if (BOUNCE_SUBJECT.test(subject)) return returnPath === '<>' || returnPath === '' || /daemon|postmaster|bounce|no-?reply|admin/i.test(from);
  return false;
}

/**
 * Picks the status: the remote server's code quoted in the diagnostic when it has the same
 * class as the Status field (the field is often the reporting MTA's summary, e.g. 4.4.7
 * "expired" over the 4.7.1 the remote host actually said), else the field.
 */
function chooseStatus(field: string | null, text: string | null): string | null {
  const inText = text ? statusFromText(text) : null;
  if (!field) return inText;
  if (inText && inText[0] === field[0] && !/^[245]\.0\.0$/.test(inText)) return inText;
  return field;
}

/**
 * Texts handed to the classification rules are cut to this many characters: a reply or a
 * notice paragraph is far shorter, and the rules are data that anyone may extend, so a
 * pattern that backtracks is still bounded by this length rather than by the message's.
 */
const MAX_RULE_TEXT = 2048;

function clip(s: string | null): string | null {
  return s !== null && s.length > MAX_RULE_TEXT ? s.slice(0, MAX_RULE_TEXT) : s;
}

function tidy(s: string | null | undefined, max = 1000): string | null {
  if (!s) return null;
  const t = s.replace(/\s+/g, ' ').trim();
  return t ? (t.length > max ? t.slice(0, max) : t) : null;
}

interface Candidate {
  address: string | null;
  action: string | null;
  status: string | null;
  diagnostic: string | null;
  /** Text about this recipient alone (its paragraph in the notice). */
  near: string[];
  /** The whole notice: read last, it is mostly boilerplate. */
  far: string | null;
  /** The comment of the DSN Status field, when a Diagnostic-Code was given too. */
  comment?: string | null;
  /** The DSN Remote-MTA. */
  remoteMta?: string | null;
}

const DECISIVE = new Set<Classification['source']>(['status', 'text', 'unconfirmed', 'action']);

function report(rules: BounceRules, c: Candidate): RecipientReport {
  const own = [c.diagnostic, ...c.near].filter((t): t is string => Boolean(t && t.trim()));
  const all = c.far ? [...own, c.far] : own;
  const status = chooseStatus(c.status, own.find((t) => statusFromText(t)) ?? null);
  const replyCode = own.map((t) => replyCodeFromText(t.replace(/\s+/g, ' '))).find(Boolean) ?? null;
  const context = all.slice(1).join('\n');
  const hosts = [c.address ? c.address.slice(c.address.lastIndexOf('@') + 1) : null, c.remoteMta];
  const run = (t: string | null): Classification => classify(rules, { status, replyCode, diagnostic: clip(t), action: c.action, context: clip(context), hosts });
  let best: Classification | null = null;
  for (const t of own) {
    const r = run(t);
    best ??= r;
    if (DECISIVE.has(r.source)) {
      best = r;
      break;
    }
  }
  // A generic phrase the stage did not confirm gives way to the reporting MTA's own
  // reading of the status code ("Status: 5.2.1 (mailbox disabled, not accepting messages)").
  if (best?.source === 'unconfirmed' && c.comment) {
    const r = run(c.comment);
    if (r.source === 'text') best = r;
  }
  if (c.far && (!best || (best.source !== 'status' && best.source !== 'text' && best.source !== 'unconfirmed'))) {
    const r = run(c.far);
    // The notice's prose beats only the absence of anything better.
    if (!best || ((r.source === 'text' || r.source === 'unconfirmed') && (best.source === 'none' || best.source === 'action'))) best = r;
  }
  best ??= run(null);
  rules.trace?.(best);
  return {
    address: c.address,
    redacted: false,
    reason: best.reason,
    hard: best.hard,
    action: c.action,
    status: best.status,
    replyCode,
    diagnostic: tidy(c.diagnostic ?? c.near[0] ?? c.far ?? null),
  };
}

function originalHeaders(parts: Parts, rest: string): HeaderList | undefined {
  if (parts.original) return parts.original.headers;
  if (!rest) return undefined;
  // Headers quoted in the text, after the marker line, possibly indented.
  const lines = rest.split('\n');
  let i = 0;
  while (i < lines.length && !/^\s*[A-Za-z][A-Za-z0-9-]*:\s/.test(lines[i])) i++;
  const block: string[] = [];
  for (; i < lines.length && lines[i].trim() !== ''; i++) block.push(lines[i].replace(/^ {1,3}(?=\S)/, ''));
  const h = parseHeaderBlock(utf8Binary(block.join('\n')));
  return h.fields.length > 0 ? h : undefined;
}

/** Lines quoted with "> " (a bounce forwarded inline by a person), unquoted one level. */
function unquote(text: string): string | null {
  const lines = text.split('\n');
  const quoted = lines.filter((l) => l.startsWith('>')).length;
  if (quoted < 5) return null;
  return lines.map((l) => stripQuotePrefix(l, '> ')).join('\n');
}

/** Reads recipients from the text of the notice (and the report part, if any). */
function fromNotice(h: HeaderList, parts: Parts, text: string): { candidates: Candidate[]; original?: HeaderList } {
  const { notice, rest } = cutOriginal(text);

  const exclude = new Set<string>();
  for (const name of ['to', 'from', 'return-path', 'reply-to']) {
    for (const a of addressList(h.text(name))) exclude.add(a.toLowerCase());
  }

  // RFC 3464 fields: the report part, else fields quoted in the notice text.
  let dsn: DsnRecipient[] = [];
  for (const p of parts.dsn) {
    const f = parseDsnFields(partText(p).replace(/\r\n?/g, '\n'));
    if (f) dsn.push(...f.recipients);
  }
  if (dsn.length === 0 && /^(?:final-recipient|original-recipient)\s*:/im.test(text)) {
    dsn = parseDsnFields(text)?.recipients ?? [];
  }
  // A report part that names nobody and says nothing is not worth a recipient.
  dsn = dsn.filter((r) => dsnAddress(r) || r.action || r.status || r.diagnostic);

  const bounceLike = dsn.length > 0 || isBounceLike(h);
  const original = originalHeaders(parts, rest);
  // The returned message's sender is who is being told, never a failed recipient.
  if (original) {
    for (const name of ['from', 'return-path', 'sender']) {
      for (const a of addressList(original.text(name))) exclude.add(a.toLowerCase());
    }
  }
  const noticeLike = bounceLike || NOTICE_PHRASE.test(notice);
  let noticeRecipients: NoticeRecipient[] = noticeLike ? findNoticeRecipients(notice, exclude) : [];
  if (noticeLike && noticeRecipients.length === 0 && exclude.size > 0) noticeRecipients = findNoticeRecipients(notice, new Set());

  const candidates: Candidate[] = [];
  if (dsn.length > 0) {
    for (const [i, r] of dsn.entries()) {
      let address = dsnAddress(r);
      if (!address && dsn.length === noticeRecipients.length) address = noticeRecipients[i].address;
      const segment = address ? segmentFor(noticeRecipients, address) : null;
      candidates.push({
        address,
        action: r.action ?? 'failed',
        status: r.status,
        diagnostic: r.diagnostic ?? r.statusComment ?? segment,
        near: segment && r.diagnostic ? [segment] : [],
        comment: r.diagnostic ? r.statusComment : null,
        remoteMta: r.remoteMta,
        far: dsn.length === 1 ? notice : null,
      });
    }
    return { candidates, original };
  }
  if (!bounceLike && noticeRecipients.length === 0) return { candidates, original };

  let recipients = noticeRecipients;
  if (recipients.length === 0) {
    // A bounce forwarding another bounce: the inner one names the recipients.
    if (parts.original && isBounceLike(parts.original.headers)) return { candidates, original };
    // No recipient line: the MTA named the recipients in a header (Exim) or only in the
    // returned message.
    const failed = h.text('x-failed-recipients');
    const src = failed ?? original?.text('to');
    recipients = addressList(src)
      .filter((a) => !exclude.has(a.toLowerCase()))
      .map((address) => ({ address, segment: '' }));
    if (failed && recipients.length === 0) recipients = addressList(failed).map((address) => ({ address, segment: '' }));
  }
  const action = DELAY_NOTICE.test(notice) && !PERMANENT_NOTICE.test(notice) ? 'delayed' : 'failed';
  for (const r of recipients) {
    candidates.push({ address: r.address, action, status: null, diagnostic: r.segment || null, near: [], far: notice });
  }
  return { candidates, original };
}

/** The reason a header of the bounce states for all its recipients (e.g. EZweb's X-SPASIGN). */
function headerVerdict(rules: BounceRules, h: HeaderList | null): string | null {
  if (!h) return null;
  for (const r of rules.headerRules) {
    const v = h.get(r.header);
    if (v !== undefined && r.re.test(v.trim())) return r.reason;
  }
  return null;
}

function result(rules: BounceRules, candidates: Candidate[], original: HeaderList | undefined, h: HeaderList | null = null): BounceResult {
  const seen = new Set<string>();
  const recipients: RecipientReport[] = [];
  const verdict = headerVerdict(rules, h);
  for (const c of candidates) {
    tick();
    const key = c.address ? c.address.toLowerCase() : `#${recipients.length}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const r = report(rules, c);
    if (verdict && r.action !== 'delivered') {
      r.reason = verdict;
      r.hard = rules.hardReasons.has(verdict) || (rules.hardIfPermanent.has(verdict) && !r.status?.startsWith('4.'));
    }
    recipients.push(r);
  }
  const failed = recipients.some((r) => r.action === 'failed' || r.action === null);
  return { kind: failed ? 'bounce' : 'delivery-notice', recipients, original };
}

/**
 * Parses a bounce, delivery notice or autoreply. Returns null when the message is none of
 * these (ARF feedback reports included: they have their own parser).
 */
export function parseBounce(root: MimePart, rules: BounceRules, depth = 0): BounceResult | null {
  const parts = collectParts(root);
  if (parts.feedback) return null;
  const h = root.headers;

  let text = parts.text.map((p) => partText(p)).join('\n\n');
  if (!text.trim() && parts.html.length > 0) text = parts.html.map((p) => htmlToText(partText(p))).join('\n\n');
  text = text.replace(/\r\n?/g, '\n');

  const ses = parseSesNotification(text);
  if (ses) {
    if (ses.type === 'complaint' || ses.recipients.length === 0) return null;
    const candidates = ses.recipients.map((r) => ({ address: r.address, action: r.action, status: r.status, diagnostic: r.diagnostic, near: [], far: null }));
    return result(rules, candidates, parts.original?.headers);
  }

  let found = fromNotice(h, parts, text);
  if (found.candidates.length === 0 && parts.dsn.length === 0) {
    const unquoted = unquote(text);
    if (unquoted) found = fromNotice(h, parts, unquoted);
  }
  if (found.candidates.length > 0) return result(rules, found.candidates, found.original, h);

  // A notice that encloses another bounce (forwarded or re-bounced): read the inner one.
  if (parts.original && depth < 3 && isBounceLike(parts.original.headers)) {
    const inner = parseBounce(parts.original, rules, depth + 1);
    if (inner && inner.kind !== 'autoreply') return inner;
  }

  if (isAutoreply(h)) {
    const from = firstAddress(h.text('from'));
    return {
      kind: 'autoreply',
      recipients: [
        { address: from, redacted: false, reason: 'vacation', hard: false, action: null, status: null, replyCode: null, diagnostic: tidy(h.decoded('subject')) },
      ],
      original: found.original,
    };
  }
  return null;
}

/** Exposed for tests: the text rule a diagnostic would hit. */
export { matchText };
