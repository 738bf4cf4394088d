/**
 * What happens to an accepted message: parse → decide → record. The SMTP edge hands in
 * bytes and an envelope and gets back the id it may put in its 250, or an error that it
 * turns into a 4xx. Nothing here speaks SMTP.
 */
import type { Clock } from './clock.js';
import type { AbuseInput, CaseOutcome, Desk } from './desk.js';
import type { Effects, EffectOutcome } from './effects.js';
import { newId } from './ids.js';
import type { Logger } from './log.js';
import { parseDuration, reportsByKind } from './metrics.js';
import type { ParseOptions } from './parse/index.js';
import { headerBytes } from './parse/mime.js';
import { type Report, unreadableReport } from './parse/report.js';
import type { Mailbox } from './smtp/mailbox.js';
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
  parseOptions: Omit<ParseOptions, 'mailbox' | 'envelopeToken'>;
  clock: Clock;
  log: Logger;
  quarantineBytes: number;
  maxHeaderBytes: number;
}

// The header-size check lives with the parser, so that `abusegate parse --mailbox` applies it too.
export { headerBytes } from './parse/mime.js';

export class Ingest {
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
    const { store, clock } = this.deps;
    const arrivedAt = clock.now();
    const id = newId(arrivedAt);
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
    const effectsDone = quarantined ? Promise.resolve(null) : this.deps.effects.apply(report, { reportId: id, trusted: auth ? auth.verdict === 'trusted' : true });
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
      outcome: quarantined ? 'quarantined' : 'parsed',
      error: report.error,
      account: report.attribution.account,
      campaign: report.attribution.campaign,
      reporterAuth: auth ? { verdict: auth.verdict, basis: auth.basis, dkimPass: auth.dkimPass, spf: auth.spf, dmarc: auth.dmarc, fromDomain: auth.fromDomain } : undefined,
    });
    const [effects] = await Promise.all([effectsDone, recorded]);
    reportsByKind.inc({ kind: report.kind });
    const opensCase = !quarantined && (env.mailbox === 'abuse' || (report.kind === 'complaint' && this.deps.caseFeedbackTypes.includes(report.recipients[0]?.feedbackType ?? '')));
    const kase = opensCase ? await this.deps.desk.report(abuseInput(report, id, env)) : null;
    return { id, report, quarantined, effects, case: kase };
  }
}

/** What the desk needs to know of a report that came by mail. */
export function abuseInput(report: Report, reportId: string, env: Pick<Envelope, 'mailFrom'>): AbuseInput {
  const a = report.abuse;
  const o = report.original;
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries({ from: o.from, subject: o.subject, date: o.date, messageId: o.messageId, returnPath: o.returnPath })) if (v) headers[k] = v;
  const sms = a?.channel === 'sms' || (report.phones.length > 0 && !o.messageId);
  return {
    reportId,
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
  };
}
