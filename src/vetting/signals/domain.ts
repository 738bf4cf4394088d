/**
 * The sending domain: how old it is (RDAP), whether it takes mail (MX, RFC 5321 §5.1; a
 * null MX, RFC 7505, says it takes none), and whether it publishes SPF (RFC 7208 §4.5: a
 * TXT record that starts with "v=spf1") and DMARC (RFC 7489 §6.1: "v=DMARC1" at
 * _dmarc.<domain>), which the large mailbox providers require of bulk senders since 2024.
 */
import { type Dns, isNoData } from '../dns.js';
import { rdapDomain, rdapServer } from '../rdap.js';
import { consult, type Signal } from '../signal.js';

export interface DomainDeps {
  dns: Dns;
  rdap: { table: Map<string, string>; baseUrl: string | null };
  timeoutMs: number;
  youngDomainDays: number;
  now: number;
}

const DAY = 86_400_000;

async function txt(dns: Dns, name: string): Promise<string[]> {
  try {
    return (await dns.resolveTxt(name)).map((chunks) => chunks.join(''));
  } catch (err) {
    if (isNoData(err)) return [];
    throw err;
  }
}

export async function domainSignals(domain: string, d: DomainDeps): Promise<Signal[]> {
  const dnsSource = (what: string) => `DNS ${what} of ${domain}`;
  const age = consult('domain.rdap', 'RDAP', d.timeoutMs, async (signal) => {
    const base = d.rdap.baseUrl ? (d.rdap.baseUrl.endsWith('/') ? d.rdap.baseUrl : d.rdap.baseUrl + '/') : rdapServer(d.rdap.table, domain);
    if (!base) return [{ code: 'domain.rdap.unavailable', severity: 'unavailable', value: null, message: `no RDAP server is known for ${domain}'s top-level domain`, source: 'IANA RDAP bootstrap', weight: 0 }];
    const source = `RDAP ${new URL(base).host}`;
    // The registry knows the registered domain, not its subdomains: walk up (mail.example.com → example.com).
    const labels = domain.split('.');
    for (let i = 0; i <= labels.length - 2 && i < 4; i++) {
      const name = labels.slice(i).join('.');
      const r = await rdapDomain(base, name, signal);
      if (!r.found) continue;
      if (!r.registered) return [{ code: 'domain.rdap.unavailable', severity: 'unavailable', value: null, message: `${source} gives no registration date for ${name}`, source, weight: 0 }];
      const days = Math.floor((d.now - r.registered.getTime()) / DAY);
      return [
        days < d.youngDomainDays
          ? { code: 'domain.young', severity: 'high', value: days, message: `${name} was registered ${days} day(s) ago (${r.registered.toISOString().slice(0, 10)})`, source, weight: 0 }
          : { code: 'domain.ok', severity: 'info', value: days, message: `${name} was registered ${days} days ago`, source, weight: 0 },
      ];
    }
    return [{ code: 'domain.unregistered', severity: 'high', value: domain, message: `${domain} is not registered (the registry does not know it)`, source, weight: 0 }];
  });

  const mx = consult('domain.mx', dnsSource('MX'), d.timeoutMs, async () => {
    let records: Array<{ exchange: string; priority: number }> = [];
    try {
      records = await d.dns.resolveMx(domain);
    } catch (err) {
      if (!isNoData(err)) throw err;
    }
    const nullMx = records.length === 1 && (records[0].exchange === '' || records[0].exchange === '.');
    if (records.length === 0 || nullMx) {
      return [{ code: 'domain.no-mx', severity: 'medium', value: nullMx ? 'null MX' : 'none', message: nullMx ? `${domain} publishes a null MX (RFC 7505): it takes no mail` : `${domain} has no MX record: replies and bounces to it have nowhere to go`, source: dnsSource('MX'), weight: 0 }];
    }
    return [{ code: 'domain.ok', severity: 'info', value: records.length, message: `${domain} has ${records.length} MX record(s)`, source: dnsSource('MX'), weight: 0 }];
  });

  const spf = consult('domain.spf', dnsSource('TXT'), d.timeoutMs, async () => {
    const has = (await txt(d.dns, domain)).some((r) => /^v=spf1(?: |$)/i.test(r));
    return has ? [] : [{ code: 'domain.no-spf', severity: 'low', value: false, message: `${domain} publishes no SPF record (RFC 7208)`, source: dnsSource('TXT'), weight: 0 }];
  });

  const dmarc = consult('domain.dmarc', `DNS TXT of _dmarc.${domain}`, d.timeoutMs, async () => {
    const has = (await txt(d.dns, `_dmarc.${domain}`)).some((r) => /^v=DMARC1(?:;|\s|$)/i.test(r));
    return has ? [] : [{ code: 'domain.no-dmarc', severity: 'low', value: false, message: `${domain} publishes no DMARC record at _dmarc.${domain} (RFC 7489)`, source: `DNS TXT of _dmarc.${domain}`, weight: 0 }];
  });

  return (await Promise.all([age, mx, spf, dmarc])).flat();
}
