/**
 * GET /v1/suppressions/{account}/{address}, the MTA's per-recipient question, through the
 * real HTTP listener. Its common requests are answered by lookupFastPath before fastify
 * sees them (issue 19); each case here is asked twice — as the MTA asks it (fast path) and
 * with an extra query parameter, which the fast path hands to fastify's route — and both
 * answers must be the one written here, status, body and content type alike.
 */
import t from 'tap';
import { ManualClock } from '../../src/clock.js';
import { startGateway, TEST_PLATFORM_TOKEN } from '../helpers/gateway.js';
import { testRedis } from '../helpers/redis.js';

const ADMIN = 'admin-token-0123456789-padded-to-32-chars';
const AT = '2026-06-01T10:00:00.000Z';

t.test('single lookups answer the same on the fast path and through fastify', async (t) => {
  const redis = await testRedis(t);
  const gw = await startGateway(t, { redisUrl: redis.url, clock: new ManualClock(Date.parse(AT)), overrides: { admin: { token: ADMIN } } });
  const base = `http://127.0.0.1:${gw.httpPort}`;
  const suppress = async (account: string, address: string, reason: string, channel = 'email') => {
    const r = await fetch(`${base}/v1/suppressions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN}` }, body: JSON.stringify({ account, address, reason, channel }) });
    t.equal(r.status, 201, `suppressed ${address}`);
  };
  await suppress('acme', 'Person@Example.com', 'manual');
  await suppress('*', 'trap@spamtrap.example', 'spamtrap');
  await suppress('acme', '+61 400 000 000', 'manual', 'sms');

  const ask = async (path: string, token: string | null) => {
    const r = await fetch(base + path, { headers: token === null ? {} : { authorization: token } });
    return { status: r.status, type: r.headers.get('content-type'), body: await r.json() };
  };
  const platform = `Bearer ${TEST_PLATFORM_TOKEN}`;
  const found = (address: string, channel: string, reason: string, scope: string) => ({ suppressed: true, address, channel, reason, source: 'admin', at: AT, scope });
  const notSuppressed = { suppressed: false, error: { code: 'NOT_SUPPRESSED', message: 'The address is not suppressed for this account' } };
  const unauthorized = { error: { code: 'UNAUTHORIZED', message: 'Missing or wrong bearer token' } };

  const cases: Array<{ name: string; path: string; token?: string | null; status: number; body: unknown }> = [
    { name: 'found on the account list (case-folded key)', path: '/v1/suppressions/acme/person@EXAMPLE.com', status: 200, body: found('person@example.com', 'email', 'manual', 'account') },
    { name: 'found, the address percent-encoded', path: '/v1/suppressions/acme/Person%40example.com', status: 200, body: found('person@example.com', 'email', 'manual', 'account') },
    { name: 'channel=email said explicitly', path: '/v1/suppressions/acme/person@example.com?channel=email', status: 200, body: found('person@example.com', 'email', 'manual', 'account') },
    { name: 'not found', path: '/v1/suppressions/acme/other@example.com', status: 404, body: notSuppressed },
    { name: 'per account', path: '/v1/suppressions/beta/person@example.com', status: 404, body: notSuppressed },
    { name: 'the global list, for any account', path: '/v1/suppressions/beta/trap@spamtrap.example', status: 200, body: found('trap@spamtrap.example', 'email', 'spamtrap', 'global') },
    { name: 'sms channel', path: '/v1/suppressions/acme/+61400000000?channel=sms', status: 200, body: found('+61400000000', 'sms', 'manual', 'account') },
    { name: 'sms channel, not found', path: '/v1/suppressions/acme/+61400000001?channel=sms', status: 404, body: notSuppressed },
    { name: 'an e-mail address is not an sms number', path: '/v1/suppressions/acme/person@example.com?channel=sms', status: 400, body: { error: { code: 'VALIDATION', message: 'address is not a valid E.164 number' } } },
    { name: 'an admin token reads too', path: '/v1/suppressions/acme/person@example.com', token: `Bearer ${ADMIN}`, status: 200, body: found('person@example.com', 'email', 'manual', 'account') },
    { name: 'no token', path: '/v1/suppressions/acme/person@example.com', token: null, status: 401, body: unauthorized },
    { name: 'a wrong token', path: '/v1/suppressions/acme/person@example.com', token: `Bearer ${TEST_PLATFORM_TOKEN.slice(0, -1)}x`, status: 401, body: unauthorized },
    { name: 'a token of another scheme', path: '/v1/suppressions/acme/person@example.com', token: `Basic ${TEST_PLATFORM_TOKEN}`, status: 401, body: unauthorized },
    { name: 'a bad address', path: '/v1/suppressions/acme/not-an-address', status: 400, body: { error: { code: 'VALIDATION', message: 'address is not a valid address' } } },
    { name: 'a bad account', path: '/v1/suppressions/ac%20me/person@example.com', status: 400, body: { error: { code: 'VALIDATION' } } },
    { name: 'an unknown channel', path: '/v1/suppressions/acme/person@example.com?channel=fax', status: 400, body: { error: { code: 'VALIDATION' } } },
  ];
  for (const c of cases) {
    const token = c.token === undefined ? platform : c.token;
    const viaFastify = c.path + (c.path.includes('?') ? '&' : '?') + 'via=fastify';
    for (const path of [c.path, viaFastify]) {
      const r = await ask(path, token);
      t.equal(r.status, c.status, `${c.name}: status (${path})`);
      t.equal(r.type, 'application/json; charset=utf-8', `${c.name}: content type (${path})`);
      if (c.status === 400) t.match(r.body, c.body, `${c.name}: body (${path})`);
      else t.same(r.body, c.body, `${c.name}: body (${path})`);
    }
  }

  // Both paths count in the same series, by the route's pattern.
  const metrics = await (await fetch(`${base}/metrics`, { headers: { authorization: platform } })).text();
  t.match(metrics, /abusegate_http_requests_total\{route="\/v1\/suppressions\/:account\/:address",status="2xx"\} 1[0-9]\b/);
  // The fast path holds its counts until /metrics is read (metrics.ts hotCount): each read
  // shows every answer given before it.
  const misses = async () => {
    const text = await (await fetch(`${base}/metrics`, { headers: { authorization: platform } })).text();
    return Number(/abusegate_http_requests_total\{route="\/v1\/suppressions\/:account\/:address",status="4xx"\} (\d+)/.exec(text)?.[1]);
  };
  const before = await misses();
  for (let i = 0; i < 3; i++) t.equal((await ask(`/v1/suppressions/acme/nobody${i}@example.com`, platform)).status, 404);
  t.equal(await misses(), before + 3, 'three misses, three counted');
  t.equal(await misses(), before + 3, 'a second read adds nothing');

  // Redis away: the fast path hands the request to the route, which answers as it always has.
  await redis.stop();
  for (const path of ['/v1/suppressions/acme/person@example.com', '/v1/suppressions/acme/person@example.com?via=fastify']) {
    const r = await ask(path, platform);
    t.equal(r.status, 503, `Redis away: status (${path})`);
    t.match(r.body, { error: { code: 'STORE_UNAVAILABLE' } }, `Redis away: body (${path})`);
  }
});
