/**
 * What happens to an accepted message: parse → decide → record. The SMTP edge hands in
 * bytes and an envelope and gets back the id it may put in its 250, or an error that it
 * turns into a 4xx. Nothing here speaks SMTP.
 */
import { createHash } from 'node:crypto';
import type { Clock } from './clock.js';
import type { AbuseInput, CaseOutcome, Desk } from './desk.js';
import type { Effects, EffectOutcome } from './effects.js';
import { newId } from './ids.js';
import type { Logger } from './log.js';
import { GatewayError } from './errors.js';
import { internalFaults, parseDuration, reportsByKind } from './metrics.js';
import type { ParseOptions } from './parse/index.js';
import { headerBytes } from './parse/mime.js';
import { type Report, unreadableReport } from './parse/report.js';
import type { Mailbox } from './smtp/mailbox.js';
import type { BounceBinding } from './rules/evidence.js';
import type { Store } from './store/store.js';
import type { AuthInput, ReporterAuth } from './trust/reporters.js';

export interface Envelope {
  mailbox: Mailbox;
  token?: string;
  mailFrom: string;
  rcptTo: string[];
  clientIp: string;
  helo: string;
}

export interface Accepted {
  id: string;
  report: Report;
  quarantined: boolean;
  effects: EffectOutcome | null;
  /** The abuse case this report opened or joined (abuse@ mail, fraud/virus complaints). */
  case: CaseOutcome | null;
}

export type Parser = (raw: Buffer, opts: ParseOptions) => Report;

export interface IngestDeps {
  store: Store;
  effects: Effects;
  desk: Desk;
  /** ARF feedback types that open a case even when they arrive at fbl@. */
  caseFeedbackTypes: readonly string[];
  /** Authenticates a feedback report's sender (DKIM/SPF/DMARC, trusted list). */
  authenticate: (input: AuthInput) => Promise<ReporterAuth>;
  parse: Parser;
  /**
   * What a bounce's token speaks for: the VERP token of bounces+TOKEN@, else a long token
   * (it names its recipient) in the returned message; null when neither verifies.
   */
  bind: (token: string | undefined, raw: Buffer) => BounceBinding | null;
  parseOptions: Omit<ParseOptions, 'mailbox' | 'envelopeToken'>;
  clock: Clock;
  log: Logger;
  quarantineBytes: number;
  maxHeaderBytes: number;
}

/**
 * Header fields that differ between two deliveries of the same message (each hop and each
 * attempt adds its own trace fields, RFC 5321 §4.4): left out of a content fingerprint.
 */
const TRACE_FIELDS = new Set(['received', 'return-path', 'delivered-to', 'x-original-to', 'x-received', 'arc-seal', 'arc-message-signature', 'arc-authentication-results', 'authentication-results']);

/**
 * What makes a message the same message when it is delivered again (an MTA retrying after a
 * lost `250`): its own Message-ID (RFC 5322 §3.6.4: unique per message, kept across
 * retries) scoped to the mailbox and the VERP token, else a hash of its header fields
 * without trace fields, and its body. For a DSN with a VERP token this is the issue's
 * "VERP token + the DSN's own Message-ID"; the Final-Recipient is added per recipient
 * by the effects. Linear in the message size; no regular expression sees untrusted text.
 */
