import t from 'tap';
import { ManualClock } from '../../src/clock.js';
import { PLATFORM_AUTH, startGateway, TEST_PLATFORM_TOKEN } from '../helpers/gateway.js';
import { testRedis } from '../helpers/redis.js';
import { sendMail } from '../helpers/smtp.js';
import { apiClient } from '../helpers/http.js';

const ADMIN = 'alice:alice-token-123-padded-to-32-chars-xxxxxxx,bob:bob-token-4567-padded-to-32-chars-xxxxxxx';

t.test('suppression API, global list, unsubscribe', async (t) => {
  const redis = await testRedis(t);
  const clock = new ManualClock(Date.parse('2026-06-01T10:00:00Z'));
  const gw = await startGateway(t, { redisUrl: redis.url, clock, overrides: { admin: { token: ADMIN } } });
  const base = `http://127.0.0.1:${gw.httpPort}`;
  const api = apiClient(base);
  const call = (method: string, path: string, body?: unknown, token?: string, headers: Record<string, string> = {}) => api(method, path, body, { token, headers });

  t.test('admin auth', async (t) => {
    t.equal((await call('POST', '/v1/suppressions', { account: 'acme', address: 'a@example.com', reason: 'manual' })).status, 401);
    t.equal((await call('POST', '/v1/suppressions', { account: 'acme', address: 'a@example.com', reason: 'manual' }, 'nope')).status, 401);
    const r = await call('GET', '/v1/suppressions/acme', undefined, 'alice-token-12');
    t.equal(r.status, 401);
    t.equal(r.body.error.code, 'UNAUTHORIZED');
  });

  t.test('manual add, lookup, batch check, remove — audited', async (t) => {
    const add = await call('POST', '/v1/suppressions', { account: 'acme', address: ' Person@Example.COM ', reason: 'manual', note: 'asked by phone' }, 'alice-token-123-padded-to-32-chars-xxxxxxx');
    t.equal(add.status, 201);
    t.equal(add.body.address, 'person@example.com', 'the key is case-folded (address.ts)');
    t.equal(add.body.by, 'alice');
    const again = await call('POST', '/v1/suppressions', { account: 'acme', address: 'Person@example.com', reason: 'manual' }, 'alice-token-123-padded-to-32-chars-xxxxxxx');
    t.equal(again.status, 200, 'already there');
    const hit = await call('GET', '/v1/suppressions/acme/Person@EXAMPLE.com', undefined, TEST_PLATFORM_TOKEN);
    t.equal(hit.status, 200);
    t.match(hit.body, { suppressed: true, reason: 'manual', source: 'admin', scope: 'account' });
    const miss = await call('GET', '/v1/suppressions/acme/other@example.com', undefined, TEST_PLATFORM_TOKEN);
    t.equal(miss.status, 404);
    t.equal(miss.body.suppressed, false);
    t.equal((await call('GET', '/v1/suppressions/other-account/Person@example.com', undefined, TEST_PLATFORM_TOKEN)).status, 404, 'per account');

    const addresses = Array.from({ length: 2000 }, (_, i) => `u${i}@example.com`);
    addresses[500] = 'PERSON@example.com'; // the same mailbox in other cases: matched, as providers do
    addresses[700] = 'Person@EXAMPLE.com';
    addresses[900] = 'not an address';
    const check = await call('POST', '/v1/suppressions/check', { account: 'acme', addresses }, TEST_PLATFORM_TOKEN);
    t.equal(check.status, 200);
    t.equal(check.body.checked, 2000);
    t.same(check.body.suppressed.map((s: any) => s.address), ['PERSON@example.com', 'Person@EXAMPLE.com'], 'as the MTA wrote them');
    t.same(check.body.invalid, ['not an address']);
    const tooMany = await call('POST', '/v1/suppressions/check', { account: 'acme', addresses: Array(10001).fill('a@b.example') }, TEST_PLATFORM_TOKEN);
    t.equal(tooMany.status, 400);

    const del = await call('DELETE', '/v1/suppressions/acme/Person@example.com?note=mistake', undefined, 'bob-token-4567-padded-to-32-chars-xxxxxxx');
    t.equal(del.status, 200);
    t.equal((await call('GET', '/v1/suppressions/acme/Person@example.com', undefined, TEST_PLATFORM_TOKEN)).status, 404);
    t.equal((await call('DELETE', '/v1/suppressions/acme/Person@example.com', undefined, 'bob-token-4567-padded-to-32-chars-xxxxxxx')).status, 404);
    const audit = await gw.store.readAudit(10);
    t.match(audit[1], { action: 'suppression.remove', by: 'bob', account: 'acme', address: 'person@example.com', note: 'mistake', result: 'removed' });
    t.match(audit.find((a) => a.action === 'suppression.add' && a.result === 'added'), { by: 'alice', note: 'asked by phone', reason: 'manual' });
  });

  t.test('the global list applies to every account', async (t) => {
    t.equal((await call('POST', '/v1/suppressions', { account: '*', address: 'trap@spamtrap.example', reason: 'spamtrap' }, 'alice-token-123-padded-to-32-chars-xxxxxxx')).status, 201);
    for (const account of ['acme', 'beta']) {
      const r = await call('GET', `/v1/suppressions/${account}/trap@spamtrap.example`, undefined, TEST_PLATFORM_TOKEN);
      t.equal(r.status, 200);
      t.match(r.body, { reason: 'spamtrap', scope: 'global' });
    }
    const check = await call('POST', '/v1/suppressions/check', { account: 'zeta', addresses: ['trap@spamtrap.example', 'ok@example.com'] }, TEST_PLATFORM_TOKEN);
    t.same(check.body.suppressed.map((s: any) => [s.address, s.scope]), [['trap@spamtrap.example', 'global']]);
  });

  t.test('SMS numbers use the same lookups with channel sms', async (t) => {
    t.equal((await call('POST', '/v1/suppressions', { account: 'acme', address: '+61 400 000 000', reason: 'manual', channel: 'sms' }, 'alice-token-123-padded-to-32-chars-xxxxxxx')).status, 201);
    t.equal((await call('GET', '/v1/suppressions/acme/+61400000000?channel=sms', undefined, TEST_PLATFORM_TOKEN)).status, 200);
    t.equal((await call('GET', '/v1/suppressions/acme/+61400000000', undefined, TEST_PLATFORM_TOKEN)).status, 400, 'not an email address');
  });

  t.test('listing is cursor-paginated, and exported as CSV', async (t) => {
    for (let i = 0; i < 30; i++) await call('POST', '/v1/suppressions', { account: 'lister', address: `l${i}@example.com`, reason: 'manual' }, 'alice-token-123-padded-to-32-chars-xxxxxxx');
    await call('POST', '/v1/suppressions', { account: 'lister', address: 'xy@example.com', reason: '=HYPERLINK("evil"),x' }, 'alice-token-123-padded-to-32-chars-xxxxxxx');
    const seen = new Set<string>();
    let cursor: string | null = '0';
    let pages = 0;
    while (cursor !== null && pages < 100) {
      const r = await call('GET', `/v1/suppressions/lister?limit=7&cursor=${cursor}`, undefined, 'alice-token-123-padded-to-32-chars-xxxxxxx');
      t.equal(r.status, 200);
      for (const it of r.body.items) seen.add(it.address);
      cursor = r.body.next;
      pages++;
    }
    t.equal(seen.size, 31, 'every suppression once over the pages');
    const csv = await call('GET', '/v1/suppressions/lister?format=csv', undefined, 'alice-token-123-padded-to-32-chars-xxxxxxx');
    t.match(csv.headers.get('content-type'), /text\/csv/);
    const lines = (csv.body as string).trim().split('\r\n');
    t.equal(lines[0], 'address,reason,source,at,campaign,report_id');
    t.equal(lines.length, 32);
    t.ok(lines.includes(`xy@example.com,"'=HYPERLINK(""evil""),x",admin,2026-06-01T10:00:00.000Z,,`), 'quoted and defused');
  });

  t.test('one-click unsubscribe (RFC 8058) and the mailto form', async (t) => {
    const token = gw.codec!.mintLong({ account: 'acme', campaign: 'spring', recipient: 'Reader@Example.com' });
    const page = await fetch(`${base}/u/${token}`);
    t.equal(page.status, 200);
    const html = await page.text();
    t.match(html, /<form method="post">/);
    t.equal((await call('GET', '/v1/suppressions/acme/Reader@example.com', undefined, TEST_PLATFORM_TOKEN)).status, 404, 'GET changes nothing');

    const bad = await fetch(`${base}/u/${token.slice(0, -3)}xyz`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'List-Unsubscribe=One-Click' });
    t.equal(bad.status, 404);
    t.match(await bad.text(), /not valid/);
    t.equal((await fetch(`${base}/u/garbage`)).status, 404);

    const post = await fetch(`${base}/u/${token}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'List-Unsubscribe=One-Click' });
    t.equal(post.status, 200);
    const s = await call('GET', '/v1/suppressions/acme/Reader@example.com', undefined, TEST_PLATFORM_TOKEN);
    t.match(s.body, { suppressed: true, reason: 'unsubscribe', source: 'one-click' });
    const ev = (await gw.store.outboxEvents(gw.store.keys.partitionOf('acme'), 1000)).filter((e) => e.type === 'recipient.suppressed' && e.data.address === 'reader@example.com');
    t.equal(ev.length, 1);
    t.equal(ev[0].data.campaign, 'spring');

    const wrongBody = await fetch(`${base}/u/${token}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'foo=bar' });
    t.equal(wrongBody.status, 400);

    const mailToken = gw.codec!.mintLong({ account: 'acme', campaign: 'spring', recipient: 'mailer@example.net' });
    const r = await sendMail(gw.smtpPort, 'mailer@example.net', [`unsubscribe+${mailToken}@localhost`], 'From: mailer@example.net\nSubject: unsubscribe\n\nunsubscribe\n');
    t.equal(r.code, 250);
    t.match((await call('GET', '/v1/suppressions/acme/mailer@example.net', undefined, TEST_PLATFORM_TOKEN)).body, { reason: 'unsubscribe', source: 'mailto' });
  });
});

t.test('the public unsubscribe pages are rate-limited per client IP', async (t) => {
  const redis = await testRedis(t);
  const gw = await startGateway(t, { redisUrl: redis.url, overrides: { form: { unsubscribePerMinute: 3 } } });
  const statuses: number[] = [];
  for (let i = 0; i < 5; i++) statuses.push((await fetch(`http://127.0.0.1:${gw.httpPort}/u/1a${'x'.repeat(40)}`)).status);
  t.same(statuses, [404, 404, 404, 429, 429]);
  t.equal((await fetch(`http://127.0.0.1:${gw.httpPort}/healthz`)).status, 200, 'other routes are not limited');
});
