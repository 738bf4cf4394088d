/**
 * Client addresses grouped the way one party holds them: an IPv4 /24, an IPv6 /64 (the
 * smallest prefix an ISP hands a subscriber, RFC 6177). Rate limits and "independent
 * reporters" count groups, so one host cannot pose as many by walking its own /64.
 */
import { isIPv4, isIPv6 } from 'node:net';

export function ipGroup(ip: string): string {
  const v4 = ip.startsWith('::ffff:') && isIPv4(ip.slice(7)) ? ip.slice(7) : ip;
  if (isIPv4(v4)) return v4.slice(0, v4.lastIndexOf('.')) + '.0/24';
  if (!isIPv6(ip)) return ip;
  return expandV6(ip).slice(0, 4).join(':') + '::/64';
}

/** The eight 16-bit groups of an IPv6 address, each without leading zeros. */
function expandV6(ip: string): string[] {
  const zone = ip.indexOf('%');
  const addr = zone < 0 ? ip : ip.slice(0, zone);
  const [head, tail] = addr.includes('::') ? addr.split('::') : [addr, null];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  // An embedded IPv4 tail (::ffff:1.2.3.4 handled above; others are rare) counts as two groups.
  const fill = tail === null ? [] : Array<string>(8 - h.length - t.length).fill('0');
  return [...h, ...fill, ...t].map((g) => (g.includes('.') ? g : g.replace(/^0+(?=.)/, '').toLowerCase()));
}