export function messageFingerprint(raw: Buffer, env: Pick<Envelope, 'mailbox' | 'token'>, maxHeaderBytes: number): string {
  const end = headerBytes(raw);
  const head = raw.subarray(0, Math.min(end, maxHeaderBytes)).toString('latin1');
  const fields: string[] = [];
  for (const line of head.split('\n')) {
    const l = line.endsWith('\r') ? line.slice(0, -1) : line;
    if ((l.startsWith(' ') || l.startsWith('\t')) && fields.length) fields[fields.length - 1] += ' ' + l.trim();
    else fields.push(l);
  }
  const h = createHash('sha256').update(`${env.mailbox}\u0000${env.token ?? ''}\u0000`);
  for (const f of fields) {
    const colon = f.indexOf(':');
    if (colon > 0 && f.slice(0, colon).trim().toLowerCase() === 'message-id') {
      const id = f.slice(colon + 1).trim();
      if (id) return 'm' + h.update('mid\u0000' + id).digest('base64url').slice(0, 26);
    }
  }
  for (const f of fields) {
    const colon = f.indexOf(':');
    if (colon > 0 && TRACE_FIELDS.has(f.slice(0, colon).trim().toLowerCase())) continue;
    h.update(f.trimEnd() + '\n');
  }
  // The body, with line ends normalised (a relay may have rewritten LF to CRLF).
  const body = raw.subarray(end).toString('latin1').replace(/\r\n/g, '\n').trim();
  return 'c' + h.update('\u0000').update(body).digest('base64url').slice(0, 26);
}

// The header-size check lives with the parser, so that `abusegate parse --mailbox` applies it too.
export { headerBytes } from './parse/mime.js';

/** Fingerprints of messages that met a bug, remembered per process (the oldest forgotten first). */
const FAULTS_REMEMBERED = 10_000;

export class Ingest {
  private readonly faulted = new Set<string>();

  constructor(private readonly deps: IngestDeps) {}

  parse(raw: Buffer, env: Pick<Envelope, 'mailbox' | 'token'>): Report {
    const t0 = process.hrtime.bigint();
    const report =
      headerBytes(raw) > this.deps.maxHeaderBytes
        ? unreadableReport(`header block larger than ${this.deps.maxHeaderBytes} bytes`)
        : this.deps.parse(raw, { ...this.deps.parseOptions, mailbox: env.mailbox, envelopeToken: env.token });
    parseDuration.observe({ kind: report.kind }, Number(process.hrtime.bigint() - t0) / 1e9);
    return report;
  }

  /**
   * Records the message; resolves only when the record is in Redis. `raw` may be the first
   * part of a larger message (`size` bytes in all): reports put what we read first.
   */
  async accept(raw: Buffer, env: Envelope, size = raw.length): Promise<Accepted> {
    const arrivedAt = this.deps.clock.now();
    const id = newId(arrivedAt);
    // Counts, cases and events are keyed by this, never by the id: a retry gets a new id.
    const fp = messageFingerprint(raw, env, this.deps.maxHeaderBytes);
    try {
      return await this.record(raw, env, size, id, arrivedAt, fp);
    } catch (err) {
      if (err instanceof GatewayError && err.code !== 'INTERNAL_FAULT') throw err;
      // A bug, not an outage: logged with its stack, answered 451 once. The same message
      // delivered again meets the same bug: it is quarantined (250) with the reason, so
      // the sender stops retrying and the desk sees it, instead of endless 451s.
      const cause = err instanceof GatewayError ? (err.cause ?? err) : err;
      internalFaults.inc({ edge: 'smtp' });
      this.deps.log.error({ code: 'INTERNAL_FAULT', id, mailbox: env.mailbox, err: cause instanceof Error ? { message: cause.message, stack: cause.stack } : String(cause) }, 'a bug stopped a message from being recorded');
      if (!this.faulted.has(fp)) {
        this.faulted.add(fp);
        if (this.faulted.size > FAULTS_REMEMBERED) this.faulted.delete(this.faulted.values().next().value!);
        throw err instanceof GatewayError ? err : new GatewayError('INTERNAL_FAULT', undefined, { cause: err });
      }
      this.faulted.delete(fp);
      const reason = `internal fault: ${cause instanceof Error ? cause.message : String(cause)}`.slice(0, 500);
      await this.deps.store.quarantine({ id, reason, mailbox: env.mailbox, arrivedAt, size, head: raw.subarray(0, this.deps.quarantineBytes).toString('latin1') });
      return { id, report: unreadableReport(reason), quarantined: true, effects: null, case: null };
    }
  }

