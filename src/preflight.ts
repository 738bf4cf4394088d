/**
 * Campaign preflight: a list is checked before it is sent. Recipients stream in (a JSON
 * array or NDJSON, up to a million); each is normalised and deduplicated against one Set
 * of normalised addresses — the only copy of the list held — and looked up in chunks:
 * two HMGETs per chunk (the account's suppression hash and the global one, one hash slot
 * each), never a round trip per address. The next chunk is parsed while the previous
 * one's lookup is in flight. The figures go to the pure rules (rules/preflight.ts); a
 * review or block is announced on the account's outbox (campaign.review, campaign.blocked).
 */
import { normaliseEmail, normaliseLocal } from './address.js';
import type { Clock } from './clock.js';
import type { Config } from './config/schema.js';
import { event } from './effects.js';
import { GatewayError } from './errors.js';
import { newId } from './ids.js';
import type { Logger } from './log.js';
import {
  judgePreflight,
  type PreflightDecision,
  type PreflightFigures,
  type PreflightReason,
  SUPPRESSION_BUCKETS,
  type SuppressionBucket,
  suppressionBucket,
} from './rules/preflight.js';
import { ConsentStore } from './store/consents.js';
import type { Store, SuppressionRecord } from './store/store.js';

/** Addresses per lookup: two HMGETs of this many fields each. */
export const LOOKUP_CHUNK = 5000;
/** How long a large suppressed list stays fetchable by cursor: the send follows the check. */
export const SUPPRESSED_TTL_MS = 24 * 3_600_000;
/** Top recipient domains reported in the stats. */
const TOP_DOMAINS = 10;
/** Invalid entries quoted back, so the customer sees what is wrong. */
const INVALID_EXAMPLES = 10;

export interface PreflightHead {
  account: string;
  campaign: string;
}

export interface SuppressedEntry {
  /** Normalised: the domain lower-cased (and punycode), the local part as given. */
  address: string;
  /** complaint, hard-bounce, soft-bounce-limit, unsubscribe, manual (admin), other. */
  reason: SuppressionBucket;
  scope: 'account' | 'global';
}

export interface PreflightResult {
  id: string;
  account: string;
  campaign: string;
  decision: PreflightDecision;
  score: number;
  reasons: PreflightReason[];
  stats: ReturnType<typeof buildStats>;
  suppressed: {
    count: number;
    /** Inline when count ≤ preflight.inlineSuppressedLimit; else null: fetch pages from `next`. */
    items: SuppressedEntry[] | null;
    cursor: string | null;
    next: string | null;
    expiresAt: string | null;
  };
}

type Counts = Record<SuppressionBucket, number>;
const zero = (): Counts => Object.fromEntries(SUPPRESSION_BUCKETS.map((b) => [b, 0])) as Counts;

export class Preflight {
  private readonly roles: Set<string>;
  private readonly roleMaxLength: number;

  constructor(
    private readonly store: Store,
    private readonly config: Pick<Config, 'preflight' | 'guidance' | 'rates'>,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly consents: Pick<ConsentStore, 'witnessed'> = new ConsentStore(store.redis, store.keys, store.outboxFlag),
  ) {
    this.roles = new Set(config.preflight.roleLocalParts.map((r) => r.toLowerCase()));
    this.roleMaxLength = Math.max(0, ...[...this.roles].map((r) => r.length));
  }

  /** The most entries one check takes (preflight.maxRecipients). */
  get maxRecipients(): number {
    return this.config.preflight.maxRecipients;
  }

