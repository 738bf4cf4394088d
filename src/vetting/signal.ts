/**
 * A vetting signal: one observation about a new account, from one source, with the
 * source named so that a reviewer can check it. A source that cannot be reached in time
 * gives `unavailable` — never an error, and never a silent pass.
 */
export type Severity = 'info' | 'low' | 'medium' | 'high' | 'unavailable';

/** The codes, each with the config weight it takes when it fires (vetting.weights). */
export const SIGNAL_WEIGHTS = {
  'email.disposable': 'disposable',
  'email.free-mailbox': 'freeMailbox',
  'domain.young': 'youngDomain',
  'domain.unregistered': 'youngDomain',
  'domain.no-mx': 'noMx',
  'domain.no-spf': 'noSpf',
  'domain.no-dmarc': 'noDmarc',
  'ip.listed': 'listedIp',
  'ip.policy-listed': 'policyListedIp',
  'ip.no-ptr': 'noPtr',
  'ip.reserved': 'reservedIp',
  'ip.country-mismatch': 'countryMismatch',
  'history.linked-suspended': 'linkedSuspended',
  'history.complaint-rate': 'complaintRate',
} as const;

export type SignalCode = keyof typeof SIGNAL_WEIGHTS | `${string}.unavailable` | `${string}.ok`;

export interface Signal {
  code: SignalCode;
  severity: Severity;
  /** What was observed (a domain's age in days, the list that named the IP, …). */
  value: string | number | boolean | null;
  message: string;
  /** Where the observation comes from: a list package, an RFC'd DNS record, an RDAP server, our data. */
  source: string;
  /** Points taken off the score (0 for info and clear signals). */
  weight: number;
}

export const unavailable = (area: string, source: string, why: string): Signal => ({
  code: `${area}.unavailable`,
  severity: 'unavailable',
  value: null,
  message: `${source} could not be consulted: ${why}`,
  source,
  weight: 0,
});

/** Runs a source with its own time budget; a failure or a timeout becomes `unavailable`. */
export async function consult(area: string, source: string, ms: number, run: (signal: AbortSignal) => Promise<Signal[]>): Promise<Signal[]> {
  const ac = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<Signal[]>((resolve) => {
    timer = setTimeout(() => {
      ac.abort();
      resolve([unavailable(area, source, `no answer within ${ms} ms`)]);
    }, ms);
  });
  try {
    return await Promise.race([run(ac.signal), timeout]);
  } catch (err) {
    return [unavailable(area, source, err instanceof Error ? err.message.slice(0, 200) : 'failed')];
  } finally {
    clearTimeout(timer);
  }
}
