import t from 'tap';
import { PLATFORM_AUTH } from '../helpers/gateway.js';
import { testRedis } from '../helpers/redis.js';
import { startPreflightApp, type PreflightApp } from './app.js';

const list = (n: number, domain = 'example.com', prefix = 'user') => Array.from({ length: n }, (_, i) => `${prefix}${i}@${domain}`);

t.test('preflight', async (t) => {
  const redis = await testRedis(t);
  const app = await startPreflightApp(t, redis.url);
  const g = app.config.guidance;
  const events = async (account: string) => (await app.store.outboxEvents(app.store.keys.partitionOf(account))).filter((e) => e.data.account === account);

  t.test('a bought list (complaints and hard bounces from earlier sends) is blocked', async (t) => {
    const addresses = list(2000, 'shop.example');
    await app.suppress('bought', addresses.slice(0, 120), { reason: 'complaint', source: 'fbl' });
    await app.suppress('bought', addresses.slice(120, 200), { reason: 'hard-bounce', source: 'bounce' });
    await app.suppress('bought', addresses.slice(200, 230), { reason: 'unsubscribe', source: 'one-click' });
    const r = await app.post({ account: 'bought', campaign: 'spring', recipients: addresses });
    t.equal(r.status, 200);
    t.equal(r.body.decision, 'block');
    t.ok(r.body.score >= 70);
    t.same(r.body.reasons.map((x: any) => x.code), ['previously-suppressed']);
    t.match(r.body.reasons[0], { severity: 'block', guidance: g.listHygiene, value: 0.1, threshold: 0.05, message: /bought, scraped or left to go stale/ });
    t.match(r.body.stats.suppressed, { count: 230, account: { complaint: { count: 120, share: 0.06 }, 'hard-bounce': { count: 80, share: 0.04 }, unsubscribe: { count: 30 } }, global: { count: 0 } });
    t.equal(r.body.suppressed.count, 230);
    t.equal(r.body.suppressed.items.length, 230);

    const [e] = await events('bought');
    t.match(e, { type: 'campaign.blocked', id: /^evt_/, data: { account: 'bought', campaign: 'spring', preflightId: r.body.id, decision: 'block', score: r.body.score, stats: { size: 2000, unique: 2000, suppressed: 230 } } });
    t.same(e.data.reasons, [{ code: 'previously-suppressed', severity: 'block', message: r.body.reasons[0].message, guidance: g.listHygiene }]);
  });

  t.test('a role-heavy list goes to review', async (t) => {
    const roles = ['abuse', 'postmaster', 'noreply', 'info', 'sales', 'Support', 'no-reply+news', 'admin'];
    const addresses = [...list(900, 'corp.example'), ...Array.from({ length: 100 }, (_, i) => `${roles[i % roles.length]}@c${i}.example`)];
    const r = await app.post({ account: 'roles', campaign: 'b2b', recipients: addresses });
    t.equal(r.body.decision, 'review');
    t.same(r.body.reasons.map((x: any) => x.code), ['role-addresses']);
    t.match(r.body.reasons[0], { guidance: g.consent, value: 0.1 });
    t.same(r.body.stats.role, { count: 100, share: 0.1 });
    t.ok(r.body.score >= 40 && r.body.score < 70);
    const [e] = await events('roles');
    t.match(e, { type: 'campaign.review', data: { campaign: 'b2b', decision: 'review', reasons: [{ code: 'role-addresses', guidance: g.consent }] } });
  });

  t.test('a clean list is sent; the suppressed list is exactly what the MTA must skip', async (t) => {
    const addresses = list(3000, 'news.example');
    const unsub = addresses.filter((_, i) => i % 50 === 7); // 2 %
    const soft = addresses.filter((_, i) => i % 300 === 11);
    const manual = addresses.filter((_, i) => i % 500 === 13);
    const complained = addresses.slice(2990, 2995); // a few: well under the block line
    await app.suppress('clean', unsub, { reason: 'unsubscribe', source: 'one-click' });
    await app.suppress('clean', soft, { reason: 'soft-bounce-limit', source: 'bounce' });
    await app.suppress('clean', manual, { reason: 'customer asked by phone', source: 'admin' });
    await app.suppress('clean', complained, { reason: 'complaint', source: 'fbl' });
    await app.suppress('someone-else', addresses.slice(0, 1000), { reason: 'complaint', source: 'fbl' });
    // Duplicates, case variants of the domain, an invalid entry and a non-string.
    const sent = [...addresses, addresses[7].toUpperCase().replace(/@.*/, '@NEWS.EXAMPLE'), addresses[7].replace('news.example', 'News.Example'), addresses[0], ' <' + addresses[1] + '> ', 'not an address', 42];
    const r = await app.post({ account: 'clean', campaign: 'weekly', recipients: sent });
    t.equal(r.status, 200);
    t.equal(r.body.decision, 'send');
    t.same(r.body.reasons, []);
    t.ok(r.body.score < 40);
    const expected = new Set([...unsub, ...soft, ...manual, ...complained]);
    const got = r.body.suppressed.items.map((s: any) => s.address);
    t.equal(got.length, expected.size, 'each suppressed address once');
    t.same(new Set(got), expected, 'exactly the suppressed addresses');
    const byAddress = new Map(r.body.suppressed.items.map((s: any) => [s.address, s]));
    t.match(byAddress.get(manual[1]), { reason: 'manual', scope: 'account' });
    t.match(byAddress.get(unsub[0]), { reason: 'unsubscribe', scope: 'account' });
    const clean = addresses.filter((a) => !expected.has(a));
    t.equal(clean.length + expected.size, 3000, 'the clean list is the rest');
    t.match(r.body.stats, {
      size: 3006,
      unique: 3000, // an upper-case local part is the same mailbox: matched case-insensitively, as providers do (address.ts)
      duplicates: 4,
      invalid: { count: 2, examples: ['not an address', '42'] },
      suppressed: { count: expected.size, account: { unsubscribe: { count: unsub.length }, 'soft-bounce-limit': { count: soft.length }, manual: { count: manual.length }, complaint: { count: 5 } } },
      domains: { distinct: 1, top: [{ domain: 'news.example', count: 3000, share: 1 }] },
      account: { status: 'active', complaintRate: null },
    });
    t.same(await events('clean'), [], 'no event for a list that is sent');
  });

  t.test('a suspended account is blocked whatever the list', async (t) => {
    await app.store.setAccountMeta('suspended', { suspended: '1', suspendReason: 'complaint-rate' });
    const r = await app.post({ account: 'suspended', campaign: 'c', recipients: list(50) });
    t.equal(r.body.decision, 'block');
    t.equal(r.body.score, 100);
    t.match(r.body.reasons, [{ code: 'account-suspended', guidance: g.complaints, message: /suspended \(complaint-rate\)/ }]);
    t.match(r.body.stats.account, { status: 'suspended', suspendReason: 'complaint-rate' });
    t.match((await events('suspended'))[0], { type: 'campaign.blocked' });
  });

  t.test('a spam trap on the global list sends the list to review', async (t) => {
    await app.suppress(null, ['trap@traps.example', 'trap2@traps.example'], { reason: 'spamtrap', source: 'admin' });
    await app.suppress('traps', ['trap2@traps.example'], { reason: 'hard-bounce', source: 'bounce' });
    const r = await app.post({ account: 'traps', campaign: 'c', recipients: [...list(500), 'trap@traps.example', 'trap2@traps.example'] });
    t.equal(r.body.decision, 'review');
    t.same(r.body.reasons.map((x: any) => x.code), ['global-list']);
    t.match(r.body.stats.suppressed, { count: 2, global: { count: 2 }, account: { 'hard-bounce': { count: 1 } } }, 'an address on both lists counts on both');
    t.same(r.body.suppressed.items.map((s: any) => [s.address, s.scope]).sort(), [['trap2@traps.example', 'account'], ['trap@traps.example', 'global']]);
  });

  t.test("an account whose complaint rate is above half its warn threshold goes to review", async (t) => {
    const now = app.clock.now();
    await app.store.count('complainer', [{ channel: 'email', at: now - 3_600_000, campaign: null, counter: 's', n: 20_000 }, { channel: 'email', at: now - 3_600_000, campaign: null, counter: 'c', n: 10 }], null, now);
    const r = await app.post({ account: 'complainer', campaign: 'c', recipients: list(100) });
    t.equal(r.body.decision, 'review');
    t.match(r.body.reasons, [{ code: 'complaint-rate', guidance: g.complaints, value: 0.0005, threshold: 0.0004 }]);
    t.match(r.body.stats.account, { complaintRate: 0.0005, complaintWarn: 0.0008, windows: [{ window: '24h', sent: 20_000, complaints: 10 }, { window: '7d' }] });
  });

  t.test('invalid entries above 3 % go to review', async (t) => {
    const r = await app.post({ account: 'typos', campaign: 'c', recipients: [...list(95), 'a@', '@b.example', 'c@d', 'no at sign', 'x y@z.example'] });
    t.equal(r.body.decision, 'review');
    t.same(r.body.reasons.map((x: any) => x.code), ['invalid-addresses']);
    t.equal(r.body.stats.invalid.count, 5);
  });

  t.test('requests that are refused', async (t) => {
    let r = await app.post({ account: 'acme', campaign: 'c' });
    t.equal(r.status, 400);
    t.equal(r.body.error.code, 'VALIDATION');
    r = await app.post({ account: 'bad account', campaign: 'c', recipients: [] });
    t.equal(r.status, 400);
    r = await app.post({ account: 'acme', campaign: 'c', recipients: [], extra: 1 });
    t.equal(r.status, 400);
    // A JSON body over http.bodyLimit: the error says to use NDJSON.
    r = await app.post({ account: 'acme', campaign: 'c', recipients: list(60_000) });
    t.equal(r.status, 413);
    t.match(r.body.error, { code: 'BODY_TOO_LARGE', message: /NDJSON/ });
    r = await app.get('/v1/campaigns/preflight/pf_01kt1a0f80pm7wp0kxzz2405zt/suppressed');
    t.equal(r.status, 404);
    t.equal(r.body.error.code, 'NOT_FOUND');
    t.equal((await app.get('/v1/campaigns/preflight/nope/suppressed')).status, 400);
    const text = await fetch(app.base + '/v1/campaigns/preflight', { method: 'POST', headers: { 'content-type': 'text/plain', ...PLATFORM_AUTH }, body: 'a@b.example' });
    t.equal(text.status, 415);
  });
});

