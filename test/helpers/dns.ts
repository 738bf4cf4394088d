/**
 * A small authoritative DNS server on 127.0.0.1 (dns2, UDP) answering from a table, so that
 * blocklist, MX, SPF, DMARC and PTR lookups are tested without the internet. A name that
 * is not in the table gets NXDOMAIN.
 */
import dns2 from 'dns2';

const { Packet } = dns2;

export type Zone = Record<string, { A?: string[]; MX?: Array<[number, string]>; TXT?: string[]; PTR?: string[] }>;

export async function dnsServer(t: { teardown(fn: () => unknown): void }, zone: Zone): Promise<{ address: string; queries: string[] }> {
  const queries: string[] = [];
  const server = dns2.createServer({
    udp: true,
    handle: (request, send) => {
      const response = Packet.createResponseFromRequest(request);
      const [q] = request.questions;
      const name = q.name.toLowerCase().replace(/\.$/, '');
      queries.push(`${name} ${q.type}`);
      const rr = zone[name];
      if (!rr) response.header.rcode = Packet.RCODE.NXDOMAIN;
      const base = { name: q.name, class: Packet.CLASS.IN, ttl: 60 };
      if (rr && q.type === Packet.TYPE.A) for (const address of rr.A ?? []) response.answers.push({ ...base, type: Packet.TYPE.A, address });
      if (rr && q.type === Packet.TYPE.MX) for (const [priority, exchange] of rr.MX ?? []) response.answers.push({ ...base, type: Packet.TYPE.MX, priority, exchange });
      if (rr && q.type === Packet.TYPE.TXT) for (const data of rr.TXT ?? []) response.answers.push({ ...base, type: Packet.TYPE.TXT, data });
      if (rr && q.type === Packet.TYPE.PTR) for (const domain of rr.PTR ?? []) response.answers.push({ ...base, type: Packet.TYPE.PTR, domain });
      send(response);
    },
  });
  await server.listen({ udp: { port: 0, address: '127.0.0.1' } });
  t.teardown(() => server.close());
  const { port } = server.addresses().udp as { port: number };
  return { address: `127.0.0.1:${port}`, queries };
}
