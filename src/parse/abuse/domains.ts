/**
 * Domains a reported message names: in its header fields (where it came from) and in its
 * links (where it sends people). Lower case, A-label (RFC 5890) for links, deduplicated.
 */
import { domainToASCII } from 'node:url';
import { addressesIn } from '../arf.js';
import { tick } from '../deadline.js';
import type { HeaderList } from '../mime.js';

const HOSTNAME = /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$/;

/** Link domains listed per report, at most: any real message has far fewer. */
const MAX_LINK_DOMAINS = 100;
/** An authority (userinfo, host, port) is read this far, at most: a host name is at most 253 octets (RFC 1035 §2.3.4). */
const MAX_AUTHORITY = 320;

export function domainOf(address: string | null | undefined): string | null {
  if (!address) return null;
  const at = address.lastIndexOf('@');
  return at < 0 ? null : cleanHost(address.slice(at + 1));
}

function cleanHost(h: string): string | null {
  let s = h.trim().toLowerCase();
  let end = s.length;
  while (end > 0 && '>]);,'.includes(s[end - 1])) end--;
  s = s.slice(0, end).replace(/\.$/, '');
  return HOSTNAME.test(s) ? s : null;
}

/**
 * Domains the original's header fields name, for a comparison with our sending domains:
 * From, Sender, Return-Path, the DKIM-Signature d= (and i=), the hosts in Received
 * from/by clauses, the Message-ID's right-hand side, List-Unsubscribe hosts. Lower case,
 * deduplicated, in that order.
 */
export function originDomains(h: HeaderList | null): string[] {
  if (!h) return [];
  const out: string[] = [];
  const add = (d: string | null | undefined): void => {
    const c = d ? cleanHost(d) : null;
    if (c && !out.includes(c)) out.push(c);
  };
  for (const name of ['from', 'sender', 'return-path']) for (const v of h.getAll(name)) for (const a of addressesIn(v)) add(domainOf(a));
  for (const v of h.getAll('dkim-signature')) {
    for (const m of v.matchAll(/(?:^|;)\s*([di])\s*=\s*([^;\s]+)/g)) add(m[1] === 'd' ? m[2] : domainOf(m[2]));
  }
  for (const v of h.getAll('received')) {
    const clauses = v.split(';')[0];
    for (const m of clauses.matchAll(/\b(?:from|by)\s+([A-Za-z0-9.-]+)/gi)) add(m[1]);
    for (const m of clauses.matchAll(/\(([A-Za-z0-9.-]+\.[A-Za-z]{2,})\.?\s*\[/g)) add(m[1]);
  }
  for (const v of h.getAll('message-id')) add(domainOf(/<([^<>]+)>/.exec(v)?.[1] ?? v.trim()));
  for (const v of h.getAll('list-unsubscribe')) {
    for (const m of v.matchAll(/<\s*(?:https?:\/\/([^/:>?#\s]+)|mailto:([^>?\s]+))/gi)) add(m[1] ?? domainOf(m[2]));
  }
  return out;
}

/** Characters that end a URL's authority (RFC 3986 §3.2), or the URL itself in running text. */
function endsAuthority(c: number): boolean {
  // / ? # \ space " ' < > ( ) [ ] , ; and control characters
  return c <= 32 || c === 47 || c === 63 || c === 35 || c === 92 || c === 34 || c === 39 || c === 60 || c === 62 || c === 40 || c === 41 || c === 91 || c === 93 || c === 44 || c === 59 || c === 127;
}

/** A link's host as an A-label domain (U-labels converted, RFC 5890), or null when it is no domain name (an IP literal, garbage). */
function linkHost(authority: string): string | null {
  const at = authority.lastIndexOf('@'); // userinfo (RFC 3986 §3.2.1) is no part of the host
  let host = at >= 0 ? authority.slice(at + 1) : authority;
  const colon = host.indexOf(':');
  if (colon >= 0) host = host.slice(0, colon);
  let end = host.length;
  while (end > 0 && host.charCodeAt(end - 1) === 46) end--; // the root's dot
  host = host.slice(0, end);
  if (host === '') return null;
  const ascii = domainToASCII(host);
  return ascii && HOSTNAME.test(ascii) ? ascii : null;
}

/** Adds the hosts of the http(s) links in `text` to `out`: every "://" looked at once, no regex over the text. */
function scanLinks(text: string, out: Set<string>): void {
  let i = text.indexOf('://');
  while (i >= 0 && out.size < MAX_LINK_DOMAINS) {
    tick();
    const scheme = text.slice(Math.max(0, i - 5), i).toLowerCase();
    if (scheme.endsWith('http') || scheme === 'https') {
      const start = i + 3;
      const stop = Math.min(text.length, start + MAX_AUTHORITY);
      let j = start;
      while (j < stop && !endsAuthority(text.charCodeAt(j))) j++;
      const host = linkHost(text.slice(start, j));
      if (host) out.add(host);
    }
    i = text.indexOf('://', i + 3);
  }
}

/**
 * Domains of the http(s) links in the texts (a message's text and HTML parts, the HTML as
 * html.ts renders it, its hrefs kept): lower case, A-label, unique, in order of appearance,
 * at most 100. A link a rewriting gateway wrapped (Safe Links' `?url=https%3A%2F%2F…`) is
 * read unwrapped too, so the real destination is listed beside the gateway.
 */
export function linkDomains(texts: readonly string[]): string[] {
  const out = new Set<string>();
  for (const text of texts) {
    if (out.size >= MAX_LINK_DOMAINS) break;
    scanLinks(text, out);
    if (/%3A%2F%2F/i.test(text)) scanLinks(text.replace(/%3A/gi, ':').replace(/%2F/gi, '/'), out);
  }
  return [...out];
}
