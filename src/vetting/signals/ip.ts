/**
 * The sign-up IP: DNS blocklists (RFC 5782 query format; Spamhaus ZEN's return codes as
 * Spamhaus documents them), reverse DNS, special-purpose ranges (RFC 6890 registries), and
 * its country (geoip-country, GeoLite2 data shipped in the package) against the stated one.
 */
import { createRequire } from 'node:module';
import { BlockList, isIP } from 'node:net';
import { type Dns, isNoData } from '../dns.js';
import { consult, type Signal } from '../signal.js';

const require = createRequire(import.meta.url);

/** RFC 6890 (IPv4 and IPv6 special-purpose address registries): never a customer's own address. */
const RESERVED = new BlockList();
for (const [net, bits] of [['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12], ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['198.51.100.0', 24], ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4]] as const) RESERVED.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10], ['2001:db8::', 32], ['ff00::', 8], ['100::', 64]] as const) RESERVED.addSubnet(net, bits, 'ipv6');

/** An IPv4-mapped IPv6 address (::ffff:192.0.2.1) is its IPv4 address. */
export function canonicalIp(ip: string): string {
  const m = /^::ffff:(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$/i.exec(ip);
  return m ? m[1] : ip;
}

function expand6(ip: string): string {
  const [head, tail = ''] = ip.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = ip.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
  return groups.map((g) => g.padStart(4, '0')).join('');
}

/** RFC 5782 §2.1 / §2.4: reversed octets, or reversed nibbles for IPv6, before the zone. */
export function dnsblName(ip: string, zone: string): string {
  return isIP(ip) === 4 ? `${ip.split('.').reverse().join('.')}.${zone}` : `${[...expand6(ip)].reverse().join('.')}.${zone}`;
}

type Listing = { listed: 'spam' | 'policy' | 'none' } | { refused: string };

/**
 * What an answer means. Spamhaus (zen.spamhaus.org, "DNSBL return codes"): 127.0.0.2 SBL,
 * .3 SBL CSS, .4–.7 XBL, .9 DROP; .10–.11 PBL (end-user ranges: policy, not abuse);
 * 127.255.255.252/254/255: the query itself was refused (typo, public resolver, over quota).
 * Any other zone: an address in 127.0.0.0/8 other than 127.0.0.1 is a listing (RFC 5782 §2.3).
 */
export function readListing(zone: string, answers: string[]): Listing {
  if (answers.some((a) => a.startsWith('127.255.255.'))) return { refused: answers.join(',') };
  const listing = answers.filter((a) => a.startsWith('127.') && a !== '127.0.0.1');
  if (listing.length === 0) return { listed: 'none' };
  if (/(^|\.)spamhaus\.(org|net)$/i.test(zone)) {
    const abuse = listing.some((a) => ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5', '127.0.0.6', '127.0.0.7', '127.0.0.9'].includes(a));
    return { listed: abuse ? 'spam' : 'policy' };
  }
  return { listed: 'spam' };
}

export interface IpDeps {
  dns: Dns;
  zones: readonly string[];
  timeoutMs: number;
}

let geo: { lookup(ip: string): { country: string } | null } | null = null;

export async function ipSignals(rawIp: string, statedCountry: string | null, d: IpDeps): Promise<Signal[]> {
  const ip = canonicalIp(rawIp);
  if (RESERVED.check(ip, isIP(ip) === 4 ? 'ipv4' : 'ipv6')) {
    return [{ code: 'ip.reserved', severity: 'medium', value: ip, message: `${ip} is a private or reserved address (RFC 6890): not where a person signs up from`, source: 'IANA special-purpose address registries (RFC 6890)', weight: 0 }];
  }
  const lists = d.zones.map((zone) =>
    consult('ip.dnsbl', `DNSBL ${zone}`, d.timeoutMs, async (): Promise<Signal[]> => {
      let answers: string[] = [];
      try {
        answers = await d.dns.resolve4(dnsblName(ip, zone));
      } catch (err) {
        if (!isNoData(err)) throw err;
      }
      const r = readListing(zone, answers);
      const source = `DNSBL ${zone}`;
      if ('refused' in r) return [{ code: 'ip.dnsbl.unavailable', severity: 'unavailable', value: r.refused, message: `${zone} refused the query (${r.refused}): use a resolver of your own`, source, weight: 0 }];
      if (r.listed === 'spam') return [{ code: 'ip.listed', severity: 'high', value: answers.join(','), message: `${ip} is listed on ${zone} (${answers.join(', ')})`, source, weight: 0 }];
      if (r.listed === 'policy') return [{ code: 'ip.policy-listed', severity: 'info', value: answers.join(','), message: `${ip} is in an end-user range on ${zone} (${answers.join(', ')})`, source, weight: 0 }];
      return [];
    }),
  );
  const ptr = consult('ip.ptr', 'DNS PTR', d.timeoutMs, async (): Promise<Signal[]> => {
    let names: string[] = [];
    try {
      // A PTR query of its own, not reverse(): c-ares's gethostbyaddr falls back to the hosts
      // file after a DNS timeout and then answers ENOTFOUND, a timeout read as "no name".
      names = await d.dns.resolvePtr(dnsblName(ip, isIP(ip) === 4 ? 'in-addr.arpa' : 'ip6.arpa'));
    } catch (err) {
      if (!isNoData(err)) throw err;
    }
    return names.length
      ? [{ code: 'ip.ok', severity: 'info', value: names[0], message: `${ip} resolves to ${names[0]}`, source: 'DNS PTR', weight: 0 }]
      : [{ code: 'ip.no-ptr', severity: 'low', value: null, message: `${ip} has no reverse DNS name`, source: 'DNS PTR', weight: 0 }];
  });
  const country: Signal[] = [];
  if (statedCountry) {
    try {
      geo ??= require('geoip-country') as typeof geo;
      const found = geo!.lookup(ip)?.country ?? null;
      const source = 'geoip-country (GeoLite2 country data)';
      if (!found) country.push({ code: 'ip.country.unavailable', severity: 'unavailable', value: null, message: `no country is known for ${ip}`, source, weight: 0 });
      else if (found !== statedCountry.toUpperCase()) country.push({ code: 'ip.country-mismatch', severity: 'medium', value: found, message: `${ip} is in ${found}, the account says ${statedCountry.toUpperCase()}`, source, weight: 0 });
    } catch (err) {
      country.push({ code: 'ip.country.unavailable', severity: 'unavailable', value: null, message: `the country database could not be read: ${(err as Error).message}`, source: 'geoip-country', weight: 0 });
    }
  }
  return [...(await Promise.all([...lists, ptr])).flat(), ...country];
}
