/**
 * The Postfix policy delegation protocol (SMTPD_POLICY_README), pure: framing a byte
 * stream into requests, parsing one request, choosing whose suppression list applies and
 * turning a lookup into the action line. No I/O; the server in server.ts is the thin edge.
 *
 * A request is `name=value` lines ended by an empty line; the reply is `action=…` and an
 * empty line. Postfix sends one request at a time per connection and keeps the connection
 * open; other clients may pipeline, so the framer yields every complete request in a chunk.
 */
import { normaliseEmail } from '../address.js';

export type AccountSource = 'verp' | 'sasl' | 'verp-then-sasl';

/** Why a request was refused as malformed; logged with code POLICY_MALFORMED. */
export type MalformedReason =
  | 'empty'
  | 'oversize'
  | 'too-many-attributes'
  | 'bad-line'
  | 'binary'
  | 'duplicate-attribute'
  | 'no-request'
  | 'unsupported-request';

export interface PolicyRequest {
  readonly protocolState: string;
  readonly recipient: string;
  readonly sender: string;
  readonly saslUsername: string;
  readonly queueId: string;
}

export type ParseResult =
  | { ok: true; request: PolicyRequest }
  | { ok: false; reason: MalformedReason; detail: string };

export const LIMITS = {
  /** Postfix's own requests are well under 2 KiB. */
  maxRequestBytes: 64 * 1024,
  maxAttributes: 1000,
};

const NAME_RE = /^[A-Za-z0-9_.-]{1,64}$/;
/** Control characters other than tab and the line feeds between attributes never occur in Postfix's requests. */
const CONTROL_RE = /[\x00-\x08\x0b-\x1f\x7f]/;
/**
 * A whole well-formed request in one linear scan (names cannot hold `=`, values cannot hold
 * LF, so nothing backtracks). Invalid UTF-8 (U+FFFD after decoding) is allowed in values:
 * Postfix passes 8-bit data through.
 */
const WELL_FORMED = /^[A-Za-z0-9_.-]{1,64}=[^\n\x00-\x08\x0b-\x1f\x7f]*(?:\n[A-Za-z0-9_.-]{1,64}=[^\n\x00-\x08\x0b-\x1f\x7f]*)*$/;
const ACCOUNT_RE = /^[A-Za-z0-9._-]{1,64}$/;

/** The attributes a decision reads, by first character; each may appear once (two values leave it open which one was decided on). */
type Used = 'request' | 'protocol_state' | 'recipient' | 'sender' | 'sasl_username' | 'queue_id';
const USED_BY_FIRST: Record<string, readonly Used[]> = {
  r: ['request', 'recipient'],
  s: ['sender', 'sasl_username'],
  p: ['protocol_state'],
  q: ['queue_id'],
};

/**
 * Parses one request: its `name=value` lines joined by LF, without the terminating empty
 * line (what RequestFramer yields). Never throws: anything that is not a well-formed
 * `smtpd_access_policy` request comes back as a reason. Attributes other than the ones a
 * decision reads are checked for form and otherwise ignored.
 */
export function parseRequest(text: string, maxAttributes = LIMITS.maxAttributes): ParseResult {
  if (text === '') return { ok: false, reason: 'empty', detail: 'request has no attributes' };
  if (!WELL_FORMED.test(text)) return whyMalformed(text);
  const found: Partial<Record<Used, string>> = {};
  let count = 0;
  for (let pos = 0; pos <= text.length; ) {
    let nl = text.indexOf('\n', pos);
    if (nl < 0) nl = text.length;
    if (++count > maxAttributes) return { ok: false, reason: 'too-many-attributes', detail: `more than ${maxAttributes} attributes` };
    // Most of Postfix's ~30 attributes are not read: skip them without building their names.
    const candidates = USED_BY_FIRST[text[pos]];
    if (candidates) {
      for (const name of candidates) {
        if (text.charCodeAt(pos + name.length) === 61 /* = */ && text.startsWith(name, pos)) {
          if (found[name] !== undefined) return { ok: false, reason: 'duplicate-attribute', detail: `attribute ${name} appears twice` };
          found[name] = text.slice(pos + name.length + 1, nl);
          break;
        }
      }
    }
    pos = nl + 1;
  }
  const request = found.request;
  if (request === undefined) return { ok: false, reason: 'no-request', detail: 'no request= attribute' };
  if (request !== 'smtpd_access_policy') {
    return { ok: false, reason: 'unsupported-request', detail: `request=${request.slice(0, 64)} is not smtpd_access_policy` };
  }
  return {
    ok: true,
    request: {
      protocolState: found.protocol_state ?? '',
      recipient: found.recipient ?? '',
      sender: found.sender ?? '',
      saslUsername: found.sasl_username ?? '',
      queueId: found.queue_id ?? '',
    },
  };
}