t.test('limits and the cursor for large suppressed lists', async (t) => {
  const redis = await testRedis(t);
  const app: PreflightApp = await startPreflightApp(t, redis.url, { preflight: { maxRecipients: 5000, inlineSuppressedLimit: 100 } });

  t.test('more than maxRecipients: 413, JSON and NDJSON', async (t) => {
    let r = await app.post({ account: 'acme', campaign: 'c', recipients: list(5001) });
    t.equal(r.status, 413);
    t.match(r.body.error, { code: 'BODY_TOO_LARGE', message: /more than 5,000 recipients/ });
    r = await app.postNdjson(['{"account":"acme","campaign":"c"}', ...list(5001)]);
    t.equal(r.status, 413);
    t.match(r.body.error, { code: 'BODY_TOO_LARGE', message: /more than 5,000 recipients/ });
    r = await app.postNdjson(['{"account":"acme","campaign":"c"}', ...list(5000)]);
    t.equal(r.status, 200, 'exactly the limit is fine');
  });

  t.test('a suppressed list beyond inlineSuppressedLimit is fetched by cursor', async (t) => {
    const addresses = list(4000, 'big.example');
    const sup = addresses.filter((_, i) => i % 10 === 3); // 400, unsubscribes: not a block
    await app.suppress('big', sup, { reason: 'unsubscribe', source: 'one-click' });
    const r = await app.postNdjson(['{"account":"big","campaign":"c"}', ...addresses]);
    t.equal(r.status, 200);
    t.equal(r.body.decision, 'send');
    t.match(r.body.suppressed, { count: 400, items: null, cursor: '0', next: `/v1/campaigns/preflight/${r.body.id}/suppressed?cursor=0`, expiresAt: /^2026-06-02T10:00:00/ });
    const got: string[] = [];
    let next: string | null = r.body.suppressed.next + '&limit=150';
    let pages = 0;
    while (next) {
      const p = await app.get(next);
      t.equal(p.status, 200);
      t.equal(p.body.count, 400);
      got.push(...p.body.items.map((s: any) => s.address));
      next = p.body.next ? p.body.next + '&limit=150' : null;
      pages++;
    }
    t.equal(pages, 3);
    t.same(got, sup, 'every suppressed address, once, in list order');
  });
});

