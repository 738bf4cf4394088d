/** DNS for the vetting signals, through the configured resolver (tests run their own). */
import { Resolver } from 'node:dns/promises';

export type Dns = Resolver;

export function createDns(server: string | null, timeoutMs: number): Dns {
  // One try, no retries inside the resolver: each signal has its own budget (consult()).
  const r = new Resolver({ timeout: timeoutMs, tries: 1 });
  if (server) r.setServers([server]);
  return r;
}

/** A missing name or record is an answer ("none"), not a failure. */
export function isNoData(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  return code === 'ENOTFOUND' || code === 'ENODATA' || code === 'NXDOMAIN';
}
