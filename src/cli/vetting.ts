/**
 * `abusegate vetting refresh-rdap [--url URL] [--out FILE]`: fetches the IANA RDAP bootstrap
 * file for domains (RFC 9224), checks its shape, and writes it where vetting.rdapBootstrap
 * points. TLDs change registry now and then; refresh with each release or monthly.
 */
import { writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { type Bootstrap, bootstrapTable } from '../vetting/rdap.js';
import { VETTING_USAGE } from './help.js';


/** Relative paths in the config (vetting.rdapBootstrap) are relative to the folder that holds config/. */
const ROOT = dirname(fileURLToPath(new URL('../../config/', import.meta.url)));

export async function runVetting(args: string[], io: { out: NodeJS.WritableStream; err: NodeJS.WritableStream; defaultOut: string }): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'refresh-rdap') {
    io.err.write(VETTING_USAGE + '\n');
    return sub === '--help' || sub === '-h' ? 0 : 2;
  }
  const { values } = parseArgs({ args: rest, options: { url: { type: 'string' }, out: { type: 'string' } } });
  const url = values.url ?? 'https://data.iana.org/rdap/dns.json';
  const res = await fetch(url, { signal: AbortSignal.timeout(30_000) });
  if (!res.ok) throw new Error(`${url} answered ${res.status}`);
  const file = (await res.json()) as Bootstrap;
  const count = bootstrapTable(file).size; // throws on a file of the wrong shape: nothing is written
  const out = values.out ?? io.defaultOut;
  writeFileSync(isAbsolute(out) ? out : join(ROOT, out), JSON.stringify(file) + '\n');
  io.out.write(`wrote ${out}: ${count} top-level domains\n`);
  return 0;
}
