/**
 * RDAP (RFC 9083) for a domain's registration date. The registry's server comes from the
 * IANA bootstrap file (RFC 9224 §4: the longest matching label sequence of the domain
 * names the service), shipped in config/ and refreshable; `vetting.rdapBaseUrl`
 * overrides it for every domain (tests serve fixtures; a company may run a proxy).
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Relative paths in the config (vetting.rdapBootstrap) are relative to the folder that holds config/. */
const ROOT = dirname(fileURLToPath(new URL('../../config/', import.meta.url)));

export interface Bootstrap {
  services: Array<[string[], string[]]>;
}

export function loadBootstrap(path: string): Map<string, string> {
  const file = JSON.parse(readFileSync(isAbsolute(path) ? path : join(ROOT, path), 'utf8')) as Bootstrap;
  return bootstrapTable(file);
}

/** Checks the shape of a bootstrap file and turns it into label sequence → base URL (https preferred, RFC 9224 §3). */
export function bootstrapTable(file: Bootstrap): Map<string, string> {
  if (!file || !Array.isArray(file.services)) throw new Error('not an RDAP bootstrap file: no services array');
  const table = new Map<string, string>();
  for (const entry of file.services) {
    if (!Array.isArray(entry) || !Array.isArray(entry[0]) || !Array.isArray(entry[1])) throw new Error('not an RDAP bootstrap file: a service is not [[names], [urls]]');
    const urls = entry[1].filter((u) => typeof u === 'string' && /^https?:\/\//.test(u));
    const url = urls.find((u) => u.startsWith('https:')) ?? urls[0];
    if (!url) continue;
    for (const name of entry[0]) if (typeof name === 'string') table.set(name.toLowerCase(), url.endsWith('/') ? url : url + '/');
  }
  if (table.size === 0) throw new Error('not an RDAP bootstrap file: no services');
  return table;
}

/** The base URL serving a domain: the longest matching suffix of labels. */
export function rdapServer(table: Map<string, string>, domain: string): string | null {
  const labels = domain.toLowerCase().split('.');
  for (let i = 0; i < labels.length; i++) {
    const hit = table.get(labels.slice(i).join('.'));
    if (hit) return hit;
  }
  return null;
}

export type RdapAnswer = { found: true; registered: Date | null } | { found: false };

/** GET <base>domain/<name> (RFC 9082 §3.1.3); the registration event's date (RFC 9083 §4.5). */
export async function rdapDomain(base: string, domain: string, signal: AbortSignal): Promise<RdapAnswer> {
  const res = await fetch(`${base}domain/${encodeURIComponent(domain)}`, { signal, headers: { accept: 'application/rdap+json' }, redirect: 'follow' });
  if (res.status === 404) return { found: false };
  if (!res.ok) throw new Error(`RDAP answered ${res.status}`);
  const body = (await res.json()) as { events?: Array<{ eventAction?: string; eventDate?: string }> };
  const reg = body.events?.find((e) => e.eventAction === 'registration')?.eventDate;
  const t = reg ? Date.parse(reg) : NaN;
  return { found: true, registered: Number.isFinite(t) ? new Date(t) : null };
}
