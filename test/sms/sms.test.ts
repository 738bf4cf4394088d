import t from 'tap';
import { ManualClock } from '../../src/clock.js';
import { registry } from '../../src/metrics.js';
import { startGateway } from '../helpers/gateway.js';
import { testRedis } from '../helpers/redis.js';
import { SmtpClient } from '../helpers/smtp.js';
import { apiClient } from '../helpers/http.js';

const ADMIN = 'sms-admin-token-0123456789abcdefghijklmnop';
const DAY = 86_400_000;
const NUMBER = '+447700900123';

t.test('SMS: sends index, tracing by number, inbound STOP', async (t) => {
  const redis = await testRedis(t);
  const clock = new ManualClock(Date.parse('2026-11-27T09:00:00Z'));
  const gw = await startGateway(t, { redisUrl: redis.url, clock, overrides: { admin: { token: ADMIN }, form: { ratePerMinute: 0 } } });
  const base = `http://127.0.0.1:${gw.httpPort}`;
  const api = apiClient(base, ADMIN);
  const call = (method: string, path: string, body?: unknown, auth = true) => api(method, path, body, auth ? {} : { token: null });
  const seasoned = (account: string) => call('PATCH', `/v1/accounts/${account}`, { createdAt: new Date(clock.now() - 365 * DAY).toISOString() });
  const sent = (items: Array<Record<string, unknown>>) => call('POST', '/v1/events', { events: items.map((i) => ({ type: 'sent', channel: 'sms', ...i })) }, true);
  const suppressed = async (account: string, number: string) => (await call('GET', `/v1/suppressions/${account}/${encodeURIComponent(number)}?channel=sms`)).status === 200;
  const smtp = await SmtpClient.connect(gw.smtpPort);
  t.teardown(() => smtp.quit());

  for (const a of ['promoter', 'other', 'shared1', 'shared2']) await seasoned(a);
  // promoter texted the number from PROMO two days ago; other texted a different number.
  clock.advance(-2 * DAY);
  t.equal((await sent([{ account: 'promoter', campaign: 'black-friday', recipient: NUMBER, sender: 'PROMO' }, { account: 'other', campaign: 'x', recipient: '+447700900999', sender: 'OTHER' }])).status, 202);
  clock.advance(2 * DAY);

  t.test('the events route takes sender and refuses a bad one', async (t) => {
    t.equal((await sent([{ account: 'a', recipient: NUMBER, sender: 'A|B' }])).status, 400, '| is the index separator');
    t.equal((await sent([{ account: 'a', recipient: 'not a number', sender: 'X' }])).status, 400);
    const a = (await call('GET', '/v1/accounts/promoter')).body;
    t.equal(a.sms.at(-1).sent, 1, 'an indexed send still counts as sent (two days ago: the widest window)');
  });

  t.test('the JSON route: "07700 900123" from PROMO is traced to the account that texted it', async (t) => {
    const r = await call('POST', '/v1/abuse-reports', { type: 'sms', phone: '07700 900123', sender: 'PROMO', message: 'Black Friday! 50% off' }, false);
    t.equal(r.status, 202);
    const c = (await call('GET', `/v1/cases/${r.body.caseId}`)).body;
    t.match(c, { channel: 'sms', account: 'promoter', campaign: 'black-friday', recipient: NUMBER, attribution: { via: 'number' } });
    t.equal(c.attribution.candidates.length, 1);
    t.ok(await suppressed('promoter', NUMBER), 'the number is suppressed for the account');
    t.equal((await call('GET', '/v1/accounts/promoter')).body.sms[0].complaints, 1, 'counted toward its SMS complaints');
    t.notOk(await suppressed('other', NUMBER));
  });

  t.test('abuse@ prose: an SMS case with the number and the sender id, traced', async (t) => {
    const msg = [
      'From: Person <person@recipient.example>',
      'To: abuse@localhost',
      'Subject: Unwanted texts',
      '',
      'Hello, I keep getting marketing texts on my mobile 07700 900123 from "PROMO" although I never signed up.',
      'The last one said: Black Friday! 50% off. Reply STOP to opt out',
      '',
    ].join('\r\n');
    const r = await smtp.send('person@recipient.example', ['abuse@localhost'], msg);
    t.equal(r.code, 250);
    const id = /<(case_[0-9a-z]{26})>/.exec(r.text)?.[1];
    t.ok(id, r.text);
    const c = (await call('GET', `/v1/cases/${id}`)).body;
    t.match(c, { channel: 'sms', account: 'promoter', campaign: 'black-friday', attribution: { via: 'number' } });
    t.same(c.reports.at(-1).phones, [NUMBER]);
    t.equal(c.reports.at(-1).sender, 'PROMO');
  });

  t.test('several accounts texted the number: all are listed, none is charged; the sender narrows', async (t) => {
    const n = '+447700900555';
    await sent([{ account: 'shared1', campaign: 's1', recipient: n, sender: 'DEALS' }, { account: 'shared2', campaign: 's2', recipient: n, sender: 'NEWS' }]);
    const r = await call('POST', '/v1/abuse-reports', { type: 'sms', phone: '07700 900555' }, false);
    const c = (await call('GET', `/v1/cases/${r.body.caseId}`)).body;
    t.equal(c.account, null, 'no account charged');
    t.equal(c.attribution.via, 'none');
    t.same(c.attribution.candidates.map((x: { account: string }) => x.account).sort(), ['shared1', 'shared2']);
    t.notOk(await suppressed('shared1', n));
    t.notOk(await suppressed('shared2', n));
    const narrowed = await call('POST', '/v1/abuse-reports', { type: 'sms', phone: '+44 7700 900555', sender: 'news' }, false);
    t.match((await call('GET', `/v1/cases/${narrowed.body.caseId}`)).body, { account: 'shared2', campaign: 's2', attribution: { via: 'number' } });
    const unknownSender = await call('POST', '/v1/abuse-reports', { type: 'sms', phone: '07700 900999', sender: 'SOMEONE' }, false);
    const u = (await call('GET', `/v1/cases/${unknownSender.body.caseId}`)).body;
    t.equal(u.account, null, 'a sender no send matches confirms no one');
    t.equal(u.attribution.candidates[0].senderMatched, false);
  });

  t.test('a send older than sms.traceDays no longer traces', async (t) => {
    const n = '+447700900777';
    clock.advance(-31 * DAY);
    await sent([{ account: 'other', campaign: 'old', recipient: n, sender: 'OLD', at: new Date(clock.now()).toISOString() }]);
    clock.advance(31 * DAY);
    const r = await call('POST', '/v1/abuse-reports', { type: 'sms', phone: n, sender: 'OLD' }, false);
    t.equal((await call('GET', `/v1/cases/${r.body.caseId}`)).body.account, null);
  });

  t.test('inbound STOP suppresses the number for the account that texted it from there only', async (t) => {
    const n = '+447700900321';
    await sent([{ account: 'shared1', campaign: 'a', recipient: n, sender: 'DEALS' }, { account: 'shared2', campaign: 'b', recipient: n, sender: '+447700900000' }]);
    t.equal((await call('POST', '/v1/sms/inbound', { from: n, to: 'DEALS', text: 'STOP' }, false)).status, 401, 'needs the platform token');
    const r = await call('POST', '/v1/sms/inbound', { from: n, to: 'DEALS', text: ' Stop! ' });
    t.equal(r.status, 200);
    t.match(r.body, { keyword: 'stop', from: n, accounts: ['shared1'], changed: ['shared1'] });
    t.ok(await suppressed('shared1', n));
    t.notOk(await suppressed('shared2', n), 'the other account texted it from another sender');
    const s = (await call('GET', `/v1/suppressions/shared1/${encodeURIComponent(n)}?channel=sms`)).body;
    t.match(s, { reason: 'sms-stop', source: 'sms-inbound' });
    const ev = (await gw.store.outboxEvents(gw.store.keys.partitionOf('shared1'), 1000)).filter((e) => e.type === 'recipient.suppressed' && e.data.address === n);
    t.equal(ev.length, 1);
    t.equal(ev[0].data.reason, 'sms-stop');

    // German, French, Spanish forms; a sender number written differently.
    for (const word of ['STOPP', 'arrêt', 'Baja', 'afmelden', 'SAIR', 'basta']) {
      t.equal((await call('POST', '/v1/sms/inbound', { from: n, to: '07700 900000', text: word })).body.keyword, 'stop', word);
    }
    t.ok(await suppressed('shared2', n), 'STOPP to the number it texted from');
    t.equal((await call('POST', '/v1/sms/inbound', { from: n, to: 'DEALS', text: 'please stop texting me, who is this?' })).body.keyword, 'other', 'only the whole text is a keyword');

    // START lifts the STOP; a complaint's suppression stays.
    t.match((await call('POST', '/v1/sms/inbound', { from: n, to: 'DEALS', text: 'START' })).body, { keyword: 'start', changed: ['shared1'] });
    t.notOk(await suppressed('shared1', n));
    t.match((await call('POST', '/v1/sms/inbound', { from: NUMBER, to: 'PROMO', text: 'unstop' })).body, { keyword: 'start', accounts: ['promoter'], changed: [] });
    t.ok(await suppressed('promoter', NUMBER), 'a complaint suppression is not lifted by START');

    const help = await call('POST', '/v1/sms/inbound', { from: n, to: 'DEALS', text: 'HELP' });
    t.match(help.body, { keyword: 'help', accounts: [] });
    t.match(await registry.getSingleMetricAsString('abusegate_sms_inbound_total'), /keyword="help"\} 1/);
    t.equal((await call('POST', '/v1/sms/inbound', { from: 'nonsense', to: 'DEALS', text: 'STOP' })).status, 400);
    t.equal((await call('POST', '/v1/sms/inbound', { from: n, to: 'DEALS' })).status, 400);
  });
});