  /**
   * Checks one list. `batches` yields the recipients as given, in arrays of any size (an
   * NDJSON reader yields one per network chunk); nothing is kept of them but the Set.
   */
  async check(head: PreflightHead, batches: AsyncIterable<readonly string[]> | Iterable<readonly string[]>): Promise<PreflightResult> {
    const started = performance.now();
    const now = this.clock.now();
    const { account, campaign } = head;
    const cfg = this.config.preflight;
    const id = 'pf_' + newId(now);
    const standingP = this.store.readAccount(account, 'email', now);
    standingP.catch(() => {}); // awaited below; this only keeps an early failure from going unhandled

    const normaliser = new DomainCachedNormaliser();
    const seen = new Set<string>();
    const domains = new Map<string, number>();
    const invalidExamples: string[] = [];
    const own = zero();
    const suppressed: SuppressedEntry[] = [];
    let size = 0;
    let invalid = 0;
    let duplicates = 0;
    let role = 0;
    let global = 0;

    // The witnessed-consent rule reads the consents hash too, for the accounts it applies to.
    const witnessedRule = cfg.reviewUnwitnessedShare > 0
      ? standingP.then((s) => cfg.unwitnessedPools.includes(s.meta.pool === 'dedicated' ? 'dedicated' : 'shared') || s.meta.requireWitnessedConsent === '1', () => false)
      : Promise.resolve(false);
    let witnessed = 0;
    const lookup = async (chunk: string[]) => {
      if (await witnessedRule) witnessed += (await this.consents.witnessed(account, 'email', chunk)).filter(Boolean).length;
      const r = await this.store.lookupSuppressions(account, 'email', chunk);
      for (let i = 0; i < chunk.length; i++) {
        const o = r.own[i];
        const g = r.global[i];
        if (g) global++;
        if (!o && !g) continue;
        const rec = JSON.parse((o ?? g)!) as SuppressionRecord;
        const bucket = suppressionBucket(rec);
        if (o) own[bucket]++;
        suppressed.push({ address: chunk[i], reason: bucket, scope: o ? 'account' : 'global' });
      }
    };
    let chunk: string[] = [];
    let inflight: Promise<void> | null = null;
    const flush = async () => {
      if (chunk.length === 0) return;
      const c = chunk;
      chunk = [];
      if (inflight) await inflight;
      inflight = lookup(c);
      inflight.catch(() => {}); // awaited at the next flush or at the end
    };

    for await (const batch of batches) {
      for (const raw of batch) {
        if (++size > cfg.maxRecipients) {
          throw new GatewayError('BODY_TOO_LARGE', `The list has more than ${cfg.maxRecipients.toLocaleString('en-US')} recipients, the most one preflight checks: split it into several campaigns`);
        }
        const a = typeof raw === 'string' ? normaliser.normalise(raw) : null;
        if (!a) {
          invalid++;
          if (invalidExamples.length < INVALID_EXAMPLES) invalidExamples.push(String(raw).slice(0, 100));
          continue;
        }
        if (seen.has(a)) {
          duplicates++;
          continue;
        }
        seen.add(a);
        // The role is the local part before any +tag, in any case (Abuse+x@ is abuse@).
        const at = a.lastIndexOf('@');
        const plus = a.indexOf('+');
        const end = plus > 0 && plus < at ? plus : at;
        if (end <= this.roleMaxLength && this.roles.has(a.slice(0, end).toLowerCase())) role++;
        const domain = normaliser.domain;
        domains.set(domain, (domains.get(domain) ?? 0) + 1);
        chunk.push(a);
        if (chunk.length >= LOOKUP_CHUNK) await flush();
      }
    }
    await flush();
    if (inflight) await inflight;
    const unique = seen.size;
    seen.clear();

    const standing = await standingP;
    const pool = standing.meta.pool === 'dedicated' ? 'dedicated' : 'shared';
    const judged = standing.windows.filter((w) => w.sent >= this.config.rates.minVolume);
    const worst = (rate: (w: (typeof judged)[number]) => number) => (judged.length ? Math.max(...judged.map(rate)) : null);
    const figures: PreflightFigures = {
      size,
      unique,
      duplicates,
      invalid,
      role,
      suppressed: own,
      global,
      witnessed: (await witnessedRule) ? witnessed : null,
      account: {
        status: standing.meta.suspended === '1' ? 'suspended' : standing.warnings.length > 0 ? 'warned' : 'active',
        suspendReason: standing.meta.suspended === '1' ? (standing.meta.suspendReason ?? null) : null,
        complaintRate: worst((w) => w.complaints / w.sent),
        complaintWarn: this.config.rates.complaint[pool].warn,
        vetting: ((v) => (v === 'approve' || v === 'review' || v === 'reject' ? v : null))(standing.meta.vetting),
      },
    };
    const verdict = judgePreflight(figures, cfg, this.config.guidance);
    const stats = buildStats(figures, {
      invalidExamples,
      suppressedTotal: suppressed.length,
      domains,
      pool,
      bounceRate: worst((w) => w.hardBounces / w.sent),
      bounceWarn: this.config.rates.bounce.warn,
      minVolume: this.config.rates.minVolume,
      windows: standing.windows,
    });

    let out: PreflightResult['suppressed'];
    if (suppressed.length <= cfg.inlineSuppressedLimit) {
      out = { count: suppressed.length, items: suppressed, cursor: null, next: null, expiresAt: null };
    } else {
      await this.store.savePreflightSuppressed(id, suppressed, SUPPRESSED_TTL_MS);
      out = { count: suppressed.length, items: null, cursor: '0', next: suppressedPath(id, '0'), expiresAt: new Date(now + SUPPRESSED_TTL_MS).toISOString() };
    }

    // Every decision is kept for the desk's account page; block and review are announced.
    await this.store.recordPreflight(
      account,
      { preflightId: id, campaign, decision: verdict.decision, score: verdict.score, reasons: verdict.reasons.map(({ code, severity, message }) => ({ code, severity, message })), size, at: new Date(now).toISOString() },
      verdict.decision === 'send'
        ? null
        : event(verdict.decision === 'block' ? 'campaign.blocked' : 'campaign.review', now, {
            account,
            campaign,
            preflightId: id,
            decision: verdict.decision,
            score: verdict.score,
            reasons: verdict.reasons.map(({ code, severity, message, guidance }) => ({ code, severity, message, guidance })),
            stats: { size, unique, duplicates, invalid, role, suppressed: suppressed.length, global },
          }),
    );
    this.log.info(
      { code: 'PREFLIGHT', account, campaign, preflightId: id, decision: verdict.decision, score: verdict.score, size, suppressed: suppressed.length, ms: Math.round(performance.now() - started) },
      `preflight ${verdict.decision}`,
    );
    return { id, account, campaign, decision: verdict.decision, score: verdict.score, reasons: verdict.reasons, stats, suppressed: out };
  }