/** The first line that spoils a request, and how (the slow path, for the log). */
function whyMalformed(text: string): ParseResult {
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const eq = line.indexOf('=');
    const name = eq < 0 ? line : line.slice(0, eq);
    if (eq < 0 || !NAME_RE.test(name)) {
      return CONTROL_RE.test(name) || name.includes('\ufffd')
        ? { ok: false, reason: 'binary', detail: `line ${i + 1} holds binary data` }
        : { ok: false, reason: 'bad-line', detail: `line ${i + 1} is not name=value` };
    }
    if (CONTROL_RE.test(line)) return { ok: false, reason: 'binary', detail: `attribute ${name} holds control characters` };
  }
  return { ok: false, reason: 'bad-line', detail: 'not name=value lines' };
}

export type FrameEvent = { kind: 'request'; text: string } | { kind: 'oversize'; bytes: number };

const LF = 0x0a;
const CR = 0x0d;

/**
 * Splits a byte stream into requests, each decoded once as UTF-8 with its lines joined by
 * LF. Holds at most `maxRequestBytes` of an unfinished request; past that it reports
 * `oversize` once and drops everything after, since where the next request would start can
 * no longer be trusted (the server then closes). Lines may end in CRLF as well as LF
 * (hand-typed tests, telnet).
 */
export class RequestFramer {
  /** The unfinished request, in a buffer that grows by doubling (no re-copying per chunk). */
  private acc: Buffer | null = null;
  private accLen = 0;
  private broken = false;

  constructor(private readonly maxRequestBytes = LIMITS.maxRequestBytes) {}

  push(chunk: Buffer): FrameEvent[] {
    const out: FrameEvent[] = [];
    if (this.broken) return out;
    let buf = chunk;
    // What was held has no terminator in it: search only where one could now end.
    let searchFrom = 0;
    if (this.acc) {
      const need = this.accLen + chunk.length;
      if (need > this.acc.length) {
        const grown = Buffer.allocUnsafe(Math.max(need, this.acc.length * 2));
        this.acc.copy(grown, 0, 0, this.accLen);
        this.acc = grown;
      }
      chunk.copy(this.acc, this.accLen);
      searchFrom = Math.max(0, this.accLen - 2);
      this.accLen = need;
      buf = this.acc.subarray(0, need);
    }
    let start = 0;
    while (start < buf.length) {
      // A request that is only its empty line.
      if (buf[start] === LF || (buf[start] === CR && buf[start + 1] === LF)) {
        out.push({ kind: 'request', text: '' });
        start += buf[start] === LF ? 1 : 2;
        continue;
      }
      const from = Math.max(start, searchFrom);
      const lf = buf.indexOf('\n\n', from);
      // Look for a CRLF ending only before the LF one, so a batch of requests is scanned once.
      const crlfIn = (lf < 0 ? buf.subarray(from) : buf.subarray(from, lf + 1)).indexOf('\n\r\n');
      const crlf = crlfIn < 0 ? -1 : from + crlfIn;
      const end = lf < 0 ? crlf : crlf < 0 ? lf : Math.min(lf, crlf);
      if (end < 0) break;
      const next = end + (end === lf ? 2 : 3);
      if (next - start > this.maxRequestBytes) return this.overflow(out, next - start);
      let text = buf.toString('utf8', start, end);
      if (text.includes('\r')) text = text.replace(/\r$/, '').replace(/\r\n/g, '\n');
      out.push({ kind: 'request', text });
      start = next;
    }
    const rest = buf.length - start;
    if (rest > this.maxRequestBytes) return this.overflow(out, rest);
    if (rest === 0) {
      this.acc = null;
      this.accLen = 0;
    } else if (this.acc) {
      this.acc.copyWithin(0, start, this.accLen);
      this.accLen = rest;
    } else {
      // Copy: the socket may reuse its buffer.
      this.acc = Buffer.allocUnsafe(Math.max(4096, rest * 2));
      buf.copy(this.acc, 0, start);
      this.accLen = rest;
    }
    return out;
  }

