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
  /** Every attribute as sent (names are case-sensitive, as in Postfix). */
  readonly attrs: ReadonlyMap<string, string>;
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
/** Control characters other than tab never occur in Postfix's attribute values. */
const CONTROL_RE = /[\x00-\x08\x0a-\x1f\x7f]/;
const ACCOUNT_RE = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * Parses the lines of one request (without its terminating empty line). Never throws:
 * anything that is not a well-formed `smtpd_access_policy` request comes back as a reason.
 */
export function parseRequest(lines: readonly string[], maxAttributes = LIMITS.maxAttributes): ParseResult {
  if (lines.length === 0) return { ok: false, reason: 'empty', detail: 'request has no attributes' };
  if (lines.length > maxAttributes) {
    return { ok: false, reason: 'too-many-attributes', detail: `${lines.length} attributes, limit ${maxAttributes}` };
  }
  const attrs = new Map<string, string>();
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const eq = line.indexOf('=');
    const name = eq < 0 ? line : line.slice(0, eq);
    if (eq < 0 || !NAME_RE.test(name)) {
      return CONTROL_RE.test(line) || line.includes('\ufffd')
        ? { ok: false, reason: 'binary', detail: `line ${i + 1} holds binary data` }
        : { ok: false, reason: 'bad-line', detail: `line ${i + 1} is not name=value` };
    }
    const value = line.slice(eq + 1);
    if (CONTROL_RE.test(value)) return { ok: false, reason: 'binary', detail: `attribute ${name} holds control characters` };
    // Two values for one name leave it open which one a decision was made on.
    if (attrs.has(name)) return { ok: false, reason: 'duplicate-attribute', detail: `attribute ${name} appears twice` };
    attrs.set(name, value);
  }
  const request = attrs.get('request');
  if (request === undefined) return { ok: false, reason: 'no-request', detail: 'no request= attribute' };
  if (request !== 'smtpd_access_policy') {
    return { ok: false, reason: 'unsupported-request', detail: `request=${request.slice(0, 64)} is not smtpd_access_policy` };
  }
  return {
    ok: true,
    request: {
      attrs,
      protocolState: attrs.get('protocol_state') ?? '',
      recipient: attrs.get('recipient') ?? '',
      sender: attrs.get('sender') ?? '',
      saslUsername: attrs.get('sasl_username') ?? '',
      queueId: attrs.get('queue_id') ?? '',
    },
  };
}

export type FrameEvent = { kind: 'request'; lines: string[] } | { kind: 'oversize'; bytes: number };

/**
 * Splits a byte stream into requests. Holds at most `maxRequestBytes` of an unfinished
 * request; past that it reports `oversize` once and drops everything after, since where
 * the next request would start can no longer be trusted (the server then closes).
 * Lines may end in CRLF as well as LF (hand-typed tests, telnet).
 */
export class RequestFramer {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private lines: string[] = [];
  private requestBytes = 0;
  private broken = false;

  constructor(private readonly maxRequestBytes = LIMITS.maxRequestBytes) {}

  push(chunk: Buffer): FrameEvent[] {
    const out: FrameEvent[] = [];
    if (this.broken) return out;
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(10, start);
      if (nl < 0) break;
      let line: Buffer = chunk.subarray(start, nl);
      this.requestBytes += nl - start + 1;
      start = nl + 1;
      if (this.pendingBytes > 0) {
        line = Buffer.concat([...this.pending, line]);
        this.pending = [];
        this.pendingBytes = 0;
      }
      if (this.requestBytes > this.maxRequestBytes) return this.overflow(out);
      let end = line.length;
      if (end > 0 && line[end - 1] === 13) end--;
      if (end === 0) {
        out.push({ kind: 'request', lines: this.lines });
        this.lines = [];
        this.requestBytes = 0;
      } else {
        this.lines.push(line.toString('utf8', 0, end));
      }
    }
    if (start < chunk.length) {
      const rest = chunk.subarray(start);
      this.requestBytes += rest.length;
      if (this.requestBytes > this.maxRequestBytes) return this.overflow(out);
      // Copy: the socket may reuse its buffer.
      this.pending.push(Buffer.from(rest));
      this.pendingBytes += rest.length;
    }
    return out;
  }

  /** True while part of a request has arrived but not its end. */
  get midRequest(): boolean {
    return this.lines.length > 0 || this.pendingBytes > 0;
  }

  private overflow(out: FrameEvent[]): FrameEvent[] {
    out.push({ kind: 'oversize', bytes: this.requestBytes });
    this.broken = true;
    this.pending = [];
    this.lines = [];
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
