/**
 * Pure: which reporters are trusted, and whether what a message proves is enough to trust
 * it. No I/O; reporters.ts gathers the facts (mailauth, DNS) and calls decide().
 */
import { createRequire } from 'node:module';
import { BlockList, isIP } from 'node:net';
import { domainToASCII } from 'node:url';

// mailauth's tools (with the Public Suffix List and its other dependencies, ~5 MB of heap)
// load when an alignment is first asked for: a gateway whose reporters are all trusted by
// IP range never asks (issue 19: memory at rest).
const require = createRequire(import.meta.url);
let getAlignment: typeof import('mailauth/lib/tools.js').getAlignment | undefined;

export interface TrustConfig {
  /** Domains (a domain trusts its subdomains) and CIDR ranges or single addresses, IPv4 and IPv6. */
  trusted: readonly string[];
}

export type Verdict = 'trusted' | 'unverified';
export type SpfResult = 'pass' | 'fail' | 'softfail' | 'neutral' | 'none' | 'temperror' | 'permerror';
export type DmarcResult = 'pass' | 'fail' | 'none' | 'temperror' | 'permerror';

interface Range {
  entry: string;
  list: BlockList;
}

export interface ParsedTrust {
  domains: string[];
  ranges: Range[];
  /** Entries that are neither a domain nor an address range, with why. */
  errors: string[];
}

const LABEL = /^(?!-)[a-z0-9_-]{1,63}(?<!-)$/;

/** Lower case, no trailing dot, IDN → punycode; null when it is not a host name. */
export function normalizeDomain(name: string): string | null {
  const d = domainToASCII(name.trim().replace(/\.$/, '').toLowerCase());
  if (!d || d.length > 253) return null;
  return d.split('.').every((l) => LABEL.test(l)) ? d : null;
}

/** `::ffff:192.0.2.1` (how a dual-stack socket reports an IPv4 peer) → `192.0.2.1`. */
export function normalizeIp(ip: string): string {
  const bare = ip.trim().replace(/^\[|\]$/g, '');
  // The zone of a link-local address (fe80::1%eth0) is cut with indexOf: linear whatever follows.
  const zone = bare.indexOf('%');
  const s = zone < 0 ? bare : bare.slice(0, zone);
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(s);
  return mapped ? mapped[1]! : s;
}

/** Reads the trusted list once; reporters.ts refuses to start on any error. */
export function parseTrusted(list: readonly string[]): ParsedTrust {
  const out: ParsedTrust = { domains: [], ranges: [], errors: [] };
  for (const raw of list) {
    const entry = raw.trim();
    if (!entry) continue;
    const slash = entry.indexOf('/');
    const addr = slash < 0 ? entry : entry.slice(0, slash);
    const family = isIP(addr);
    if (family) {
      const max = family === 4 ? 32 : 128;
      const bits = slash < 0 ? max : /^\d{1,3}$/.test(entry.slice(slash + 1)) ? Number(entry.slice(slash + 1)) : NaN;
      if (!(bits >= 0 && bits <= max)) {
        out.errors.push(`${entry}: prefix length must be 0–${max}`);
        continue;
      }
      const list = new BlockList();
      list.addSubnet(addr, bits, family === 4 ? 'ipv4' : 'ipv6');
      out.ranges.push({ entry, list });
      continue;
    }
    if (slash >= 0) {
      out.errors.push(`${entry}: not an address range`);
      continue;
    }
    const d = normalizeDomain(entry);
    // A single label ("com") would trust a whole top-level domain.
    if (!d || !d.includes('.')) {
      out.errors.push(`${entry}: not a domain (write the domain itself; its subdomains are included)`);
      continue;
    }
    out.domains.push(d);
  }
  return out;
}

const parsed = new WeakMap<TrustConfig, ParsedTrust>();
function parsedOf(cfg: TrustConfig): ParsedTrust {
  let p = parsed.get(cfg);
  if (!p) parsed.set(cfg, (p = parseTrusted(cfg.trusted)));
  return p;
}

