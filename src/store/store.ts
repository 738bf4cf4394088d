/**
 * Typed operations on the state kept in Redis. Callers never see key names or Redis
 * errors: Redis being unreachable or busy becomes STORE_UNAVAILABLE (451 / 503), or
 * STORE_NOT_PERSISTING / STORE_OUT_OF_MEMORY when it refuses a write for lack of disk or
 * memory (452 / 503); any other failure is a bug and becomes INTERNAL_FAULT, which the
 * edges log with its stack.
 */
import { scriptOf, storeCall } from './call.js';
import type { Keys } from './keys.js';
import type { RedisClient } from './redis.js';
import { Replication } from './replication.js';
import { Accounts } from './accounts.js';
import { Cases } from './cases.js';
import { Outbox } from './outbox.js';
import { type OutboxFlag, outboxFlag, type StoreOptions } from './part.js';
import { Reports } from './reports.js';
import { Suppressions } from './suppressions.js';

export type { OutboxFlag, StoreOptions } from './part.js';
export * from './accounts.js';
export * from './cases.js';
export * from './outbox.js';
export * from './reports.js';
export * from './suppressions.js';

/**
 * The store as the gateway is given it: the parts composed, each operation passed through
 * unchanged, so a caller (and a test that replaces one operation) keeps one object.
 */
export class Store {
  readonly replication: Replication;
  readonly accounts: Accounts;
  readonly suppressions: Suppressions;
  readonly cases: Cases;
  readonly reports: Reports;
  readonly outbox: Outbox;
  /** The scripts' outbox flag, for the stores built beside this one (consents, vetting). */
  readonly outboxFlag: OutboxFlag;

  constructor(
    readonly redis: RedisClient,
    readonly keys: Keys,
    opts: StoreOptions,
  ) {
    this.replication = new Replication(redis, opts.replication ?? { replicas: 0, timeoutMs: 0 });
    this.outboxFlag = outboxFlag(opts);
    this.outbox = new Outbox(redis, keys, opts);
    this.accounts = new Accounts(redis, keys, opts);
    this.reports = new Reports(redis, keys, opts);
    this.suppressions = new Suppressions(redis, keys, opts, this.outbox);
    this.cases = new Cases(redis, keys, opts, this.outbox);
  }

  /**
   * Runs `fn`, then confirms that what it wrote is on `redis.waitReplicas` replicas (WAIT on
   * the master of each slot written, replication.ts); STORE_NOT_REPLICATED when it is not.
   * The SMTP 250 and the answer of every route that writes (the platform's, the admin's and
   * the desk's forms) go through it (docs/operations.md, "Durable on failover").
   */
  durably<T>(fn: () => Promise<T>): Promise<T> {
    return this.replication.durably(fn);
  }

  /** Counts `n` hits in a fixed one-minute window; returns the count so far. */
  async hit(scope: string, client: string, now: number, n = 1): Promise<number> {
    const key = this.keys.rateLimit(scope, client, Math.floor(now / 60_000));
    return (await storeCall('rateLimit', () => scriptOf(this.redis, 'hit')(key, 120_000, n))) as number;
  }

  /** True when Redis answers now. */
  async ping(): Promise<boolean> {
    try {
      return (await this.redis.ping()) === 'PONG';
    } catch {
      return false;
    }
  }

  // --- reports.ts ---

  recordReport(...a: Parameters<Reports['recordReport']>) {
    return this.reports.recordReport(...a);
  }

  getReport(...a: Parameters<Reports['getReport']>) {
    return this.reports.getReport(...a);
  }

  quarantine(...a: Parameters<Reports['quarantine']>) {
    return this.reports.quarantine(...a);
  }

  listQuarantine(...a: Parameters<Reports['listQuarantine']>) {
    return this.reports.listQuarantine(...a);
  }

  // --- accounts.ts ---

  recordMessage(...a: Parameters<Accounts['recordMessage']>) {
    return this.accounts.recordMessage(...a);
  }

  suspendForInvestigation(...a: Parameters<Accounts['suspendForInvestigation']>) {
    return this.accounts.suspendForInvestigation(...a);
  }

  applyDecision(...a: Parameters<Accounts['applyDecision']>) {
    return this.accounts.applyDecision(...a);
  }

