import t from 'tap';
import { ManualClock } from '../../src/clock.js';
import type { Gateway } from '../../src/gateway.js';
import { PLATFORM_AUTH, startGateway, TEST_PLATFORM_TOKEN } from '../helpers/gateway.js';
import { dsn } from '../helpers/mail.js';
import { testRedis } from '../helpers/redis.js';
import { SmtpClient } from '../helpers/smtp.js';

const MAILBOX_FULL = { status: '4.2.2', diagnostic: '452 4.2.2 Mailbox full' };

t.test('bounces end to end over SMTP to bounces+<token>@', async (t) => {
  const redis = await testRedis(t);
  const clock = new ManualClock(Date.parse('2026-05-01T08:00:00Z'));
  const gw = await startGateway(t, { redisUrl: redis.url, clock });
  const smtp = await SmtpClient.connect(gw.smtpPort);
  t.teardown(() => smtp.quit());
  // Recipient-bound VERP, as the platform mints it for each recipient.
  const verp = (account: string, recipient: string) => `bounces+${gw.codec!.mintShort({ account, campaign: 'c1', recipient })}@localhost`;
  const bounce = async (account: string, msg: string) => {
    const recipient = msg.split('\n').find((l) => l.startsWith('Final-Recipient:'))!.split(';')[1].trim();
    const r = await smtp.send('', [verp(account, recipient)], msg);
    if (r.code !== 250) throw new Error(`SMTP ${r.code} ${r.text}`);
  };
  const events = (gw: Gateway, body: unknown) =>
    fetch(`http://127.0.0.1:${gw.httpPort}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json', ...PLATFORM_AUTH }, body: JSON.stringify(body) });
  const suppressed = (account: string, address: string) => gw.store.getSuppression(account, 'email', address);

  t.test('a hard bounce suppresses at once, with status and diagnostic', async (t) => {
    await bounce('acme', dsn({ recipient: 'gone@example.org', status: '5.1.1' }));
    const s = await suppressed('acme', 'gone@example.org');
    t.equal(s?.reason, 'hard-bounce');
    t.equal(s?.status, '5.1.1');
    t.match(s?.diagnostic, /User unknown/);
    t.equal(await suppressed('other', 'gone@example.org'), null, 'only for the account the VERP token names');
  });

  t.test('a sender-side refusal never counts against the recipient', async (t) => {
    for (let i = 0; i < 10; i++) {
      await bounce('acme', dsn({ recipient: 'fine@example.org', status: '5.7.1', diagnostic: '550 5.7.1 Service unavailable; client [192.0.2.1] blocked using zen.spamhaus.org' }));
    }
    t.equal(await suppressed('acme', 'fine@example.org'), null);
  });

  t.test('unengaged: 6 soft bounces do not suppress, the 7th does', async (t) => {
    for (let i = 1; i <= 6; i++) await bounce('acme', dsn({ recipient: 'full@example.org', ...MAILBOX_FULL }));
    t.equal(await suppressed('acme', 'full@example.org'), null, 'not after 6');
    await bounce('acme', dsn({ recipient: 'full@example.org', ...MAILBOX_FULL }));
    const s = await suppressed('acme', 'full@example.org');
    t.equal(s?.reason, 'soft-bounce-limit', 'the 7th suppresses');
  });

  t.test('engaged: suppressed at the 15th and not before', async (t) => {
    t.equal((await events(gw, { events: [{ type: 'engaged', account: 'acme', recipient: 'reader@Example.org' }] })).status, 202);
    const ttl = await gw.redis.pttl(gw.store.keys.account('acme').engaged);
    t.ok(ttl > 179 * 86_400_000 && ttl <= 180 * 86_400_000, `engagement is remembered bounces.engagedDays (180) after the last one: ${ttl} ms`);
    for (let i = 1; i <= 14; i++) await bounce('acme', dsn({ recipient: 'reader@example.org', ...MAILBOX_FULL }));
    t.equal(await suppressed('acme', 'reader@example.org'), null, 'not after 14');
    await bounce('acme', dsn({ recipient: 'reader@example.org', ...MAILBOX_FULL }));
    t.equal((await suppressed('acme', 'reader@example.org'))?.reason, 'soft-bounce-limit');
  });

  t.test('a delivery resets the count', async (t) => {
    for (let i = 1; i <= 6; i++) await bounce('acme', dsn({ recipient: 'flaky@example.org', ...MAILBOX_FULL }));
    t.equal((await events(gw, { events: [{ type: 'delivered', account: 'acme', recipient: 'flaky@example.org' }] })).status, 202);
    for (let i = 1; i <= 6; i++) await bounce('acme', dsn({ recipient: 'flaky@example.org', ...MAILBOX_FULL }));
    t.equal(await suppressed('acme', 'flaky@example.org'), null, '6 + 6 with a delivery between: still not suppressed');
    await bounce('acme', dsn({ recipient: 'flaky@example.org', ...MAILBOX_FULL }));
    t.equal((await suppressed('acme', 'flaky@example.org'))?.reason, 'soft-bounce-limit');
  });

  t.test('the same bounce received twice counts once', async (t) => {
    for (let i = 1; i <= 6; i++) await bounce('acme', dsn({ recipient: 'twice@example.org', ...MAILBOX_FULL }));
    const again = dsn({ recipient: 'twice@example.org', ...MAILBOX_FULL, messageId: 'same-send' });
    await bounce('acme', again);
    t.ok(await suppressed('acme', 'twice@example.org'), 'the 7th suppresses');
    await gw.store.redis.hdel(gw.store.keys.account('acme').suppressions('email'), 'twice@example.org');
    await bounce('acme', again);
    t.equal(await suppressed('acme', 'twice@example.org'), null, 'a redelivery of that bounce is not an 8th');
  });

  t.test('delayed notices suppress nothing', async (t) => {
    for (let i = 0; i < 8; i++) await bounce('acme', dsn({ recipient: 'slow@example.org', status: '4.4.7', action: 'delayed' }));
    t.equal(await suppressed('acme', 'slow@example.org'), null);
  });

  t.test('the account comes from a token in the returned message when the VERP address has none', async (t) => {
    const token = gw.codec!.mintLong({ account: 'beta', campaign: 'c9', recipient: 'x@example.org' });
    const r = await smtp.send('', ['bounces+notatoken@localhost'], dsn({ recipient: 'x@example.org', status: '5.1.1', originalHeaders: { 'X-Abuse-Token': token } }));
    t.equal(r.code, 250);
    t.equal((await suppressed('beta', 'x@example.org'))?.reason, 'hard-bounce');
  });

  t.test('hard bounces over 10 % of sent suspend the account (bounce kind)', async (t) => {
    t.equal((await events(gw, { events: [{ type: 'sent', account: 'listbuyer', campaign: 'c1', count: 1000 }] })).status, 202);
    for (let i = 0; i < 101; i++) await bounce('listbuyer', dsn({ recipient: `nobody${i}@example.org`, status: '5.1.1' }));
    const out = (await gw.store.outboxEvents(gw.store.keys.partitionOf('listbuyer'), 10_000)).filter((e) => e.data.account === 'listbuyer' && e.type.startsWith('account.'));
    t.same(out.map((e) => e.type), ['account.warned', 'account.suspended']);
    t.match(out[0].data, { kind: 'bounce', threshold: 0.05 });
    t.match(out[1].data, { kind: 'bounce', reason: 'bounce-rate', threshold: 0.1 });
  });
});
