import { createServer } from 'node:http';
import { createSocket } from 'node:dgram';
import t from 'tap';
import { ManualClock } from '../../src/clock.js';
import { dnsServer } from '../helpers/dns.js';
import { startGateway } from '../helpers/gateway.js';
import { testRedis } from '../helpers/redis.js';

const ADMIN = 'vetting-admin-token-0123456789abcdef';
const DAY = 86_400_000;
const NOW = Date.parse('2026-11-29T12:00:00Z');

/** RDAP fixtures (RFC 9083 domain objects) served on loopback; unknown domains 404. */
async function rdapServer(t: { teardown(fn: () => unknown): void }, registered: Record<string, string>) {
  const asked: string[] = [];
  const srv = createServer((req, res) => {
    const name = decodeURIComponent((req.url ?? '').replace(/^\/domain\//, ''));
    asked.push(name);
    const at = registered[name];
    res.setHeader('content-type', 'application/rdap+json');
    if (!at) {
      res.statusCode = 404;
      return res.end(JSON.stringify({ errorCode: 404, title: 'Not Found' }));
    }
    res.end(JSON.stringify({ objectClassName: 'domain', ldhName: name, events: [{ eventAction: 'registration', eventDate: at }, { eventAction: 'last changed', eventDate: '2026-01-01T00:00:00Z' }] }));
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.teardown(() => srv.close());
  return { url: `http://127.0.0.1:${(srv.address() as { port: number }).port}/`, asked };
}

const good = { MX: [[10, 'mx.good.example']] as Array<[number, string]>, TXT: ['v=spf1 include:_spf.good.example ~all'] };

t.test('vetting over HTTP with a local DNS server and RDAP fixtures', async (t) => {
  const dns = await dnsServer(t, {
    'good.example': good,
    '_dmarc.good.example': { TXT: ['v=DMARC1; p=reject'] },
    'fresh.example': { TXT: ['some other record'] },
    // 198.51.100.x is a documentation range (reserved); the blocklisted sign-up IP is a public one.
    '10.89.67.45.zen.spamhaus.org': { A: ['127.0.0.2', '127.0.0.4'] },
    '20.89.67.45.zen.spamhaus.org': { A: ['127.0.0.11'] },
    '10.89.67.45.in-addr.arpa': { PTR: ['host-45-67-89-10.example.net'] },
    '30.89.67.45.in-addr.arpa': { PTR: ['mail.good.example'] },
  });
  const rdap = await rdapServer(t, { 'good.example': '2011-03-01T00:00:00Z', 'fresh.example': new Date(NOW - 1 * DAY).toISOString() });
  const redis = await testRedis(t);
  const clock = new ManualClock(NOW);
  const gw = await startGateway(t, {
    redisUrl: redis.url,
    clock,
    overrides: { admin: { token: ADMIN }, vetting: { resolver: dns.address, rdapBaseUrl: rdap.url, timeoutMs: 1500 } },
  });
  const base = `http://127.0.0.1:${gw.httpPort}`;
  const auth = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' };
  const vet = async (account: string, body: unknown) => {
    const res = await fetch(`${base}/v1/accounts/${account}/vetting`, { method: 'POST', headers: auth, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as { score: number; decision: string; signals: Array<{ code: string; severity: string; weight: number; source: string; message: string }>; error?: { code: string } } };
  };
  const codes = (r: { signals: Array<{ code: string }> }) => r.signals.map((s) => s.code);

  await t.test('a sound account is approved', async (t) => {
    const r = await vet('sound', { email: 'owner@good.example', domain: 'good.example', signupIp: '45.67.89.30' });
    t.equal(r.status, 201);
    t.equal(r.body.decision, 'approve', JSON.stringify(r.body.signals));
    t.equal(r.body.score, 100);
    t.notOk(r.body.signals.some((s) => s.weight > 0), 'no signal takes points off');
  });

  await t.test('a disposable address, a blocklisted sign-up IP and a day-old domain: reject, each signal named', async (t) => {
    const r = await vet('shady', { email: 'x1@mailinator.com', domain: 'fresh.example', signupIp: '45.67.89.10' });
    t.equal(r.status, 201);
    t.equal(r.body.decision, 'reject');
    for (const c of ['email.disposable', 'ip.listed', 'domain.young', 'domain.no-mx', 'domain.no-spf', 'domain.no-dmarc']) t.ok(codes(r.body).includes(c as never), `${c} named`);
    const young = r.body.signals.find((s) => s.code === 'domain.young')!;
    t.match(young.message, /registered 1 day/);
    t.match(young.source, /^RDAP 127\.0\.0\.1/);
    t.match(r.body.signals.find((s) => s.code === 'ip.listed')!.source, 'zen.spamhaus.org');
    for (const s of r.body.signals) t.ok(s.source && s.message, `${s.code} cites its source`);
  });

  await t.test('each signal alone: disposable → review; a blocklisted IP → review; a young domain → review', async (t) => {
    t.equal((await vet('d1', { email: 'a@mailinator.com', domain: 'good.example', signupIp: '45.67.89.30' })).body.decision, 'review');
    t.equal((await vet('d2', { email: 'a@good.example', signupIp: '45.67.89.10' })).body.decision, 'review');
    const young = await vet('d3', { email: 'a@fresh.example', domain: 'fresh.example' });
    t.equal(young.body.decision, 'reject', 'a day-old domain that takes no mail and publishes nothing');
  });

  await t.test('a Spamhaus PBL answer is informational, not a listing', async (t) => {
    const r = await vet('home', { email: 'owner@good.example', signupIp: '45.67.89.20' });
    t.ok(codes(r.body).includes('ip.policy-listed'));
    t.notOk(codes(r.body).includes('ip.listed'));
    t.equal(r.body.signals.find((s) => s.code === 'ip.policy-listed')!.weight, 0);
  });

  await t.test('a private sign-up IP is flagged and not sent to blocklists', async (t) => {
    const before = dns.queries.length;
    const r = await vet('priv', { email: 'owner@good.example', signupIp: '192.168.1.10' });
    t.ok(codes(r.body).includes('ip.reserved'));
    t.notOk(dns.queries.slice(before).some((q) => q.includes('spamhaus')), 'no blocklist query for a private address');
  });

  await t.test('an account sharing an IP /24 with a suspended one is flagged', async (t) => {
    t.equal((await vet('bad-one', { email: 'boss@one.example', signupIp: '45.67.89.30' })).status, 201);
    await gw.store.setAccountMeta('bad-one', { suspended: '1', suspendedAt: String(NOW), suspendReason: 'investigation' });
    const r = await vet('new-one', { email: 'other@two.example', signupIp: '45.67.89.77' });
    const linked = r.body.signals.find((s) => s.code === 'history.linked-suspended');
    t.ok(linked, 'linked to a suspended account');
    t.match(linked!.message, /bad-one/);
    t.match(linked!.message, /45\.67\.89\.0\/24/);
    t.not(r.body.decision, 'approve');
    const unrelated = await vet('elsewhere', { email: 'x@three.example', signupIp: '45.67.90.1' });
    t.notOk(codes(unrelated.body).includes('history.linked-suspended'), 'another /24 is not linked');
  });

  await t.test('stored with the account, history kept, announced; the desk can re-run and review', async (t) => {
    const acct = (await (await fetch(`${base}/v1/accounts/shady`, { headers: auth })).json()) as { vetting: { decision: string } | null };
    t.equal(acct.vetting?.decision, 'reject', 'the account API includes the latest result');
    await vet('shady', { email: 'x1@mailinator.com', domain: 'fresh.example', signupIp: '45.67.89.10' });
    const hist = (await (await fetch(`${base}/v1/accounts/shady/vetting`, { headers: auth })).json()) as { history: unknown[] };
    t.equal(hist.history.length, 2);
    const rerun = await fetch(`${base}/v1/accounts/shady/vetting/rerun`, { method: 'POST', headers: auth, body: '{}' });
    t.equal(rerun.status, 201);
    const review = await fetch(`${base}/v1/accounts/shady/vetting/review`, { method: 'POST', headers: auth, body: JSON.stringify({ decision: 'approve', note: 'called the customer' }) });
    t.equal(review.status, 201);
    const after = (await (await fetch(`${base}/v1/accounts/shady`, { headers: auth })).json()) as { vetting: { decision: string; reviewed?: { note: string } } };
    t.equal(after.vetting.decision, 'approve');
    t.equal(after.vetting.reviewed?.note, 'called the customer');
    const events = await gw.redis.xrange(gw.store.keys.account('shady').outbox, '-', '+');
    const vetted = events.map(([, f]) => JSON.parse(f[1]) as { type: string; data: { account: string } }).filter((e) => e.type === 'account.vetted' && e.data.account === 'shady');
    t.equal(vetted.length, 4, 'one account.vetted per result');
  });

  await t.test('preflight reviews the campaigns of an account vetting did not approve', async (t) => {
    const pf = async (account: string) =>
      (await (await fetch(`${base}/v1/campaigns/preflight`, { method: 'POST', headers: auth, body: JSON.stringify({ account, campaign: 'c1', recipients: ['a@x.example'] }) })).json()) as { decision: string; reasons: Array<{ code: string }> };
    const shady = await pf('d1');
    t.equal(shady.decision, 'review');
    t.same(shady.reasons.map((r) => r.code), ['account-vetting']);
    t.equal((await pf('sound')).decision, 'send');
  });

  await t.test('bad input gets a clear 400', async (t) => {
    for (const body of [{}, { email: 'not-an-address' }, { email: 'a@good.example', signupIp: '999.1.1.1' }, { email: 'a@good.example', domain: 'a..b' }, { email: 'a@good.example', country: 'USA' }, { email: 'a@good.example', extra: 1 }]) {
      const r = await vet('bad-input', body);
      t.equal(r.status, 400, JSON.stringify(body));
      t.match(r.body.error?.code, /^(VALIDATION|BAD_REQUEST)$/);
    }
    const anon = await fetch(`${base}/v1/accounts/x/vetting`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'a@good.example' }) });
    t.equal(anon.status, 401, 'no token, no vetting');
  });
});

t.test('every source unreachable: unavailable signals and review, not an error', async (t) => {
  // A UDP port that swallows queries (bound, never answers) and an RDAP port that is closed.
  const sink = createSocket('udp4');
  await new Promise<void>((r) => sink.bind(0, '127.0.0.1', r));
  t.teardown(() => sink.close());
  const closed = createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const deadPort = (closed.address() as { port: number }).port;
  await new Promise<void>((r) => closed.close(() => r()));
  const redis = await testRedis(t);
  const gw = await startGateway(t, {
    redisUrl: redis.url,
    clock: new ManualClock(NOW),
    overrides: { admin: { token: ADMIN }, vetting: { resolver: `127.0.0.1:${(sink.address() as { port: number }).port}`, rdapBaseUrl: `http://127.0.0.1:${deadPort}/`, timeoutMs: 300 } },
  });
  const started = Date.now();
  const res = await fetch(`http://127.0.0.1:${gw.httpPort}/v1/accounts/blind/vetting`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'owner@company.example', domain: 'company.example', signupIp: '45.67.89.30', country: 'DE' }),
  });
  const body = (await res.json()) as { decision: string; signals: Array<{ code: string; severity: string }> };
  t.equal(res.status, 201);
  t.equal(body.decision, 'review');
  const unavailable = body.signals.filter((s) => s.severity === 'unavailable').map((s) => s.code);
  for (const c of ['domain.rdap.unavailable', 'domain.mx.unavailable', 'domain.spf.unavailable', 'domain.dmarc.unavailable', 'ip.dnsbl.unavailable', 'ip.ptr.unavailable']) t.ok(unavailable.includes(c), `${c}`);
  t.ok(Date.now() - started < 5000, 'each source kept to its time budget');
});