  private async record(raw: Buffer, env: Envelope, size: number, id: string, arrivedAt: number, fp: string): Promise<Accepted> {
    const { store } = this.deps;
    const report = this.parse(raw, env);
    const quarantined = report.error !== undefined;
    if (quarantined) {
      await store.quarantine({
        id,
        reason: report.error!,
        mailbox: env.mailbox,
        arrivedAt,
        size,
        head: raw.subarray(0, this.deps.quarantineBytes).toString('latin1'),
      });
    }
    // Only feedback-loop reports are authenticated: they alone count toward the rates.
    const auth = !quarantined && report.kind === 'complaint' && env.mailbox === 'fbl' ? await this.deps.authenticate({ raw, clientIp: env.clientIp, helo: env.helo, mailFrom: env.mailFrom }) : null;
    // Effects and the record go out together (one round trip, one fsync of the AOF). Both
    // must succeed before the 250; if either fails the client gets a 451 and retries, and
    // the retry's effects are recognised as a duplicate and counted once.
    const binding = env.mailbox === 'bounces' && report.kind === 'bounce' ? this.deps.bind(env.token, raw) : null;
    const effectsDone = quarantined ? Promise.resolve(null) : this.deps.effects.apply(report, { reportId: id, fingerprint: fp, trusted: auth ? auth.verdict === 'trusted' : true, binding });
    const recorded = store.recordReport({
      id,
      mailbox: env.mailbox,
      kind: report.kind,
      size,
      clientIp: env.clientIp,
      helo: env.helo,
      mailFrom: env.mailFrom,
      rcptTo: env.rcptTo,
      arrivedAt,
      fingerprint: fp,
      outcome: quarantined ? 'quarantined' : 'parsed',
      error: report.error,
      account: report.attribution.account,
      campaign: report.attribution.campaign,
      reporterAuth: auth ? { verdict: auth.verdict, basis: auth.basis, dkimPass: auth.dkimPass, spf: auth.spf, dmarc: auth.dmarc, fromDomain: auth.fromDomain } : undefined,
    });
    const [effects] = await Promise.all([effectsDone, recorded]);
    reportsByKind.inc({ kind: report.kind });
    const opensCase = !quarantined && (env.mailbox === 'abuse' || (report.kind === 'complaint' && this.deps.caseFeedbackTypes.includes(report.recipients[0]?.feedbackType ?? '')));
    const kase = opensCase ? await this.deps.desk.report({ ...abuseInput(report, id, fp, env), clientIp: env.clientIp, trustedReporter: auth?.verdict === 'trusted' }) : null;
    return { id, report, quarantined, effects, case: kase };
  }
}

/** What the desk needs to know of a report that came by mail. */
export function abuseInput(report: Report, reportId: string, fingerprint: string, env: Pick<Envelope, 'mailFrom'>): Omit<AbuseInput, 'clientIp' | 'trustedReporter'> {
  const a = report.abuse;
  const o = report.original;
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries({ from: o.from, subject: o.subject, date: o.date, messageId: o.messageId, returnPath: o.returnPath })) if (v) headers[k] = v;
  const sms = a?.channel === 'sms' || (report.phones.length > 0 && !o.messageId);
  return {
    reportId,
    fingerprint,
    channel: sms ? 'sms' : 'email',
    reporter: a?.reporter ?? (env.mailFrom || null),
    account: report.attribution.account,
    campaign: report.attribution.campaign,
    verified: report.attribution.verified,
    tokenState: a?.tokenState ?? (report.attribution.verified ? 'valid' : 'missing'),
    feedbackType: report.recipients[0]?.feedbackType ?? null,
    phishing: a?.phishing ?? false,
    originDomains: a?.originDomains ?? [],
    headers,
    phones: report.phones,
    description: null,
    recipient: report.recipients.find((r) => r.address)?.address ?? null,
    sender: a?.sender ?? null,
    attachments: a?.attachments,
    linkDomains: a?.linkDomains,
  };
}
