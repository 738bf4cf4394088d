/**
 * Exactly once from content: the same message delivered again (an MTA retrying after a lost
 * `250`) or the form posted again changes nothing the second time, and distinct reports of
 * one recipient (DSNs without a copy of the original) count separately. Over real SMTP and
 * HTTP against a real Redis.
 */
import t from 'tap';
import { ManualClock } from '../../src/clock.js';
import type { Gateway } from '../../src/gateway.js';
import { startGateway } from '../helpers/gateway.js';
import { abuseMail, arfReport } from '../helpers/mail.js';
import { testRedis } from '../helpers/redis.js';
import { SmtpClient } from '../helpers/smtp.js';
import { apiClient } from '../helpers/http.js';

const ADMIN = 'exact-admin-token-0123456789abcdefghijklmnop';
const DAY = 86_400_000;

/** A DSN for one recipient with no copy of the original (many MTAs send none). */
function bareDsn(recipient: string, messageId: string): string {
  return [
    'From: MAILER-DAEMON@mx.receiver.example',
    'To: bounces@localhost',
    'Subject: Undelivered Mail Returned to Sender',
    `Message-ID: <${messageId}@mx.receiver.example>`,
    'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=delivery-status; boundary="b2"',
    '',
    '--b2',
    'Content-Type: text/plain',
    '',
    'I could not deliver your message.',
    '',
    '--b2',
    'Content-Type: message/delivery-status',
    '',
    'Reporting-MTA: dns; mx.receiver.example',
    '',
    `Final-Recipient: rfc822; ${recipient}`,
    'Action: failed',
    'Status: 4.2.2',
    'Diagnostic-Code: smtp; 452 4.2.2 Mailbox full',
    '',
    '--b2--',
    '',
  ].join('\n');
}