t.test('NDJSON', async (t) => {
  const redis = await testRedis(t);
  const app = await startPreflightApp(t, redis.url);
  await app.suppress('nd', ['s1@x.example', 's2@x.example'], { reason: 'complaint', source: 'fbl' });

  t.test('lines: JSON strings, {"address"}, bare addresses, CRLF, blank lines', async (t) => {
    const body = ['{"account":"nd","campaign":"c"}\r', '"s1@x.example"', '{"address":"s2@x.example"}', 'a@y.example\r', '', '   ', '"b\\u0040y.example"', '"not valid"'];
    const r = await app.postNdjson(body);
    t.equal(r.status, 200);
    t.match(r.body, { account: 'nd', campaign: 'c', stats: { size: 5, unique: 4, invalid: { count: 1, examples: ['not valid'] } } });
    t.same(r.body.suppressed.items.map((s: any) => s.address), ['s1@x.example', 's2@x.example']);
  });

  t.test('a bad first line, a bad line, a line too long', async (t) => {
    let r = await app.postNdjson(['"a@b.example"']);
    t.equal(r.status, 400);
    t.match(r.body.error.message, /line 1/);
    r = await app.postNdjson(['{"account":"nd","campaign":"c","recipients":[]}']);
    t.match([r.status, r.body.error.code], [400, 'VALIDATION']);
    r = await app.postNdjson(['{"account":"nd"}']);
    t.match([r.status, r.body.error.message], [400, /campaign/]);
    r = await app.postNdjson([]);
    t.match([r.status, r.body.error.code], [400, 'BAD_REQUEST']);
    r = await app.postNdjson(['{"account":"nd","campaign":"c"}', '"a@b.example"', '{"address": 5}']);
    t.match([r.status, r.body.error.message], [400, /line 3/]);
    r = await app.postNdjson(['{"account":"nd","campaign":"c"}', '{"address": "a@b.example"']);
    t.match([r.status, r.body.error.code, r.body.error.message], [400, 'BAD_JSON', /line 2/]);
    r = await app.postNdjson(['{"account":"nd","campaign":"c"}', 'x'.repeat(2000) + '@b.example']);
    t.match([r.status, r.body.error.message], [413, /line 2 is longer than 1024 bytes/]);
  });
});
