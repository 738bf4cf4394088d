/**
 * Reporter authentication: is this feedback-loop report really from a trusted feedback
 * loop? DKIM, SPF and DMARC by mailauth, bounded in time, never throwing: a report that
 * cannot be authenticated is still recorded, as `unverified` (it may suppress the
 * recipient but never counts toward warnings or suspensions).
 */
import { promises as dns } from 'node:dns';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import type { AuthenticateResult } from 'mailauth';
import { type AuthFacts, type DmarcResult, type SpfResult, type TrustConfig, type Verdict, decide, normalizeDomain, parseTrusted, trustedRangeFor } from './match.js';
import { basisKind, reporterAuthTotal } from './metrics.js';

export type { TrustConfig, Verdict } from './match.js';
export { aligned, decide, matchesTrusted, normalizeDomain, normalizeIp, parseTrusted, trustedDomainFor, trustedRangeFor } from './match.js';

// The three checks mailauth's authenticate() runs for us, imported one by one: its main
// module also loads ARC sealing and BIMI (with their own dependencies), which we never use
// and which cost the process about 11 MB of memory at rest. These three cost ~5 MB more,
// so they load with the first report that needs them: one from a trusted range never does.
interface Verifiers {
  dkimVerify: typeof import('mailauth/lib/dkim/verify.js').dkimVerify;
  spfVerify: typeof import('mailauth/lib/spf/index.js').spf;
  dmarcVerify: typeof import('mailauth/lib/dmarc/index.js').dmarc;
}
let verifiers: Promise<Verifiers> | undefined;
const loadVerifiers = (): Promise<Verifiers> =>
  (verifiers ??= Promise.all([import('mailauth/lib/dkim/verify.js'), import('mailauth/lib/spf/index.js'), import('mailauth/lib/dmarc/index.js')]).then(([d, s, m]) => ({
    dkimVerify: d.dkimVerify,
    spfVerify: s.spf,
    dmarcVerify: m.dmarc,
  })));

export interface ReporterAuth {
  verdict: Verdict;
  /**
   * Why: `ip:<range>`, `dkim:<d=>`, `dmarc:<From domain>`, `spf:<domain>` when trusted;
   * `no-trusted-signature`, `temperror` (DNS failed or the time ran out) or `error` when not.
   */
  basis: string;
  /** d= of every DKIM signature that verified. */
  dkimPass: string[];
  spf: SpfResult;
  dmarc: DmarcResult;
  fromDomain: string | null;
}

export interface AuthInput {
  raw: Buffer;
  clientIp: string;
  helo: string;
  mailFrom: string;
  /** DKIM-Signature fields verified at most (each costs DNS and a hash); the rest are dropped. */
  maxDkimSignatures?: number;
}

/**
 * The message with at most `max` DKIM-Signature fields in its header (the first ones,
 * RFC 6376 §6.1: a verifier may limit the signatures it checks). A line scan, no regex.
 */
export function capDkimSignatures(raw: Buffer, max: number): Buffer {
  const crlf = raw.indexOf('\r\n\r\n');
  const lf = raw.indexOf('\n\n');
  const end = crlf >= 0 && (lf < 0 || crlf < lf) ? crlf : lf;
  const head = raw.subarray(0, end < 0 ? raw.length : end).toString('latin1');
  const lines = head.split('\n');
  const kept: string[] = [];
  let seen = 0;
  let dropping = false;
  let changed = false;
  for (const line of lines) {
    const folded = line.startsWith(' ') || line.startsWith('\t');
    if (!folded) dropping = line.slice(0, 15).toLowerCase() === 'dkim-signature:' && ++seen > max;
    if (dropping) changed = true;
    else kept.push(line);
  }
  if (!changed) return raw;
  return Buffer.concat([Buffer.from(kept.join('\n'), 'latin1'), raw.subarray(end < 0 ? raw.length : end)]);
}

/** mailauth's resolver: like dns.promises.resolve, TXT answers as string[][]. */
export type Resolver = (name: string, rrtype: string) => Promise<any>;