  /** True while part of a request has arrived but not its end. */
  get midRequest(): boolean {
    return this.accLen > 0;
  }

  private overflow(out: FrameEvent[], bytes: number): FrameEvent[] {
    out.push({ kind: 'oversize', bytes });
    this.broken = true;
    this.acc = null;
    this.accLen = 0;
    return out;
  }
}

export type Subject =
  | { ok: true; account: string; address: string; via: 'verp' | 'sasl' }
  | { ok: false; why: 'no-recipient' | 'bad-recipient' | 'no-account' };

/** The token of a VERP sender `<prefix>+<token>@domain`, or null. The prefix is matched case-insensitively (MTAs lowercase local parts). */
export function verpToken(sender: string, prefix: string): string | null {
  const at = sender.lastIndexOf('@');
  if (at <= 0) return null;
  const local = sender.slice(0, at);
  if (local.length <= prefix.length + 1 || local[prefix.length] !== '+') return null;
  if (local.slice(0, prefix.length).toLowerCase() !== prefix.toLowerCase()) return null;
  return local.slice(prefix.length + 1);
}

export interface SubjectOptions {
  accountFrom: AccountSource;
  verpPrefix: string;
  accountFromToken(token: string): string | null;
}

/**
 * Whose list and which address a request is about. A request we cannot attribute to an
 * account is not checked: we do not block what we cannot attribute.
 */
export function subjectOf(req: PolicyRequest, opts: SubjectOptions): Subject {
  // At MAIL FROM, or in restrictions evaluated after several RCPTs, there is no single recipient.
  if (req.recipient === '') return { ok: false, why: 'no-recipient' };
  const address = normaliseEmail(req.recipient);
  if (address === null) return { ok: false, why: 'bad-recipient' };
  if (opts.accountFrom !== 'sasl') {
    const token = verpToken(req.sender, opts.verpPrefix);
    const account = token === null ? null : opts.accountFromToken(token);
    if (account !== null) return { ok: true, account, address, via: 'verp' };
  }
  if (opts.accountFrom !== 'verp' && ACCOUNT_RE.test(req.saslUsername)) {
    return { ok: true, account: req.saslUsername, address, via: 'sasl' };
  }
  return { ok: false, why: 'no-account' };
}

export type LookupOutcome =
  | { kind: 'skipped' }
  | { kind: 'found'; suppression: { reason: string } | null }
  | { kind: 'failed' };

export type PolicyResult = 'reject' | 'dunno' | 'defer' | 'malformed';

export interface PolicyDecision {
  result: PolicyResult;
  /** The reply without its terminating empty line, e.g. `action=DUNNO`. */
  action: string;
}

export const ACTIONS = {
  dunno: 'action=DUNNO',
  // DEFER_IF_PERMIT: Postfix tempfails only if the mail would otherwise be accepted.
  unavailable: 'action=DEFER_IF_PERMIT 4.3.0 Service temporarily unavailable',
  malformed: 'action=DEFER_IF_PERMIT 4.7.0 Malformed policy request',
} as const;

/** Printable ASCII only, so that a stored reason can never break the reply's framing. */
export function rejectText(reason: string): string {
  const clean = reason.replace(/[^\x20-\x7e]+/g, ' ').trim().slice(0, 100).trim();
  return clean ? `Recipient suppressed (${clean})` : 'Recipient suppressed';
}

export function decidePolicy(parsed: ParseResult, lookup: LookupOutcome): PolicyDecision {
  if (!parsed.ok) return { result: 'malformed', action: ACTIONS.malformed };
  switch (lookup.kind) {
    case 'skipped':
      return { result: 'dunno', action: ACTIONS.dunno };
    case 'failed':
      return { result: 'defer', action: ACTIONS.unavailable };
    case 'found':
      return lookup.suppression
        ? { result: 'reject', action: `action=REJECT 5.7.1 ${rejectText(lookup.suppression.reason)}` }
        : { result: 'dunno', action: ACTIONS.dunno };
  }
}
