import t from 'tap';
import { ManualClock } from '../../src/clock.js';
import type { Gateway } from '../../src/gateway.js';
import { startGateway } from '../helpers/gateway.js';
import { abuseMail } from '../helpers/mail.js';
import { testRedis } from '../helpers/redis.js';
import { SmtpClient } from '../helpers/smtp.js';
import { apiClient } from '../helpers/http.js';

const ADMIN = 'desk-admin-token-padded-to-32-chars-xxxxxxx';
const DAY = 86_400_000;

t.test('abuse desk end to end', async (t) => {
  const redis = await testRedis(t);
  const clock = new ManualClock(Date.parse('2026-07-01T09:00:00Z'));
  const gw = await startGateway(t, {
    redisUrl: redis.url,
    clock,
    overrides: { admin: { token: ADMIN }, form: { ratePerMinute: 6 }, phone: { regions: ['AU'] }, investigation: { sendingDomains: ['send.example'] } },
  });
  const base = `http://127.0.0.1:${gw.httpPort}`;
  const api = apiClient(base, ADMIN);
  const call = (method: string, path: string, body?: unknown, auth = true, headers: Record<string, string> = {}) => api(method, path, body, { token: auth ? ADMIN : null, headers });
  const smtp = await SmtpClient.connect(gw.smtpPort);
  t.teardown(() => smtp.quit());
  const mail = async (msg: string) => {
    const r = await smtp.send('person@recipient.example', ['abuse@localhost'], msg);
    t.equal(r.code, 250);
    const id = /<(case_[0-9a-z]{26})>/.exec(r.text)?.[1];
    t.ok(id, `the reply names the case: ${r.text}`);
    return id!;
  };
  // An old account with a clean record: reports about it are reviewed, not suspended.
  const seasoned = async (account: string) => {
    await call('PATCH', `/v1/accounts/${account}`, { createdAt: new Date(clock.now() - 365 * DAY).toISOString() });
  };
  const status = async (account: string) => (await call('GET', `/v1/accounts/${account}`)).body.status;

  t.test('abuse@ with the original attached opens a case; the same campaign joins it', async (t) => {
    await seasoned('acme');
    const token = gw.codec!.mintLong({ account: 'acme', campaign: 'deals-7', recipient: 'person@recipient.example' });
    const id = await mail(abuseMail({ token }));
    const c = await call('GET', `/v1/cases/${id}`);
    t.equal(c.status, 200);
    t.match(c.body, { id, status: 'open', channel: 'email', account: 'acme', campaign: 'deals-7', reportCount: 1, suspicious: [] });
    t.equal(c.body.reports[0].tokenState, 'valid');
    t.match(c.body.reports[0].headers, { messageId: '<orig-1@send.example>', subject: 'Amazing deals' });
    t.equal(await status('acme'), 'active', 'a clean report does not suspend');
    // Another person's report (different content; the same message again would be a redelivery).
    const again = await mail(abuseMail({ token, body: 'Another person: I never signed up either.' }));
    t.equal(again, id, 'joins the open case of the campaign');
    t.equal((await call('GET', `/v1/cases/${id}`)).body.reportCount, 2);
    const events = (await gw.store.redis.xrange(gw.store.keys.cases.outbox, '-', '+')).map(([, f]) => JSON.parse(f[1]));
    t.same(events.filter((e) => e.data.caseId === id).map((e) => e.type), ['case.opened', 'case.updated']);
  });

  t.test('a resolved case stops collecting; the next report opens a new one', async (t) => {
    const token = gw.codec!.mintLong({ account: 'acme', campaign: 'deals-8', recipient: 'person@recipient.example' });
    const first = await mail(abuseMail({ token }));
    t.equal((await call('PATCH', `/v1/cases/${first}`, { status: 'resolved', note: 'customer removed the list' })).status, 400, 'resolving needs an outcome');
    t.equal((await call('PATCH', `/v1/cases/${first}`, { status: 'investigating', outcome: 'confirmed' })).status, 400, 'an outcome only with resolved');
    t.equal((await call('PATCH', `/v1/cases/${first}`, { status: 'resolved', outcome: 'maybe' })).status, 400);
    const p = await call('PATCH', `/v1/cases/${first}`, { status: 'resolved', outcome: 'unfounded', note: 'customer removed the list' });
    t.equal(p.status, 200);
    t.equal(p.body.status, 'resolved');
    t.equal(p.body.outcome, 'unfounded');
    t.equal(p.body.notes[0].text, 'customer removed the list');
    t.equal(p.body.history[0].to, 'resolved');
    const second = await mail(abuseMail({ token, body: 'It started again after you said it was fixed.' }));
    t.not(second, first);
    const audit = await gw.store.readAudit(5);
    t.ok(audit.some((a) => a.action === 'case.update' && a.caseId === first && a.status === 'resolved' && a.outcome === 'unfounded' && a.by === 'admin'), 'audited');
    t.equal((await call('PATCH', `/v1/cases/${first}`, { status: 'closed' })).status, 400);
    t.equal((await call('PATCH', `/v1/cases/${first}`, { status: 'open' }, false)).status, 401);
  });

  t.test('investigation: alarming words alone open a high-priority case; our own data plus a token suspends', async (t) => {
    // phishing language: one anonymous report suspends no one (issue 14)
    await seasoned('phish');
    const t1 = gw.codec!.mintLong({ account: 'phish', campaign: 'c1', recipient: 'person@recipient.example' });
    const id1 = await mail(abuseMail({ token: t1, body: 'This email asks me to verify your account and enter my password at a bank login page.' }));
    t.equal(await status('phish'), 'active');
    const c1 = (await call('GET', `/v1/cases/${id1}`)).body;
    t.equal(c1.status, 'investigating');
    t.equal(c1.priority, 'high');
    t.same(c1.suspicious, ['phishing-language']);
    const susp = (await gw.store.outboxEvents(gw.store.keys.partitionOf('phish'))).filter((e) => e.type === 'account.suspended' && e.data.account === 'phish');
    t.equal(susp.length, 0);

    // a young account, one report: not enough without independent reporters
    const t2 = gw.codec!.mintLong({ account: 'newbie', campaign: 'c1', recipient: 'person@recipient.example' });
    await call('PATCH', '/v1/accounts/newbie', { createdAt: new Date(clock.now() - 2 * DAY).toISOString() });
    await mail(abuseMail({ token: t2 }));
    t.equal(await status('newbie'), 'active');

    // an account that is already warned
    await seasoned('warned1');
    await call('POST', '/v1/events', { events: [{ type: 'sent', account: 'warned1', count: 1000 }] }, true);
    await gw.store.applyDecision({ account: 'warned1', action: 'warn', now: clock.now(), cooldownMs: 0, suspendAfter: 3, reason: 'complaint-rate', channel: 'email', counter: 'c', windowHours: 24, warnEventId: 'evt_w', suspendEventId: 'evt_s', data: { account: 'warned1' } });
    t.equal(await status('warned1'), 'warned');
    await mail(abuseMail({ token: gw.codec!.mintLong({ account: 'warned1', campaign: 'c1', recipient: 'person@recipient.example' }) }));
    t.equal(await status('warned1'), 'suspended');
    const acct = (await call('GET', '/v1/accounts/warned1')).body;
    t.match(acct, { suspendReason: 'investigation', suspendRule: 'own-data-and-token' });
    t.equal(acct.suspendEvidence.length, 1, 'the report id it rests on');

    // a complaint rate above half the warn threshold (0.05 % > 0.04 %), below warning
    await seasoned('risky');
    await call('POST', '/v1/events', { events: [{ type: 'sent', account: 'risky', count: 10_000 }] }, true);
    for (let i = 0; i < 5; i++) await gw.store.recordMessage({ record: null, account: 'risky', channel: 'email', campaign: 'c1', sample: null, recipients: [{ address: null, counter: 'c', suppression: null, event: null, fingerprint: null }], decision: null, now: clock.now() });
    t.equal(await status('risky'), 'active');
    await mail(abuseMail({ token: gw.codec!.mintLong({ account: 'risky', campaign: 'c1', recipient: 'person@recipient.example' }) }));
    t.equal(await status('risky'), 'suspended');
  });

  t.test('confirmed-cases: an earlier confirmed case plus a verified token suspends; unfounded does not; resolving twice counts once', async (t) => {
    const caseEvents = async (id: string) => (await gw.store.redis.xrange(gw.store.keys.cases.outbox, '-', '+')).map(([, f]) => JSON.parse(f[1])).filter((e) => e.data.caseId === id);
    const resolveEarlier = async (account: string, outcome: 'confirmed' | 'unfounded') => {
      await seasoned(account);
      const id = await mail(abuseMail({ token: gw.codec!.mintLong({ account, campaign: 'old', recipient: 'person@recipient.example' }), body: `Spam from ${account}, campaign old.` }));
      t.equal(await status(account), 'active', 'the first report suspends no one');
      for (let i = 0; i < 2; i++) {
        const r = await call('PATCH', `/v1/cases/${id}`, { status: 'resolved', outcome, note: `${outcome} after review` });
        t.equal(r.status, 200);
        t.equal(r.body.outcome, outcome);
      }
      return id;
    };
    const earlier = await resolveEarlier('repeat', 'confirmed');
    t.same(await gw.store.confirmedCases('repeat'), [earlier], 'resolved twice, counted once');
    const updated = (await caseEvents(earlier)).filter((e) => e.type === 'case.updated');
    t.match(updated[0].data, { status: 'resolved', outcome: 'confirmed', change: 'status,outcome,note', by: 'admin' }, 'case.updated carries the outcome');
    t.match(updated[1].data, { outcome: 'confirmed', change: 'note' }, 'the second resolve changes only the note');

    const id = await mail(abuseMail({ token: gw.codec!.mintLong({ account: 'repeat', campaign: 'new', recipient: 'person@recipient.example' }), body: 'Same customer, new campaign.' }));
    t.equal(await status('repeat'), 'suspended', 'confirmed abuse before, a verified report now: suspended while investigating');
    const acct = (await call('GET', '/v1/accounts/repeat')).body;
    t.match(acct, { suspendReason: 'investigation', suspendRule: 'own-data-and-token' });
    const c = (await call('GET', `/v1/cases/${id}`)).body;
    t.same(c.suspicious, ['confirmed-cases']);
    t.same(acct.suspendEvidence, [c.reports[0].reportId, earlier], 'the evidence: this report and the confirmed case');

    await resolveEarlier('cleared', 'unfounded');
    t.same(await gw.store.confirmedCases('cleared'), []);
    await mail(abuseMail({ token: gw.codec!.mintLong({ account: 'cleared', campaign: 'new', recipient: 'person@recipient.example' }), body: 'Same customer, new campaign.' }));
    t.equal(await status('cleared'), 'active', 'an unfounded case is no doubt: the same report suspends no one');

    // Reopening a confirmed case takes its confirmation back.
    const reopened = await resolveEarlier('reopened', 'confirmed');
    t.equal((await call('PATCH', `/v1/cases/${reopened}`, { status: 'investigating' })).body.outcome, undefined);
    t.same(await gw.store.confirmedCases('reopened'), []);
  });

  t.test('a forged token naming our sending domain: investigating, but nobody is suspended', async (t) => {
    await seasoned('victim');
    const real = gw.codec!.mintLong({ account: 'victim', campaign: 'c1', recipient: 'person@recipient.example' });
    const forged = real.slice(0, 10) + (real[10] === 'A' ? 'B' : 'A') + real.slice(11);
    const id = await mail(abuseMail({ token: forged }));
    const c = (await call('GET', `/v1/cases/${id}`)).body;
    t.equal(c.status, 'investigating');
    t.same(c.suspicious, ['token-missing-or-forged']);
    t.equal(c.reports[0].tokenState, 'forged');
    t.equal(await status('victim'), 'active');
  });

  t.test('the web form: email needs full headers, sms a mobile number', async (t) => {
    const noHeaders = await call('POST', '/v1/abuse-reports', { type: 'email', headers: 'Subject: spam\n', description: 'spam' }, false);
    t.equal(noHeaders.status, 422);
    t.equal(noHeaders.body.error.code, 'UNPROCESSABLE');
    t.match(noHeaders.body.error.message, /Show original/);
    await seasoned('formacct');
    const token = gw.codec!.mintLong({ account: 'formacct', campaign: 'c5', recipient: 'person@recipient.example' });
    const headers = `Received: from mta1.send.example by mx.recipient.example\r\nFrom: deals@customer.example\r\nSubject: hi\r\nMessage-ID: <f1@send.example>\r\nX-Abuse-Token: ${token}\r\n`;
    const ok = await call('POST', '/v1/abuse-reports', { type: 'email', headers, description: 'unwanted', reporterEmail: 'me@recipient.example' }, false);
    t.equal(ok.status, 202);
    t.match(ok.body, { caseId: /^case_/, message: /Thank you/ });
    const c = (await call('GET', `/v1/cases/${ok.body.caseId}`)).body;
    t.match(c, { channel: 'form', account: 'formacct', campaign: 'c5', reporter: 'me@recipient.example' });

    const form = new URLSearchParams({ type: 'sms', phone: '0400 000 000' }).toString();
    const badPhone = await call('POST', '/v1/abuse-reports', { type: 'sms', phone: '02 9999 9999' }, false);
    t.equal(badPhone.status, 422, 'a landline is not an SMS recipient');
    t.match(badPhone.body.error.message, /mobile/);
    t.equal((await call('POST', '/v1/abuse-reports', { type: 'sms' }, false)).status, 422);
    t.equal((await call('POST', '/v1/abuse-reports', form, false, { 'content-type': 'application/x-www-form-urlencoded' })).status, 202, 'urlencoded works');
    t.equal((await call('POST', '/v1/abuse-reports', { type: 'fax' }, false)).status, 400);
    const limited = await call('POST', '/v1/abuse-reports', { type: 'sms', phone: '0400 000 001' }, false);
    t.equal(limited.status, 429, 'rate limited per client IP (6 a minute, counted before the body is read)');
    t.equal(limited.body.error.code, 'RATE_LIMITED');
    clock.advance(61_000);
  });

  t.test('an SMS complaint suppresses the number and counts on the sms channel', async (t) => {
    await seasoned('texter');
    await call('POST', '/v1/events', { events: [{ type: 'sent', account: 'texter', channel: 'sms', count: 2000 }] }, true);
    const link = gw.codec!.mintLong({ account: 'texter', campaign: 'promo', recipient: '+61400000000' });
    const r = await call('POST', '/v1/abuse-reports', { type: 'sms', phone: '0400 000 000', sender: 'DEALS', message: `50% off! Stop: https://u.send.example/u/${link}` }, false);
    t.equal(r.status, 202);
    const s = await call('GET', '/v1/suppressions/texter/+61400000000?channel=sms', undefined, true);
    t.equal(s.status, 200);
    t.match(s.body, { reason: 'complaint', source: 'sms' });
    const a = (await call('GET', '/v1/accounts/texter')).body;
    t.equal(a.sms[0].sent, 2000);
    t.equal(a.sms[0].complaints, 1);
    t.equal(a.windows[0].complaints, 0, 'not counted against email');
  });

  t.test('consent proof shows in the case of its recipient', async (t) => {
    await seasoned('optin');
    const c = await call('POST', '/v1/consents', { account: 'optin', address: 'Person@Recipient.example', ip: '198.51.100.7', signedUpAt: '2026-01-02T03:04:05Z', confirmedAt: '2026-01-02T03:10:00Z', source: 'https://customer.example/signup' }, true);
    t.equal(c.status, 201);
    t.equal((await call('POST', '/v1/consents', { account: 'optin', address: 'x', ip: '1.2.3.4', signedUpAt: '2026-01-02T03:04:05Z' }, true)).status, 400);
    t.equal((await call('POST', '/v1/consents', { account: 'optin', address: 'a@b.example', ip: 'not-an-ip', signedUpAt: '2026-01-02T03:04:05Z' }, true)).status, 400);
    const id = await mail(abuseMail({ token: gw.codec!.mintLong({ account: 'optin', campaign: 'c1', recipient: 'Person@recipient.example' }) }));
    const kase = (await call('GET', `/v1/cases/${id}`)).body;
    t.match(kase.consent, { ip: '198.51.100.7', signedUpAt: '2026-01-02T03:04:05Z', source: 'https://customer.example/signup' });
  });

  t.test('listing cases filters and pages', async (t) => {
    const all = await call('GET', '/v1/cases?limit=200');
    t.equal(all.status, 200);
    t.ok(all.body.items.length >= 8);
    const acme = await call('GET', '/v1/cases?account=acme');
    t.ok(acme.body.items.length >= 2 && acme.body.items.every((c: any) => c.account === 'acme'));
    const inv = await call('GET', '/v1/cases?status=investigating');
    t.ok(inv.body.items.length >= 1 && inv.body.items.every((c: any) => c.status === 'investigating'));
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await call('GET', `/v1/cases?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      seen.push(...page.body.items.map((c: any) => c.id));
      cursor = page.body.next;
    } while (cursor);
    t.equal(new Set(seen).size, all.body.items.length, 'pages cover every case once');
    t.equal((await call('GET', '/v1/cases', undefined, false)).status, 401);
  });
});

export type { Gateway };