export interface ReporterAuthOptions {
  resolver?: Resolver;
  /** All DNS lookups of one message together; then the report is `unverified`, `temperror`. */
  timeoutMs?: number;
  /** Our host name, for mailauth's SPF comments (default: os.hostname()). */
  mta?: string;
}

const SPF: readonly SpfResult[] = ['pass', 'fail', 'softfail', 'neutral', 'none', 'temperror', 'permerror'];
const DMARC: readonly DmarcResult[] = ['pass', 'fail', 'none', 'temperror', 'permerror'];

/** Throws at start when an entry of the trusted list is neither a domain nor a range. */
export function createReporterAuth(cfg: TrustConfig, opts: ReporterAuthOptions = {}): (input: AuthInput) => Promise<ReporterAuth> {
  const { errors } = parseTrusted(cfg.trusted);
  if (errors.length) throw new Error(`trusted reporters: ${errors.join('; ')}`);
  const timeoutMs = opts.timeoutMs ?? 5000;
  const resolver = opts.resolver ?? systemResolver(timeoutMs);
  return async (input) => {
    // A report from a trusted range needs no DNS: the range is the proof, and a report
    // must not wait on lookups it does not need.
    const range = trustedRangeFor(cfg, input.clientIp);
    if (range) {
      reporterAuthTotal.inc({ verdict: 'trusted', basis: 'ip' });
      return { verdict: 'trusted', basis: `ip:${range}`, dkimPass: [], spf: 'none', dmarc: 'none', fromDomain: null };
    }
    let facts: AuthFacts & { dkimPass: string[] };
    try {
      facts = await gather(input, resolver, timeoutMs, opts.mta);
    } catch {
      facts = { ...unknown(input.clientIp), error: true };
    }
    const { verdict, basis } = decide(cfg, facts);
    reporterAuthTotal.inc({ verdict, basis: basisKind(basis) });
    return { verdict, basis, dkimPass: facts.dkimPass, spf: facts.spf.result, dmarc: facts.dmarc.result, fromDomain: facts.fromDomain };
  };
}

function systemResolver(timeoutMs: number): Resolver {
  const r = new dns.Resolver({ timeout: Math.min(timeoutMs, 2000), tries: 2 });
  return (name, rrtype) => r.resolve(name, rrtype);
}

function unknown(clientIp: string): AuthFacts & { dkimPass: string[] } {
  return {
    clientIp,
    fromDomain: null,
    dkim: [],
    dkimPass: [],
    spf: { result: 'none', domain: null },
    dmarc: { result: 'none', viaSpf: false, viaWholeDkim: false },
    temperror: false,
  };
}

function dnsError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

async function gather(input: AuthInput, base: Resolver, timeoutMs: number, mta: string | undefined): Promise<AuthFacts & { dkimPass: string[] }> {
  // Loaded before the clock starts: the first report's budget is for its DNS and signatures.
  const v = await loadVerifiers();
  const deadline = Date.now() + timeoutMs;
  let temperror = false;
  // Every lookup shares one deadline; past it, lookups fail at once as a DNS timeout
  // would, so that mailauth finishes (with temperror) instead of waiting on a hung resolver.
  const resolver: Resolver = (name, rrtype) =>
    new Promise((resolve, reject) => {
      const fail = (err: unknown) => {
        const code = (err as { code?: string } | null)?.code;
        if (code !== 'ENOTFOUND' && code !== 'ENODATA') temperror = true;
        reject(err);
      };
      const left = deadline - Date.now();
      if (left <= 0) return fail(dnsError('ETIMEOUT', `DNS time budget spent before ${rrtype} ${name}`));
      const timer = setTimeout(() => fail(dnsError('ETIMEOUT', `DNS timeout: ${rrtype} ${name}`)), left);
      Promise.resolve()
        .then(() => base(name, rrtype))
        .then(
          (v) => {
            clearTimeout(timer);
            resolve(v);
          },
          (err) => {
            clearTimeout(timer);
            fail(err);
          },
        );
    });

  let timer: NodeJS.Timeout | undefined;
  const run = verifyAll(v, input, resolver, mta);
  run.catch(() => {}); // it may lose the race below and fail later
  const res = await Promise.race([
    run,
    new Promise<null>((resolve) => {
      // Signature checks are CPU, not DNS; this bounds a message that is slow for any reason.
      timer = setTimeout(() => resolve(null), timeoutMs + 50);
    }),
  ]).finally(() => clearTimeout(timer));
  if (!res) return { ...unknown(input.clientIp), temperror: true };
  return facts(input.clientIp, res, temperror);
}

