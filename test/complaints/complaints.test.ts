import t from 'tap';
import { ManualClock } from '../../src/clock.js';
import type { Gateway } from '../../src/gateway.js';
import { PLATFORM_AUTH, startGateway, TEST_PLATFORM_TOKEN } from '../helpers/gateway.js';
import { arfReport } from '../helpers/mail.js';
import { testRedis } from '../helpers/redis.js';
import { SmtpClient } from '../helpers/smtp.js';

const ADMIN = 'admin-secret-token-padded-to-32-chars-xxxxxxx';
const HOUR = 3_600_000;

async function api(gw: Gateway, method: string, path: string, body?: unknown, token: string | null = ADMIN) {
  const res = await fetch(`http://127.0.0.1:${gw.httpPort}${path}`, {
    method,
    headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

function complaintFor(gw: Gateway, account: string, campaign: string, recipient: string, opts: { redact?: boolean; messageId?: string; feedbackType?: string } = {}) {
  const token = gw.codec!.mintLong({ account, campaign, recipient });
  return arfReport({
    feedbackType: opts.feedbackType,
    rcptTo: [opts.redact ? 'redacted@isp.example' : recipient],
    original: {
      From: 'news@customer.example',
      To: opts.redact ? 'redacted' : recipient,
      Subject: 'Our spring sale',
      'Message-ID': `<${opts.messageId ?? Math.random().toString(36).slice(2)}@mta.example>`,
      'X-Abuse-Token': token,
    },
  });
}

async function outboxTypes(gw: Gateway, account: string) {
  const part = gw.store.keys.partitionOf(account);
  return (await gw.store.outboxEvents(part)).filter((e) => e.data.account === account);
}

t.test('feedback-loop complaints end to end', async (t) => {
  const redis = await testRedis(t);
  const clock = new ManualClock(Date.parse('2026-03-10T12:00:00Z'));
  const gw = await startGateway(t, { redisUrl: redis.url, clock, overrides: { admin: { token: ADMIN } } });
  const smtp = await SmtpClient.connect(gw.smtpPort);
  t.teardown(() => smtp.quit());
  const complain = async (msg: string) => {
    const r = await smtp.send('fbl@isp.example', ['fbl@localhost'], msg);
    if (r.code !== 250) throw new Error(`SMTP ${r.code} ${r.text}`);
    return r;
  };
  const sent = (account: string, count: number) => api(gw, 'POST', '/v1/events', { events: [{ type: 'sent', account, campaign: 'c1', count }] }, TEST_PLATFORM_TOKEN);

  t.test('a redacted report on a token-stamped message suppresses the right recipient', async (t) => {
    await complain(complaintFor(gw, 'acme', 'spring-sale', 'Jane.Doe@Example.COM', { redact: true }));
    // Keys are case-folded (address.ts): the mailbox as written is found under its lower case.
    const s = await gw.store.getSuppression('acme', 'email', 'jane.doe@example.com');
    t.ok(s, 'suppressed for acme');
    t.equal(s!.reason, 'complaint');
    t.equal(s!.feedbackType, 'abuse');
    t.equal(s!.campaign, 'spring-sale');
    t.equal(await gw.store.getSuppression('other', 'email', 'jane.doe@example.com'), null, 'not for another account');
    const events = await outboxTypes(gw, 'acme');
    t.same(events.map((e) => e.type), ['recipient.suppressed']);
    t.equal(events[0].data.address, 'jane.doe@example.com');
    t.match(events[0].id, /^evt_/);
  });

  t.test('the same complaint delivered twice counts once', async (t) => {
    const msg = complaintFor(gw, 'dup', 'c1', 'a@example.org', { messageId: 'same-original' });
    await complain(msg);
    await complain(msg);
    const acct = await api(gw, 'GET', '/v1/accounts/dup');
    t.equal(acct.status, 200);
    t.equal(acct.body.windows[0].complaints, 1);
    t.equal((await outboxTypes(gw, 'dup')).length, 1, 'one suppression event');
  });

  t.test('not-spam suppresses nothing; opt-out suppresses as unsubscribe; auth-failure is no complaint', async (t) => {
    await complain(complaintFor(gw, 'types', 'c1', 'ns@example.org', { feedbackType: 'not-spam' }));
    await complain(complaintFor(gw, 'types', 'c1', 'oo@example.org', { feedbackType: 'opt-out' }));
    await complain(complaintFor(gw, 'types', 'c1', 'af@example.org', { feedbackType: 'auth-failure' }));
    t.equal(await gw.store.getSuppression('types', 'email', 'ns@example.org'), null);
    t.equal((await gw.store.getSuppression('types', 'email', 'oo@example.org'))?.reason, 'unsubscribe');
    t.equal(await gw.store.getSuppression('types', 'email', 'af@example.org'), null);
    t.equal((await api(gw, 'GET', '/v1/accounts/types')).body.windows[0].complaints, 0);
  });

  t.test('10,000 sent and 9 complaints warn a shared-pool account, not a dedicated one', async (t) => {
    t.equal((await api(gw, 'PATCH', '/v1/accounts/dedi', { pool: 'dedicated' })).status, 200);
    for (const a of ['shared1', 'dedi']) {
      t.equal((await sent(a, 10_000)).status, 202);
      for (let i = 0; i < 9; i++) await complain(complaintFor(gw, a, i < 6 ? 'c1' : 'c2', `r${i}@example.org`));
    }
    const shared = await api(gw, 'GET', '/v1/accounts/shared1');
    t.equal(shared.body.status, 'warned');
    t.equal(shared.body.warnings.length, 1);
    const dedi = await api(gw, 'GET', '/v1/accounts/dedi');
    t.equal(dedi.body.status, 'active');
    t.equal(dedi.body.pool, 'dedicated');
    const warned = (await outboxTypes(gw, 'shared1')).filter((e) => e.type === 'account.warned');
    t.equal(warned.length, 1, 'one account.warned event');
    const d = warned[0].data as Record<string, any>;
    t.match(d, { account: 'shared1', kind: 'complaint', window: '24h', sent: 10000, count: 9, threshold: 0.0008, warnings: 1 });
    t.equal(d.rate, 9 / 10000);
    t.same(d.topCampaigns, [{ campaign: 'c1', count: 6 }, { campaign: 'c2', count: 3 }]);
    t.equal(d.sampleReportIds.length, 9);
    t.same(d.guidance.map((g: any) => g.topic), ['complaints', 'unsubscribe', 'consent'], 'guidance links for the customer');
    t.match(d.guidance[0].url, /^https:\/\//);
    t.equal((await outboxTypes(gw, 'dedi')).filter((e) => e.type.startsWith('account.')).length, 0);
  });

  t.test('one warning per 24 h; the third warning within 30 days suspends', async (t) => {
    await complain(complaintFor(gw, 'shared1', 'c1', 'more1@example.org'));
    t.equal((await api(gw, 'GET', '/v1/accounts/shared1')).body.warnings.length, 1, 'cooldown: still one warning');
    clock.advance(25 * HOUR);
    await complain(complaintFor(gw, 'shared1', 'c1', 'more2@example.org'));
    const second = await api(gw, 'GET', '/v1/accounts/shared1');
    t.equal(second.body.warnings.length, 2, 'the 7-day window still shows the rate: a second warning');
    t.equal(second.body.status, 'warned');
    clock.advance(25 * HOUR);
    await complain(complaintFor(gw, 'shared1', 'c1', 'more3@example.org'));
    const third = await api(gw, 'GET', '/v1/accounts/shared1');
    t.equal(third.body.status, 'suspended');
    t.equal(third.body.suspendReason, 'warnings');
    const types = (await outboxTypes(gw, 'shared1')).map((e) => e.type).filter((x) => x.startsWith('account.'));
    t.same(types, ['account.warned', 'account.warned', 'account.warned', 'account.suspended']);
  });

  t.test('above 0.3 % suspends at once', async (t) => {
    await sent('hot', 1000);
    for (let i = 0; i < 4; i++) await complain(complaintFor(gw, 'hot', 'c1', `h${i}@example.org`));
    const a = await api(gw, 'GET', '/v1/accounts/hot');
    t.equal(a.body.status, 'suspended');
    t.equal(a.body.suspendReason, 'complaint-rate');
    t.equal(a.body.warnings.length, 1, 'one warning came first, at 0.1 %');
    const susp = (await outboxTypes(gw, 'hot')).filter((e) => e.type === 'account.suspended');
    t.equal(susp.length, 1);
    t.match(susp[0].data, { count: 4, sent: 1000, threshold: 0.003, reason: 'complaint-rate' });
  });

  t.test('below the minimum volume nothing is judged', async (t) => {
    await sent('small', 999);
    for (let i = 0; i < 5; i++) await complain(complaintFor(gw, 'small', 'c1', `s${i}@example.org`));
    t.equal((await api(gw, 'GET', '/v1/accounts/small')).body.status, 'active');
  });

  t.test('a suspended account stays suspended until reinstated', async (t) => {
    clock.advance(40 * 24 * HOUR);
    await sent('hot', 100_000);
    t.equal((await api(gw, 'GET', '/v1/accounts/hot')).body.status, 'suspended', 'time alone lifts nothing');
    t.equal((await api(gw, 'POST', '/v1/accounts/hot/reinstate', {}, null)).status, 401, 'admin only');
    t.equal((await api(gw, 'POST', '/v1/accounts/hot/reinstate', {}, 'wrong')).status, 401);
    const r = await api(gw, 'POST', '/v1/accounts/hot/reinstate', { note: 'customer cleaned the list' });
    t.equal(r.status, 200);
    t.equal(r.body.status, 'active');
    t.equal(r.body.warnings.length, 0);
    const again = await api(gw, 'POST', '/v1/accounts/hot/reinstate', {});
    t.equal(again.status, 409);
    t.equal(again.body.error.code, 'NOT_SUSPENDED');
    const ev = (await outboxTypes(gw, 'hot')).filter((e) => e.type === 'account.reinstated');
    t.equal(ev.length, 1);
    t.equal(ev[0].data.note, 'customer cleaned the list');
  });

  t.test('a report with no verifiable account suppresses nothing', async (t) => {
    const forged = gw.codec!.mintLong({ account: 'victim', campaign: 'c1', recipient: 'x@example.org' }).slice(0, -4) + 'AAAA';
    const msg = arfReport({ rcptTo: ['x@example.org'], original: { From: 'a@b.example', To: 'x@example.org', Subject: 's', 'Message-ID': '<f@x>', 'X-Abuse-Token': forged } });
    const r = await complain(msg);
    const id = /<([0-9a-z]{26})>/.exec(r.text)![1];
    const rec = await gw.store.getReport(id);
    t.equal(rec!.kind, 'complaint');
    t.notOk(rec!.account, 'unattributed');
    t.equal(await gw.store.getSuppression('victim', 'email', 'x@example.org'), null);
  });
});

t.test('an unverified reporter suppresses, but never counts toward warnings', async (t) => {
  const redis = await testRedis(t);
  // Only a documentation range is trusted: the loopback test client is not.
  const gw = await startGateway(t, { redisUrl: redis.url, overrides: { admin: { token: ADMIN }, trustedReporters: ['192.0.2.0/24'] } });
  await api(gw, 'POST', '/v1/events', { events: [{ type: 'sent', account: 'unv', count: 1000 }] }, TEST_PLATFORM_TOKEN);
  for (let i = 0; i < 5; i++) {
    const r = await sendMailTo(gw, complaintFor(gw, 'unv', 'c1', `u${i}@example.org`));
    t.equal(r.code, 250);
    const rec = await gw.store.getReport(/<([0-9a-z]{26})>/.exec(r.text)![1]);
    t.match(rec!.reporterAuth, { verdict: 'unverified', basis: 'no-trusted-signature' });
  }
  t.equal((await gw.store.getSuppression('unv', 'email', 'u0@example.org'))?.reason, 'complaint', 'suppressed');
  const a = await api(gw, 'GET', '/v1/accounts/unv');
  t.equal(a.body.windows[0].complaints, 0, 'not in the rate');
  t.equal(a.body.windows[0].unverifiedComplaints, 5, 'but recorded');
  t.equal(a.body.status, 'active', '0.5 % unverified: no warning, no suspension');
});

async function sendMailTo(gw: Gateway, msg: string) {
  const c = await SmtpClient.connect(gw.smtpPort);
  try {
    return await c.send('fbl@isp.example', ['fbl@localhost'], msg);
  } finally {
    await c.quit();
  }
}

t.test('POST /v1/events validation: a bad item is named and nothing is applied', async (t) => {
  const redis = await testRedis(t);
  const clock = new ManualClock();
  const gw = await startGateway(t, { redisUrl: redis.url, clock });
  const bad = await api(gw, 'POST', '/v1/events', { events: [{ type: 'sent', account: 'ok', count: 5 }, { type: 'sent', account: 'bad account!', count: 1 }] }, TEST_PLATFORM_TOKEN);
  t.equal(bad.status, 400);
  t.equal(bad.body.error.code, 'VALIDATION');
  t.match(bad.body.error.message, /events\/1\/account/);
  t.equal((await api(gw, 'GET', '/v1/accounts/ok', undefined, null)).status, 401);
  const acct = await gw.store.readAccount('ok', 'email', clock.now());
  t.equal(acct.windows[0].sent, 0, 'the good item was not applied either');
  for (const [body, re] of [
    [{ events: [{ type: 'bounced', account: 'a' }] }, /events\/0\/type/],
    [{ events: [{ type: 'delivered', account: 'a' }] }, /recipient/],
    [{ events: [{ type: 'sent', account: 'a', count: 0 }] }, /count/],
    [{ events: [] }, /events/],
    [{}, /events/],
  ] as const) {
    const r = await api(gw, 'POST', '/v1/events', body, TEST_PLATFORM_TOKEN);
    t.equal(r.status, 400, JSON.stringify(body));
    t.match(r.body.error.message, re);
  }
  const notJson = await fetch(`http://127.0.0.1:${gw.httpPort}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json', ...PLATFORM_AUTH }, body: '{"events": [' });
  t.equal(notJson.status, 400);
  t.equal((await notJson.json()).error.code, 'BAD_JSON');
  const idem = { events: [{ type: 'sent', account: 'idem', count: 7 }] };
  for (let i = 0; i < 2; i++) {
    await fetch(`http://127.0.0.1:${gw.httpPort}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': 'batch-1', ...PLATFORM_AUTH }, body: JSON.stringify(idem) });
  }
  t.equal((await gw.store.readAccount('idem', 'email', clock.now())).windows[0].sent, 7, 'an idempotent batch counts once');
});
