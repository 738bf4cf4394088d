import t from 'tap';
import { ManualClock } from '../../src/clock.js';
import { startGateway } from '../helpers/gateway.js';
import { testRedis } from '../helpers/redis.js';
import { SmtpClient } from '../helpers/smtp.js';

const ADMIN = 'consent-admin-token-0123456789abcdef';
const DAY = 86_400_000;

function abuseReport(token: string): string {
  return [
    'From: Person <person@recipient.example>',
    'To: abuse@localhost',
    'Subject: I never signed up',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="b1"',
    '',
    '--b1',
    'Content-Type: text/plain',
    '',
    'I never signed up for this list.',
    '--b1',
    'Content-Type: message/rfc822',
    '',
    'Received: from mta1.send.example (mta1.send.example [192.0.2.10]) by mx.recipient.example',
    'From: Deals <deals@customer.example>',
    'To: person@recipient.example',
    'Subject: Deals',
    'Message-ID: <orig-c1@send.example>',
    `X-Abuse-Token: ${token}`,
    '',
    'Buy things.',
    '--b1--',
    '',
  ].join('\r\n');
}

t.test('double opt-in witnessed by us, over HTTP', async (t) => {
  const redis = await testRedis(t);
  const clock = new ManualClock(Date.parse('2026-11-01T10:00:00Z'));
  const gw = await startGateway(t, { redisUrl: redis.url, clock, overrides: { admin: { token: ADMIN }, consent: { publicUrl: 'https://optin.example.com' } } });
  const base = `http://127.0.0.1:${gw.httpPort}`;
  const json = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' };
  const request = async (body: unknown) => {
    const res = await fetch(`${base}/v1/consents/requests`, { method: 'POST', headers: json, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as { token: string; url: string; expiresAt: string; error?: { code: string; message: string } } };
  };
  const page = async (method: 'GET' | 'POST', token: string, headers: Record<string, string> = {}) => {
    const res = await fetch(`${base}/c/${token}`, { method, headers: { 'user-agent': 'Mozilla/5.0 (Test) Confirmer', ...(method === 'POST' ? { 'content-type': 'application/x-www-form-urlencoded' } : {}), ...headers }, body: method === 'POST' ? '' : undefined });
    return { status: res.status, html: await res.text(), headers: res.headers };
  };
  const outbox = async (account: string) =>
    (await gw.redis.xrange(gw.store.keys.account(account).outbox, '-', '+')).map(([, f]) => JSON.parse(f[1]) as { type: string; data: Record<string, unknown> });
  const view = async (account: string, address: string, channel = 'email') => {
    const res = await fetch(`${base}/v1/consents/${account}/${encodeURIComponent(address)}?channel=${channel}`, { headers: { authorization: `Bearer ${ADMIN}` } });
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  };
  const source = { ip: '198.51.100.7', userAgent: 'SignupBrowser/1.0', formUrl: 'https://customer.example/signup', at: '2026-11-01T09:59:00Z' };

  const r = await request({ account: 'optin', list: 'Weekly Deals', channel: 'email', address: 'person@Recipient.EXAMPLE', source });
  t.equal(r.status, 201);
  t.match(r.body.url, /^https:\/\/optin\.example\.com\/c\/c[a-z2-7][A-Za-z0-9_-]+$/);
  t.equal(r.body.url.endsWith(r.body.token), true);
  t.equal(r.body.expiresAt, '2026-11-08T10:00:00.000Z');
  t.notMatch(r.body.token, /Person|Recipient|198\.51/i, 'the token does not show the recipient or the IP');

  await t.test('GET shows the page and changes nothing', async (t) => {
    const before = (await outbox('optin')).length;
    const g = await page('GET', r.body.token);
    t.equal(g.status, 200);
    t.match(g.html, 'Confirm your subscription to Weekly Deals');
    t.match(g.html, /<form method="post" action="\/c\/c/);
    t.match(g.headers.get('content-security-policy'), /script-src 'self'/);
    t.equal((await view('optin', 'person@recipient.example')).status, 404, 'no proof recorded by a GET');
    t.equal((await outbox('optin')).length, before, 'no event');
    const de = await page('GET', r.body.token, { 'accept-language': 'de-DE,de;q=0.9' });
    t.match(de.html, '<html lang="de">');
    t.match(de.html, 'Bestätigen Sie Ihre Anmeldung für Weekly Deals');
  });

  await t.test('POST confirms: the client IP, user agent and time witnessed, consent.confirmed emitted', async (t) => {
    clock.advance(60_000);
    const p = await page('POST', r.body.token);
    t.equal(p.status, 200);
    t.match(p.html, 'your subscription is confirmed');
    const v = await view('optin', 'person@recipient.example');
    t.equal(v.status, 200);
    t.equal(v.body.witnessed, true);
    t.match(v.body.proof, {
      list: 'Weekly Deals',
      request: { ip: '198.51.100.7', userAgent: 'SignupBrowser/1.0', formUrl: 'https://customer.example/signup', at: '2026-11-01T09:59:00Z', requestedAt: '2026-11-01T10:00:00.000Z' },
      confirmation: { ip: '127.0.0.1', userAgent: 'Mozilla/5.0 (Test) Confirmer', at: '2026-11-01T10:01:00.000Z' },
    });
    t.equal(v.body.withdrawn, null);
    const ev = (await outbox('optin')).filter((e) => e.type === 'consent.confirmed');
    t.equal(ev.length, 1);
    t.match(ev[0].data, { account: 'optin', channel: 'email', list: 'Weekly Deals', ip: '127.0.0.1' });
  });

  await t.test('a second POST is idempotent', async (t) => {
    clock.advance(60_000);
    const p = await page('POST', r.body.token);
    t.equal(p.status, 200);
    t.match(p.html, 'already confirmed');
    t.equal((await outbox('optin')).filter((e) => e.type === 'consent.confirmed').length, 1, 'no second event');
    t.equal((await view('optin', 'person@recipient.example')).body.proof.confirmation.at, '2026-11-01T10:01:00.000Z', 'the first confirmation stays');
  });

  await t.test('a claim posted later does not replace the witnessed proof', async (t) => {
    const c = await fetch(`${base}/v1/consents`, { method: 'POST', headers: json, body: JSON.stringify({ account: 'optin', address: 'person@recipient.example', ip: '203.0.113.9', signedUpAt: '2026-11-01T00:00:00Z' }) });
    t.equal(c.status, 201);
    const v = await view('optin', 'person@recipient.example');
    t.equal(v.body.witnessed, true);
    t.equal(v.body.proof.request.ip, '198.51.100.7');
    t.equal(v.body.claim.ip, '203.0.113.9', 'the claim is kept beside it');
  });

  await t.test('the case of a later complaint by that recipient shows the witnessed proof', async (t) => {
    const smtp = await SmtpClient.connect(gw.smtpPort);
    t.teardown(() => smtp.quit());
    const sent = await smtp.send('person@recipient.example', ['abuse@localhost'], abuseReport(gw.codec!.mintLong({ account: 'optin', campaign: 'deals', recipient: 'person@recipient.example' })));
    t.equal(sent.code, 250);
    const caseId = /case_[0-9a-z]{26}/.exec(sent.text)![0];
    const kase = (await (await fetch(`${base}/v1/cases/${caseId}`, { headers: { authorization: `Bearer ${ADMIN}` } })).json()) as { consent: Record<string, any> };
    t.equal(kase.consent.witnessed, true);
    t.match(kase.consent, { confirmation: { ip: '127.0.0.1', at: '2026-11-01T10:01:00.000Z' }, request: { ip: '198.51.100.7' } });
  });

  await t.test('an unsubscribe afterwards marks the consent withdrawn and keeps the proof', async (t) => {
    const u = gw.codec!.mintLong({ account: 'optin', campaign: 'deals', recipient: 'person@recipient.example' });
    const res = await fetch(`${base}/u/${u}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' }, body: 'List-Unsubscribe=One-Click' });
    t.equal(res.status, 200);
    const v = await view('optin', 'person@recipient.example');
    t.equal(v.body.witnessed, true);
    t.match(v.body.withdrawn, { reason: 'unsubscribe' });
    t.ok(v.body.proof.confirmation, 'the proof stays: it is evidence');
  });

  await t.test('expired and altered links are refused with a clear page, and record nothing', async (t) => {
    const old = await request({ account: 'optin', list: 'Old', address: 'late@recipient.example', source });
    clock.advance(7 * DAY + 1000);
    const g = await page('GET', old.body.token);
    t.equal(g.status, 410);
    t.match(g.html, 'has expired');
    t.equal((await page('POST', old.body.token)).status, 410);
    t.equal((await view('optin', 'late@recipient.example')).status, 404);
    const fresh = await request({ account: 'optin', address: 'alter@recipient.example', source });
    const tok = fresh.body.token;
    const i = 20;
    const altered = tok.slice(0, i) + (tok[i] === 'A' ? 'B' : 'A') + tok.slice(i + 1);
    const a = await page('POST', altered);
    t.equal(a.status, 404);
    t.match(a.html, 'not valid');
    t.equal((await page('GET', 'cb' + 'x'.repeat(40))).status, 404);
    t.equal((await page('GET', 'c' + 'A'.repeat(2047))).status, 404, 'a long token gets the page, not 414');
    t.equal((await view('optin', 'alter@recipient.example')).status, 404);
    // An attribution token is not a consent token.
    t.equal((await page('POST', gw.codec!.mintLong({ account: 'optin', campaign: 'x', recipient: 'alter@recipient.example' }))).status, 404);
  });

  await t.test('SMS: the same flow with a number, normalised', async (t) => {
    const s = await request({ account: 'texter', list: 'Alerts', channel: 'sms', phone: '+44 7700 900123', source });
    t.equal(s.status, 201);
    t.equal((await page('POST', s.body.token)).status, 200);
    const v = await view('texter', '+447700900123', 'sms');
    t.equal(v.body.witnessed, true);
    t.equal(v.body.address, '+447700900123');
  });

  await t.test('bad requests get a clear 400; no token, no request', async (t) => {
    for (const body of [
      { account: 'optin', address: 'not-an-address', source },
      { account: 'optin', channel: 'sms', phone: '12', source },
      { account: 'optin', channel: 'sms', address: 'a@b.example', source },
      { account: 'optin', address: 'a@b.example', source: { ip: 'nope' } },
      { account: 'optin', address: 'a@b.example' },
      { account: 'optin', address: 'a@b.example', source: { ...source, formUrl: 'javascript:alert(1)' } },
      { account: 'bad id!', address: 'a@b.example', source },
    ]) {
      const res = await request(body);
      t.equal(res.status, 400, JSON.stringify(body));
      t.match(res.body.error?.code, /^(VALIDATION|BAD_REQUEST)$/);
    }
    const anon = await fetch(`${base}/v1/consents/requests`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ account: 'optin', address: 'a@b.example', source }) });
    t.equal(anon.status, 401);
    t.equal((await fetch(`${base}/v1/consents/optin/person%40recipient.example`)).status, 401);
  });

  await t.test('the page escapes the list name', async (t) => {
    const x = await request({ account: 'optin', list: '<script>alert(1)</script>', address: 'xss@recipient.example', source });
    const g = await page('GET', x.body.token);
    t.notMatch(g.html, '<script>alert(1)');
    t.match(g.html, '&lt;script&gt;alert(1)&lt;/script&gt;');
  });
});

t.test('without a token secret, confirmation requests are 503 NOT_CONFIGURED', async (t) => {
  const redis = await testRedis(t);
  const gw = await startGateway(t, { redisUrl: redis.url, overrides: { admin: { token: ADMIN }, tokens: { secret: null } } });
  const res = await fetch(`http://127.0.0.1:${gw.httpPort}/v1/consents/requests`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ account: 'a', address: 'a@b.example', source: { ip: '198.51.100.1' } }),
  });
  t.equal(res.status, 503);
  t.equal(((await res.json()) as { error: { code: string } }).error.code, 'NOT_CONFIGURED');
});

t.test('preflight: a list mostly without witnessed consent goes to review, for the accounts the rule applies to', async (t) => {
  const redis = await testRedis(t);
  const gw = await startGateway(t, { redisUrl: redis.url, overrides: { admin: { token: ADMIN }, preflight: { reviewUnwitnessedShare: 0.4 } } });
  const base = `http://127.0.0.1:${gw.httpPort}`;
  const headers = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' };
  const post = (path: string, body: unknown, method = 'POST') => fetch(base + path, { method, headers, body: JSON.stringify(body) }).then(async (r) => ({ status: r.status, body: (await r.json()) as any }));
  const link = await post('/v1/consents/requests', { account: 'strict', address: 'yes@recipient.example', source: { ip: '198.51.100.7' } });
  t.equal((await fetch(`${base}/c/${link.body.token}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '' })).status, 200);
  const list = { account: 'strict', campaign: 'c1', recipients: ['yes@recipient.example', 'no1@recipient.example', 'no2@recipient.example'] };
  t.equal((await post('/v1/campaigns/preflight', list)).body.decision, 'send', 'the rule applies to no pool and the account did not opt in');
  t.equal((await post('/v1/accounts/strict', { requireWitnessedConsent: true }, 'PATCH')).body.requireWitnessedConsent, true);
  const pf = await post('/v1/campaigns/preflight', list);
  t.equal(pf.body.decision, 'review');
  t.same(pf.body.reasons.map((r: { code: string }) => r.code), ['unwitnessed-consent']);
  t.match(pf.body.reasons[0].message, /66\.7 % of this list \(2 addresses\)/);
  const fewer = await post('/v1/campaigns/preflight', { ...list, recipients: ['yes@recipient.example', 'no1@recipient.example'] });
  t.equal(fewer.body.decision, 'review', '50 % > 40 %');
  const mostly = await post('/v1/campaigns/preflight', { ...list, recipients: ['yes@recipient.example'] });
  t.equal(mostly.body.decision, 'send');
});
