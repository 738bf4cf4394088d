/**
 * What happens to an accepted message: parse → decide → record. The SMTP edge hands in
 * bytes and an envelope and gets back the id it may put in its 250, or an error that it
 * turns into a 4xx. Nothing here speaks SMTP.
 */
import type { Clock } from './clock.js';
import type { Effects, EffectOutcome } from './effects.js';
import { newId } from './ids.js';
import type { Logger } from './log.js';
import { parseDuration, reportsByKind } from './metrics.js';
import type { ParseOptions } from './parse/index.js';
import type { Report } from './parse/report.js';
import type { Mailbox } from './smtp/mailbox.js';
import type { Store } from './store/store.js';

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
}

export type Parser = (raw: Buffer, opts: ParseOptions) => Report;

export interface IngestDeps {
  store: Store;
  effects: Effects;
  /** Whether a report from this client counts toward warnings and suspensions. */
  trusted: (env: Envelope, report: Report) => boolean;
  parse: Parser;
  parseOptions: Omit<ParseOptions, 'mailbox' | 'envelopeToken'>;
  clock: Clock;
  log: Logger;
  quarantineBytes: number;
}

export class Ingest {
  constructor(private readonly deps: IngestDeps) {}

  parse(raw: Buffer, env: Pick<Envelope, 'mailbox' | 'token'>): Report {
    const t0 = process.hrtime.bigint();
    const report = this.deps.parse(raw, { ...this.deps.parseOptions, mailbox: env.mailbox, envelopeToken: env.token });
    parseDuration.observe({ kind: report.kind }, Number(process.hrtime.bigint() - t0) / 1e9);
    return report;
  }

  /** Records the message; resolves only when the record is in Redis. */
  async accept(raw: Buffer, env: Envelope): Promise<Accepted> {
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
        size: raw.length,
        head: raw.subarray(0, this.deps.quarantineBytes).toString('latin1'),
      });
    }
    // Effects first, then the record: if the record fails the client gets a 451 and
    // retries, and the retry's effects are recognised as a duplicate and counted once.
    const effects = quarantined ? null : await this.deps.effects.apply(report, { reportId: id, trusted: this.deps.trusted(env, report) });
    await store.recordReport({
      id,
      mailbox: env.mailbox,
      kind: report.kind,
      size: raw.length,
      clientIp: env.clientIp,
      helo: env.helo,
      mailFrom: env.mailFrom,
      rcptTo: env.rcptTo,
      arrivedAt,
      outcome: quarantined ? 'quarantined' : 'parsed',
      error: report.error,
      account: report.attribution.account,
      campaign: report.attribution.campaign,
      effects: effects ?? undefined,
    });
    reportsByKind.inc({ kind: report.kind });
    return { id, report, quarantined, effects };
  }
}