  /** A page of a large preflight's suppressed list; `cursor` is the offset to start at. */
  async suppressedPage(id: string, cursor: number, limit: number): Promise<{ id: string; count: number; items: SuppressedEntry[]; cursor: string | null; next: string | null }> {
    const page = await this.store.preflightSuppressedPage(id, cursor, limit);
    if (!page) throw new GatewayError('NOT_FOUND', `No suppressed list for preflight ${id}: unknown, or older than ${SUPPRESSED_TTL_MS / 3_600_000} hours`);
    const nextCursor = cursor + page.items.length < page.total ? String(cursor + page.items.length) : null;
    return {
      id,
      count: page.total,
      items: page.items.map((s) => JSON.parse(s) as SuppressedEntry),
      cursor: nextCursor,
      next: nextCursor === null ? null : suppressedPath(id, nextCursor),
    };
  }
}

/** Distinct raw domains whose normal form is remembered during one check. */
const DOMAIN_CACHE = 50_000;

/**
 * normaliseEmail, with the domain's normal form (IDNA, the costly part) computed once per
 * distinct domain of the list. Only plain entries take the cached path — no whitespace, no
 * angle brackets, a local part of 1–64 characters — for which normaliseEmail's result is
 * exactly `normaliseLocal(local)@normal(domain)`; anything else goes through normaliseEmail itself.
 * `domain` is the normal domain of the last valid address; for cached domains it is the
 * same string each time, so counting per domain hashes it once.
 */
export class DomainCachedNormaliser {
  domain = '';
  private readonly cache = new Map<string, string | null>();

  normalise(input: string): string | null {
    const at = input.lastIndexOf('@');
    if (at <= 0 || at > 64 || /[\s<>]/.test(input)) {
      const n = normaliseEmail(input);
      if (n !== null) this.domain = n.slice(n.lastIndexOf('@') + 1);
      return n;
    }
    const raw = input.slice(at + 1);
    let domain = this.cache.get(raw);
    if (domain === undefined) {
      const n = normaliseEmail('x@' + raw);
      domain = n === null ? null : n.slice(2);
      if (this.cache.size < DOMAIN_CACHE) this.cache.set(raw, domain);
    }
    if (domain === null) return null;
    // The local part's key comes from address.ts too (case-folded, quotes that add nothing dropped).
    const given = input.slice(0, at);
    const local = normaliseLocal(given);
    if (local === null) return null;
    this.domain = domain;
    // Already normal (the usual case): keep the string we were given, no copy.
    return domain === raw && local === given ? input : local + '@' + domain;
  }
}

function suppressedPath(id: string, cursor: string): string {
  return `/v1/campaigns/preflight/${id}/suppressed?cursor=${cursor}`;
}

const ratio = (part: number, whole: number) => (whole > 0 ? round(part / whole) : 0);
const round = (x: number) => Math.round(x * 1e6) / 1e6;

/** The stats block of the answer: counts with their shares, domains, the account's standing. */
function buildStats(
  f: PreflightFigures,
  x: {
    invalidExamples: string[];
    suppressedTotal: number;
    domains: Map<string, number>;
    pool: string;
    bounceRate: number | null;
    bounceWarn: number;
    minVolume: number;
    windows: Array<{ name: string; sent: number; complaints: number; hardBounces: number }>;
  },
) {
  const top = [...x.domains].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, TOP_DOMAINS);
  return {
    size: f.size,
    unique: f.unique,
    duplicates: f.duplicates,
    invalid: { count: f.invalid, share: ratio(f.invalid, f.size), examples: x.invalidExamples },
    role: { count: f.role, share: ratio(f.role, f.unique) },
    suppressed: {
      count: x.suppressedTotal,
      share: ratio(x.suppressedTotal, f.unique),
      account: Object.fromEntries(SUPPRESSION_BUCKETS.map((b) => [b, { count: f.suppressed[b], share: ratio(f.suppressed[b], f.unique) }])) as Record<SuppressionBucket, { count: number; share: number }>,
      global: { count: f.global, share: ratio(f.global, f.unique) },
    },
    domains: { distinct: x.domains.size, top: top.map(([domain, count]) => ({ domain, count, share: ratio(count, f.unique) })) },
    account: {
      status: f.account.status,
      suspendReason: f.account.suspendReason,
      pool: x.pool,
      // Highest over the windows with at least rates.minVolume sends; null below it.
      complaintRate: f.account.complaintRate === null ? null : round(f.account.complaintRate),
      complaintWarn: f.account.complaintWarn,
      bounceRate: x.bounceRate === null ? null : round(x.bounceRate),
      bounceWarn: x.bounceWarn,
      minVolume: x.minVolume,
      windows: x.windows.map((w) => ({ window: w.name, sent: w.sent, complaints: w.complaints, hardBounces: w.hardBounces })),
    },
  };
}