type Verified = Pick<AuthenticateResult, 'dkim' | 'spf' | 'dmarc'>;

/**
 * DKIM, SPF and DMARC as mailauth's authenticate() chains them (its lib/mailauth.js), with
 * what we pass it fixed: the envelope is ours, so no Received: line is trusted for the
 * client's IP, HELO or sender, and there is no ARC or BIMI.
 */
async function verifyAll({ dkimVerify, spfVerify, dmarcVerify }: Verifiers, input: AuthInput, resolver: Resolver, mta: string | undefined): Promise<Verified> {
  const sender = input.mailFrom || undefined;
  const dkim = await dkimVerify(input.maxDkimSignatures === undefined ? input.raw : capDkimSignatures(input.raw, input.maxDkimSignatures), { resolver, sender });
  const helo = input.helo || input.clientIp || undefined;
  const spf = await spfVerify({ ip: input.clientIp, helo: helo && isIP(helo) ? `[${helo}]` : helo, sender, mta: mta ?? hostname(), resolver });
  const dmarc = dkim.headerFrom
    ? await dmarcVerify({
        headerFrom: dkim.headerFrom,
        spfDomains: spf && spf.status.result === 'pass' && spf.domain ? [spf.domain] : [],
        dkimDomains: (dkim.results ?? [])
          .filter((r) => r.status.result === 'pass')
          .map((r) => ({ id: r.id, domain: r.signingDomain, aligned: r.status.aligned, underSized: r.status.underSized })),
        resolver,
      })
    : false;
  return { dkim, spf: spf || false, dmarc };
}

function facts(clientIp: string, res: Verified, temperror: boolean): AuthFacts & { dkimPass: string[] } {
  const froms = res.dkim.headerFrom ?? [];
  const fromDomain = froms.length === 1 && froms[0]!.includes('@') ? normalizeDomain(froms[0]!.split('@').pop()!) : null;

  const dkim = (res.dkim.results ?? [])
    .filter((r) => typeof r.signingDomain === 'string' && r.signingDomain)
    .map((r) => ({ domain: r.signingDomain.toLowerCase(), pass: r.status.result === 'pass', partial: !!r.status.underSized }));
  const dkimPass = [...new Set(dkim.filter((s) => s.pass).map((s) => s.domain))];

  const spfRaw = res.spf ? res.spf.status.result : 'none';
  const spf: SpfResult = spfRaw === 'temperr' ? 'temperror' : (SPF.find((v) => v === spfRaw) ?? 'none');

  const d = res.dmarc;
  const dmarcRaw = d ? d.status.result : 'none';
  const dmarc: DmarcResult = dmarcRaw === 'temperr' ? 'temperror' : (DMARC.find((v) => v === dmarcRaw) ?? 'none');
  const viaSpf = !!(d && d.alignment?.spf?.result);
  const viaWholeDkim = !!(d && d.alignment?.dkim?.result && !d.alignment.dkim.underSized);

  const anyTemp = temperror || spf === 'temperror' || dmarc === 'temperror' || (res.dkim.results ?? []).some((r) => /^temperr/.test(r.status.result));
  return {
    clientIp,
    fromDomain,
    dkim,
    dkimPass,
    spf: { result: spf, domain: res.spf ? normalizeDomain(res.spf.domain) : null },
    dmarc: { result: dmarc, viaSpf, viaWholeDkim },
    temperror: anyTemp,
  };
}