/** The trusted domain that `domain` is, or is a subdomain of; matched on whole labels. */
export function trustedDomainFor(cfg: TrustConfig, domain: string | null | undefined): string | null {
  const d = domain ? normalizeDomain(domain) : null;
  if (!d) return null;
  for (const t of parsedOf(cfg).domains) if (d === t || d.endsWith('.' + t)) return t;
  return null;
}

/** The trusted range (as configured) that holds `ip`. */
export function trustedRangeFor(cfg: TrustConfig, ip: string | null | undefined): string | null {
  if (!ip) return null;
  const a = normalizeIp(ip);
  const family = isIP(a);
  if (!family) return null;
  for (const r of parsedOf(cfg).ranges) if (r.list.check(a, family === 4 ? 'ipv4' : 'ipv6')) return r.entry;
  return null;
}

/** The trusted entry that covers an IP address or a domain name, or null. */
export function matchesTrusted(cfg: TrustConfig, ipOrDomain: string): string | null {
  return isIP(normalizeIp(ipOrDomain)) ? trustedRangeFor(cfg, ipOrDomain) : trustedDomainFor(cfg, ipOrDomain);
}

/** Relaxed alignment (RFC 7489 §3.1): same organizational domain, by the Public Suffix List. */
export function aligned(a: string | null, b: string | null): boolean {
  const x = a ? normalizeDomain(a) : null;
  const y = b ? normalizeDomain(b) : null;
  if (!x || !y) return false;
  getAlignment ??= (require('mailauth/lib/tools.js') as typeof import('mailauth/lib/tools.js')).getAlignment;
  return getAlignment(x, [y]) !== false;
}

/** What the message proved, as mailauth found it. */
export interface AuthFacts {
  clientIp: string;
  /** The one RFC5322.From domain; null when there is none or more than one (RFC 7489 §6.6.1). */
  fromDomain: string | null;
  dkim: ReadonlyArray<{
    domain: string;
    pass: boolean;
    /** Signed with l= and unsigned content follows: anyone could have added a part. */
    partial: boolean;
  }>;
  /** The SPF result for the domain SPF checked (MAIL FROM, or HELO for a null sender). */
  spf: { result: SpfResult; domain: string | null };
  /** DMARC pass counts only through an aligned SPF pass or a whole-body DKIM pass. */
  dmarc: { result: DmarcResult; viaSpf: boolean; viaWholeDkim: boolean };
  /** A lookup failed or the time ran out: a verdict of unverified may be wrong. */
  temperror: boolean;
  /** Authentication itself failed (not DNS). */
  error?: boolean;
}

/**
 * Trusted when (a) the client is inside a trusted range, (b) a passing DKIM signature's d=
 * is (under) a trusted domain and aligned with From, or DMARC passes for a From domain
 * that is (under) a trusted domain, or (c) SPF passes for a trusted domain aligned with From.
 */
export function decide(cfg: TrustConfig, f: AuthFacts): { verdict: Verdict; basis: string } {
  const range = trustedRangeFor(cfg, f.clientIp);
  if (range) return { verdict: 'trusted', basis: `ip:${range}` };
  if (f.fromDomain) {
    for (const s of f.dkim) {
      if (s.pass && !s.partial && trustedDomainFor(cfg, s.domain) && aligned(f.fromDomain, s.domain)) {
        return { verdict: 'trusted', basis: `dkim:${normalizeDomain(s.domain)}` };
      }
    }
    if (f.dmarc.result === 'pass' && (f.dmarc.viaSpf || f.dmarc.viaWholeDkim) && trustedDomainFor(cfg, f.fromDomain)) {
      return { verdict: 'trusted', basis: `dmarc:${f.fromDomain}` };
    }
    if (f.spf.result === 'pass' && trustedDomainFor(cfg, f.spf.domain) && aligned(f.fromDomain, f.spf.domain)) {
      return { verdict: 'trusted', basis: `spf:${normalizeDomain(f.spf.domain!)}` };
    }
  }
  if (f.error) return { verdict: 'unverified', basis: 'error' };
  if (f.temperror) return { verdict: 'unverified', basis: 'temperror' };
  return { verdict: 'unverified', basis: 'no-trusted-signature' };
}