  count(...a: Parameters<Accounts['count']>) {
    return this.accounts.count(...a);
  }

  markRecipients(...a: Parameters<Accounts['markRecipients']>) {
    return this.accounts.markRecipients(...a);
  }

  readAccount(...a: Parameters<Accounts['readAccount']>) {
    return this.accounts.readAccount(...a);
  }

  reinstate(...a: Parameters<Accounts['reinstate']>) {
    return this.accounts.reinstate(...a);
  }

  setAccountMeta(...a: Parameters<Accounts['setAccountMeta']>) {
    return this.accounts.setAccountMeta(...a);
  }

  saveConsent(...a: Parameters<Accounts['saveConsent']>) {
    return this.accounts.saveConsent(...a);
  }

  getConsent(...a: Parameters<Accounts['getConsent']>) {
    return this.accounts.getConsent(...a);
  }

  recordPreflight(...a: Parameters<Accounts['recordPreflight']>) {
    return this.accounts.recordPreflight(...a);
  }

  recentPreflights(...a: Parameters<Accounts['recentPreflights']>) {
    return this.accounts.recentPreflights(...a);
  }

  noteReporter(...a: Parameters<Accounts['noteReporter']>) {
    return this.accounts.noteReporter(...a);
  }

  dailyFigures(...a: Parameters<Accounts['dailyFigures']>) {
    return this.accounts.dailyFigures(...a);
  }

  suspendedAccounts(...a: Parameters<Accounts['suspendedAccounts']>) {
    return this.accounts.suspendedAccounts(...a);
  }

  // --- suppressions.ts ---

  getSuppression(...a: Parameters<Suppressions['getSuppression']>) {
    return this.suppressions.getSuppression(...a);
  }

  suppressionOf(...a: Parameters<Suppressions['suppressionOf']>) {
    return this.suppressions.suppressionOf(...a);
  }

  checkSuppressions(...a: Parameters<Suppressions['checkSuppressions']>) {
    return this.suppressions.checkSuppressions(...a);
  }

  addSuppressionManual(...a: Parameters<Suppressions['addSuppressionManual']>) {
    return this.suppressions.addSuppressionManual(...a);
  }

  removeSuppression(...a: Parameters<Suppressions['removeSuppression']>) {
    return this.suppressions.removeSuppression(...a);
  }

  listSuppressions(...a: Parameters<Suppressions['listSuppressions']>) {
    return this.suppressions.listSuppressions(...a);
  }

  lookupSuppressions(...a: Parameters<Suppressions['lookupSuppressions']>) {
    return this.suppressions.lookupSuppressions(...a);
  }

  importSuppressions(...a: Parameters<Suppressions['importSuppressions']>) {
    return this.suppressions.importSuppressions(...a);
  }

  savePreflightSuppressed(...a: Parameters<Suppressions['savePreflightSuppressed']>) {
    return this.suppressions.savePreflightSuppressed(...a);
  }

  preflightSuppressedPage(...a: Parameters<Suppressions['preflightSuppressedPage']>) {
    return this.suppressions.preflightSuppressedPage(...a);
  }

  // --- cases.ts ---

  saveCase(...a: Parameters<Cases['saveCase']>) {
    return this.cases.saveCase(...a);
  }

  getCase(...a: Parameters<Cases['getCase']>) {
    return this.cases.getCase(...a);
  }

  listCases(...a: Parameters<Cases['listCases']>) {
    return this.cases.listCases(...a);
  }

  archiveCases(...a: Parameters<Cases['archiveCases']>) {
    return this.cases.archiveCases(...a);
  }

  updateCase(...a: Parameters<Cases['updateCase']>) {
    return this.cases.updateCase(...a);
  }

  confirmedCases(...a: Parameters<Cases['confirmedCases']>) {
    return this.cases.confirmedCases(...a);
  }

  // --- outbox.ts ---

  audit(...a: Parameters<Outbox['audit']>) {
    return this.outbox.audit(...a);
  }

  readAudit(...a: Parameters<Outbox['readAudit']>) {
    return this.outbox.readAudit(...a);
  }

  outboxEvents(...a: Parameters<Outbox['outboxEvents']>) {
    return this.outbox.outboxEvents(...a);
  }
}
