/**
 * Account vetting: the signals reviewers use to approve a new account or spot an abuser,
 * each from a named source with its own time budget, weighed into a score and a decision
 * (score.ts), stored with the account (history kept) and announced as account.vetted.
 */
import type { Clock } from '../clock.js';
import type { Config } from '../config/schema.js';
import { event } from '../effects.js';
import type { Store } from '../store/store.js';
import { VettingStore } from '../store/vetting.js';
import { createDns, type Dns } from './dns.js';
import { loadBootstrap } from './rdap.js';
import { decide, type VettingDecision, weigh } from './score.js';
import type { Signal } from './signal.js';
import { addressSignals } from './signals/address.js';
import { domainSignals } from './signals/domain.js';
import { historySignals, indexEntries } from './signals/history.js';
import { ipSignals } from './signals/ip.js';

export interface VettingInput {
  email: string;
  domain?: string;
  signupIp?: string;
  country?: string;
  website?: string;
}

export interface VettingResult {
  account: string;
  at: string;
  score: number;
  decision: VettingDecision;
  signals: Signal[];
  input: VettingInput;
  /** Who asked: "platform" for the API, an operator's name for a re-run or a review. */
  by: string;
  /** A reviewer's decision overrides the computed one; the signals stay as they were. */
  reviewed?: { decision: VettingDecision; note: string | null };
}

/** The domain to judge: the one given, else the website's host, else the sign-up address's domain. */
function sendingDomain(input: VettingInput): string {
  if (input.domain) return input.domain.toLowerCase().replace(/\.$/, '');
  if (input.website) {
    try {
      return new URL(/^https?:\/\//i.test(input.website) ? input.website : `https://${input.website}`).hostname.replace(/^www\./, '');
    } catch {
      /* fall through to the address */
    }
  }
  return input.email.slice(input.email.lastIndexOf('@') + 1).toLowerCase();
}

export class Vetting {
  private readonly dns: Dns;
  private readonly rdap: { table: Map<string, string>; baseUrl: string | null };
  readonly store: VettingStore;

  constructor(
    private readonly accounts: Store,
    private readonly config: Pick<Config, 'vetting' | 'rates'>,
    private readonly clock: Clock,
  ) {
    const v = config.vetting;
    this.dns = createDns(v.resolver, v.timeoutMs);
    this.rdap = { table: loadBootstrap(v.rdapBootstrap), baseUrl: v.rdapBaseUrl };
    this.store = new VettingStore(accounts.redis, accounts.keys, { kept: v.historyKept, indexTtlMs: v.indexDays * 86_400_000, outboxFlag: accounts.outboxFlag });
  }

  async run(account: string, input: VettingInput, by: string): Promise<VettingResult> {
    const v = this.config.vetting;
    const now = this.clock.now();
    const domain = sendingDomain(input);
    const entries = indexEntries({ email: input.email, domain, signupIp: input.signupIp ?? null });
    const standing = await this.accounts.readAccount(account, 'email', now);
    const pool = standing.meta.pool === 'dedicated' ? 'dedicated' : 'shared';
    const judged = standing.windows.filter((w) => w.sent >= this.config.rates.minVolume);
    const complaintRate = judged.length ? Math.max(...judged.map((w) => w.complaints / w.sent)) : null;

    const signals = (
      await Promise.all([
        addressSignals(input.email),
        domainSignals(domain, { dns: this.dns, rdap: this.rdap, timeoutMs: v.timeoutMs, youngDomainDays: v.youngDomainDays, now }),
        input.signupIp ? ipSignals(input.signupIp, input.country ?? null, { dns: this.dns, zones: v.dnsblZones, timeoutMs: v.timeoutMs }) : [],
        historySignals(account, entries, this.store, { complaintRate, complaintWarn: this.config.rates.complaint[pool].warn }),
      ])
    ).flat();
    const weighed = weigh(signals, v);
    const { score, decision } = decide(weighed, v);
    const result: VettingResult = { account, at: new Date(now).toISOString(), score, decision, signals: weighed, input, by };
    await this.store.index(account, entries);
    await this.store.record(account, result, event('account.vetted', now, { account, score, decision, signals: weighed.filter((s) => s.weight > 0 || s.severity === 'unavailable').map((s) => s.code), by }));
    return result;
  }

  /** Runs again with the last input: the history signals change as the account sends. */
  async rerun(account: string, by: string): Promise<VettingResult | null> {
    const [last] = await this.store.history<VettingResult>(account, 1);
    return last ? this.run(account, last.input, by) : null;
  }

  /** A reviewer's decision after looking at the signals: recorded as a new history entry. */
  async review(account: string, decision: VettingDecision, note: string | null, by: string): Promise<VettingResult | null> {
    const [last] = await this.store.history<VettingResult>(account, 1);
    if (!last) return null;
    const now = this.clock.now();
    const result: VettingResult = { ...last, at: new Date(now).toISOString(), decision, by, reviewed: { decision, note } };
    await this.store.record(account, result, event('account.vetted', now, { account, score: last.score, decision, reviewed: true, by }));
    return result;
  }

  latest(account: string): Promise<VettingResult | undefined> {
    return this.store.history<VettingResult>(account, 1).then((r) => r[0]);
  }

  history(account: string): Promise<VettingResult[]> {
    return this.store.history<VettingResult>(account, this.config.vetting.historyKept);
  }
}