t.test('the same report twice changes nothing the second time', async (t) => {
  const redis = await testRedis(t);
  const clock = new ManualClock(Date.parse('2026-07-01T09:00:00Z'));
  const gw = await startGateway(t, { redisUrl: redis.url, clock, overrides: { admin: { token: ADMIN }, form: { ratePerMinute: 0 }, phone: { regions: ['AU'] } } });
  const base = `http://127.0.0.1:${gw.httpPort}`;
  const api = apiClient(base, ADMIN);
  const call = (method: string, path: string, body?: unknown, auth = true) => api(method, path, body, auth ? {} : { token: null });
  const smtp = await SmtpClient.connect(gw.smtpPort);
  t.teardown(() => smtp.quit());
  const send = async (from: string, to: string, msg: string) => {
    const r = await smtp.send(from, [to], msg);
    if (r.code !== 250) throw new Error(`SMTP ${r.code} ${r.text}`);
    return r.text;
  };
  const caseIdOf = (text: string) => /<(case_[0-9a-z]{26})>/.exec(text)?.[1];
  const caseEvents = async (caseId: string) =>
    (await gw.store.redis.xrange(gw.store.keys.cases.outbox, '-', '+')).map(([, f]) => JSON.parse(f[1])).filter((e) => e.data.caseId === caseId).map((e) => e.type);
  const accountEvents = async (account: string) =>
    (await gw.store.outboxEvents(gw.store.keys.partitionOf(account))).filter((e) => e.data.account === account).map((e) => e.type);
  const seasoned = (account: string) => call('PATCH', `/v1/accounts/${account}`, { createdAt: new Date(clock.now() - 365 * DAY).toISOString() });

  t.test('abuse@ delivered twice: one case, reportCount 1, one event', async (t) => {
    await seasoned('acme');
    const token = gw.codec!.mintLong({ account: 'acme', campaign: 'spring', recipient: 'person@recipient.example' });
    const msg = abuseMail({ messageId: 'retry-1@recipient.example', token });
    const first = caseIdOf(await send('person@recipient.example', 'abuse@localhost', msg));
    const again = caseIdOf(await send('person@recipient.example', 'abuse@localhost', msg));
    t.ok(first);
    t.equal(again, first, 'the retry answers with the same case');
    t.equal((await call('GET', `/v1/cases/${first}`)).body.reportCount, 1, 'counted once');
    t.same(await caseEvents(first!), ['case.opened'], 'no second event');
  });

  t.test('abuse@ with no campaign delivered twice: one case, not two', async (t) => {
    const msg = abuseMail({ body: 'Spam again, no token anywhere. Lots of it.' });
    const first = caseIdOf(await send('person@recipient.example', 'abuse@localhost', msg));
    const again = caseIdOf(await send('person@recipient.example', 'abuse@localhost', msg));
    t.equal(again, first, 'no Message-ID: the content identifies it');
    t.same(await caseEvents(first!), ['case.opened']);
    const other = caseIdOf(await send('person@recipient.example', 'abuse@localhost', abuseMail({ body: 'A different complaint.' })));
    t.not(other, first, 'different content is a different report');
  });

  t.test('a feedback-loop complaint delivered twice counts once', async (t) => {
    await seasoned('fblacct');
    await call('POST', '/v1/events', { events: [{ type: 'sent', account: 'fblacct', campaign: 'c1', count: 100_000 }] }, false);
    const token = gw.codec!.mintLong({ account: 'fblacct', campaign: 'c1', recipient: 'jane@example.com' });
    // No copy of the original's Message-ID: the report itself identifies the complaint.
    const msg = arfReport({ rcptTo: ['jane@example.com'], original: { From: 'news@customer.example', To: 'jane@example.com', 'X-Abuse-Token': token } });
    await send('fbl@isp.example', 'fbl@localhost', msg);
    await send('fbl@isp.example', 'fbl@localhost', msg);
    const a = (await call('GET', '/v1/accounts/fblacct')).body;
    t.equal(a.windows[0].complaints, 1, 'one complaint');
    t.same(await accountEvents('fblacct'), ['recipient.suppressed']);
    // A second report about the same recipient (its own Message-ID) is a new report, but
    // counts once per recipient and dedup window (rules/evidence.ts); another recipient counts.
    const again = arfReport({ rcptTo: ['jane@example.com'], original: { From: 'news@customer.example', To: 'jane@example.com', 'X-Abuse-Token': token } });
    await send('fbl@isp.example', 'fbl@localhost', again);
    t.equal((await call('GET', '/v1/accounts/fblacct')).body.windows[0].complaints, 1, 'the same recipient again: still one');
    const token2 = gw.codec!.mintLong({ account: 'fblacct', campaign: 'c1', recipient: 'john@example.com' });
    const other = arfReport({ rcptTo: ['john@example.com'], original: { From: 'news@customer.example', To: 'john@example.com', 'X-Abuse-Token': token2 } });
    await send('fbl@isp.example', 'fbl@localhost', other);
    t.equal((await call('GET', '/v1/accounts/fblacct')).body.windows[0].complaints, 2, 'another recipient is a second complaint');
  });

  t.test('an SMS complaint mailed twice counts once', async (t) => {
    await seasoned('texter');
    await call('POST', '/v1/events', { events: [{ type: 'sent', account: 'texter', channel: 'sms', count: 2000 }] }, false);
    const link = gw.codec!.mintLong({ account: 'texter', campaign: 'promo', recipient: '+61400000000' });
    const msg = [
      'From: person@recipient.example',
      'To: abuse@localhost',
      'Subject: SMS spam',
      'Message-ID: <sms-retry@recipient.example>',
      '',
      `My number +61 400 000 000 got this text from DEALS: 50% off! Stop: https://u.send.example/u/${link}`,
      '',
    ].join('\n');
    const first = caseIdOf(await send('person@recipient.example', 'abuse@localhost', msg));
    const again = caseIdOf(await send('person@recipient.example', 'abuse@localhost', msg));
    t.equal(again, first);
    const a = (await call('GET', '/v1/accounts/texter')).body;
    t.equal(a.sms[0].complaints, 1, 'counted once on the sms channel');
    t.same(await accountEvents('texter'), ['recipient.suppressed']);
  });

  t.test('the form posted twice: one case, counted once; other content is another case', async (t) => {
    await seasoned('formacct');
    await call('POST', '/v1/events', { events: [{ type: 'sent', account: 'formacct', channel: 'sms', count: 2000 }] }, false);
    const link = gw.codec!.mintLong({ account: 'formacct', campaign: 'p', recipient: '+61400000001' });
    const body = { type: 'sms', phone: '0400 000 001', sender: 'DEALS', message: `Sale! https://u.send.example/u/${link}` };
    const r1 = await call('POST', '/v1/abuse-reports', body, false);
    const r2 = await call('POST', '/v1/abuse-reports', body, false);
    t.equal(r1.status, 202);
    t.equal(r2.body.caseId, r1.body.caseId);
    t.equal((await call('GET', `/v1/cases/${r1.body.caseId}`)).body.reportCount, 1);
    t.equal((await call('GET', '/v1/accounts/formacct')).body.sms[0].complaints, 1);
    const headers = 'Received: from mta1.send.example by mx.recipient.example\nFrom: deals@customer.example\nSubject: hi\nMessage-ID: <f2@send.example>\n';
    const e1 = await call('POST', '/v1/abuse-reports', { type: 'email', headers, description: 'unwanted' }, false);
    const e2 = await call('POST', '/v1/abuse-reports', { type: 'email', headers, description: 'unwanted' }, false);
    t.equal(e2.body.caseId, e1.body.caseId);
    t.same(await caseEvents(e1.body.caseId), ['case.opened']);
    const e3 = await call('POST', '/v1/abuse-reports', { type: 'email', headers, description: 'unwanted, and again' }, false);
    t.not(e3.body.caseId, e1.body.caseId);
  });

  t.test('soft bounces without the original: 6 distinct DSNs do not suppress, the 7th does', async (t) => {
    // The VERP token is bound to its recipient (rules/evidence.ts): it speaks for full@ only.
    const verp = `bounces+${gw.codec!.mintShort({ account: 'bouncer', campaign: 'c1', recipient: 'full@example.org' })}@localhost`;
    for (let i = 1; i <= 6; i++) await send('', verp, bareDsn('full@example.org', `dsn-${i}`));
    // A redelivery of one of them is not a 7th.
    await send('', verp, bareDsn('full@example.org', 'dsn-6'));
    t.equal(await gw.store.getSuppression('bouncer', 'email', 'full@example.org'), null, 'not after 6 (and a repeat)');
    await send('', verp, bareDsn('full@example.org', 'dsn-7'));
    t.equal((await gw.store.getSuppression('bouncer', 'email', 'full@example.org'))?.reason, 'soft-bounce-limit', 'the 7th distinct one suppresses');
  });
});
