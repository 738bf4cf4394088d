/**
 * Issue 14, "Trust": every row of the table, tried as an attacker would through the
 * real SMTP and HTTP listeners, and shown stopped (docs/security.md lists each row, the
 * rule that stops it and the test here that proves it).
 */
import t from 'tap';
import { ManualClock } from '../../src/clock.js';
import { registry } from '../../src/metrics.js';
import { PLATFORM_AUTH, startGateway } from '../helpers/gateway.js';
import { arfReport, dsn } from '../helpers/mail.js';
import { testRedis } from '../helpers/redis.js';
import { SmtpClient } from '../helpers/smtp.js';
import { apiClient } from '../helpers/http.js';

const ADMIN = 'trust-admin-token-0123456789abcdefghij';
const DAY = 86_400_000;

async function counter(name: string, labels: Record<string, string>): Promise<number> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
  const v = m?.values.find((x) => Object.entries(labels).every(([k, l]) => x.labels[k] === l));
  return Number(v?.value ?? 0);
}

t.test('issue 14: what anyone can send', async (t) => {
  const redis = await testRedis(t);
  const clock = new ManualClock(Date.parse('2026-08-01T09:00:00Z'));
  const gw = await startGateway(t, {
    redisUrl: redis.url,
    clock,
    overrides: {
      admin: { token: ADMIN },
      // Nothing is a trusted reporter here unless a test says so: the attacker is anyone.
      trustedReporters: [],
      // The test client plays several networks through X-Forwarded-For from loopback.
      http: { trustedProxies: ['127.0.0.1'] },
      form: { ratePerMinute: 100 },
    },
  });
  const base = `http://127.0.0.1:${gw.httpPort}`;
  const api = apiClient(base);
  const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => api(method, path, body, { headers });
  const admin = { authorization: `Bearer ${ADMIN}` };
  const account = async (a: string) => (await call('GET', `/v1/accounts/${a}`, undefined, admin)).body;
  const seasoned = (a: string) => call('PATCH', `/v1/accounts/${a}`, { createdAt: new Date(clock.now() - 365 * DAY).toISOString() }, admin);
  const smtp = await SmtpClient.connect(gw.smtpPort);
  t.teardown(() => smtp.quit());

  t.test('row 1: a DSN naming 150 strangers, sent to the VERP address of one mail, suppresses and counts only that mail\'s recipient', async (t) => {
    const me = 'attacker@recipient.example';
    t.equal((await call('POST', '/v1/events', { events: [{ type: 'sent', account: 'shop', campaign: 'c1', count: 1000 }] }, PLATFORM_AUTH)).status, 202);
    const verp = `bounces+${gw.codec!.mintShort({ account: 'shop', campaign: 'c1', recipient: me })}@localhost`;
    const strangers = Array.from({ length: 150 }, (_, i) => `stranger${i}@victim.example`);
    // The DSN helper names one Final-Recipient; add 150 more per-recipient blocks.
    const blocks = strangers.map((s) => `Final-Recipient: rfc822; ${s}\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 User unknown\n`).join('\n');
    const msg = dsn({ recipient: me, status: '5.1.1' }).replace('Final-Recipient:', blocks + '\nFinal-Recipient:');
    const before = await counter('abusegate_bounce_recipients_ignored_total', { why: 'other-recipient' });
    const r = await smtp.send('', [verp], msg);
    t.equal(r.code, 250);
    for (const s of strangers.slice(0, 20)) t.equal(await gw.store.getSuppression('shop', 'email', s), null, `${s} not suppressed`);
    t.equal((await gw.store.getSuppression('shop', 'email', me))?.reason, 'hard-bounce', 'the token\'s own recipient is');
    t.equal((await counter('abusegate_bounce_recipients_ignored_total', { why: 'other-recipient' })) - before, 150, 'the strangers are counted in a metric');
    // Sent again and again (other Message-IDs): one counted hard bounce, never a suspension.
    for (let i = 0; i < 120; i++) t.equal((await smtp.send('', [verp], msg.replace(/Message-ID: <[^>]*>/, `Message-ID: <again${i}@x>`))).code, 250);
    const a = await account('shop');
    t.equal(a.windows[0].hardBounces, 1, 'one counted event per (account, recipient, kind)');
    t.equal(a.status, 'active');
  });

  t.test('row 2: one anonymous form report with a real token and phishing words opens a high-priority case and suspends no one', async (t) => {
    await call('PATCH', '/v1/accounts/young', { createdAt: new Date(clock.now() - 2 * DAY).toISOString() }, admin);
    const token = gw.codec!.mintLong({ account: 'young', campaign: 'c1', recipient: 'me@recipient.example' });
    const headers = `Received: from mta1.send.example by mx.recipient.example\nFrom: deals@customer.example\nSubject: Urgent\nMessage-ID: <p1@send.example>\nX-Abuse-Token: ${token}\n`;
    const r = await call('POST', '/v1/abuse-reports', { type: 'email', headers, description: 'phishing: verify your account at this bank login, enter your password' }, { 'x-forwarded-for': '198.51.100.7' });
    t.equal(r.status, 202);
    const c = (await call('GET', `/v1/cases/${r.body.caseId}`, undefined, admin)).body;
    t.match(c, { status: 'investigating', priority: 'high', account: 'young' });
    t.equal((await account('young')).status, 'active');
  });

  t.test('three independent reporters (distinct /24s and addresses) within 24 h suspend, naming the rule and the reports', async (t) => {
    await seasoned('spammy');
    const report = (i: number, ip: string, who: string) => {
      const token = gw.codec!.mintLong({ account: 'spammy', campaign: 'c1', recipient: who });
      const headers = `Received: from mta1.send.example by mx.recipient.example\nFrom: deals@customer.example\nSubject: Deals\nMessage-ID: <s${i}@send.example>\nX-Abuse-Token: ${token}\n`;
      return call('POST', '/v1/abuse-reports', { type: 'email', headers, description: 'spam', reporterEmail: who }, { 'x-forwarded-for': ip });
    };
    // One person from one /24 with three addresses is one reporter.
    await report(1, '203.0.113.1', 'a@one.example');
    await report(2, '203.0.113.2', 'b@one.example');
    await report(3, '203.0.113.3', 'c@one.example');
    t.equal((await account('spammy')).status, 'active', 'one /24 is one reporter');
    await report(4, '198.18.0.9', 'd@two.example');
    t.equal((await account('spammy')).status, 'active', 'two networks are not three');
    await report(5, '2001:db8:1:2::5', 'e@three.example');
    const a = await account('spammy');
    t.match(a, { status: 'suspended', suspendReason: 'investigation', suspendRule: 'independent-reporters' });
    t.equal(a.suspendEvidence.length, 3, 'one report id per network');
  });

  t.test('row 3: an unauthenticated fraud report at fbl@ is recorded, and suspends no one', async (t) => {
    await seasoned('fraudvictim');
    const msg = arfReport({
      feedbackType: 'fraud',
      rcptTo: ['me@recipient.example'],
      original: { From: 'news@customer.example', To: 'me@recipient.example', Subject: 'Hi', 'Message-ID': '<f1@mta.example>', 'X-Abuse-Token': gw.codec!.mintLong({ account: 'fraudvictim', campaign: 'c1', recipient: 'me@recipient.example' }) },
    });
    t.equal((await smtp.send('isp@reporter.example', ['fbl@localhost'], msg)).code, 250);
    t.equal((await account('fraudvictim')).status, 'active');
    const cases = (await call('GET', '/v1/cases?account=fraudvictim', undefined, admin)).body.items;
    t.equal(cases.length, 1, 'the desk has the case');
  });

  t.test('row 4: the platform\'s routes need its token (the admin token works too)', async (t) => {
    const routes: Array<[string, string, unknown?]> = [
      ['POST', '/v1/events', { events: [{ type: 'sent', account: 'shop', count: 20000 }] }],
      ['POST', '/v1/consents', { account: 'shop', address: 'a@b.example', ip: '192.0.2.1', signedUpAt: '2026-01-01T00:00:00Z' }],
      ['POST', '/v1/campaigns/preflight', { account: 'shop', campaign: 'c9', recipients: ['a@b.example'] }],
      ['GET', '/v1/suppressions/shop/attacker@recipient.example'],
      ['POST', '/v1/suppressions/check', { account: 'shop', addresses: ['attacker@recipient.example'] }],
      ['GET', '/metrics'],
    ];
    for (const [method, path, body] of routes) {
      const anon = await call(method, path, body);
      t.equal(anon.status, 401, `${method} ${path} without a token`);
      t.equal(anon.body.error.code, 'UNAUTHORIZED');
      t.equal((await call(method, path, body, { authorization: 'Bearer wrong-token-of-the-same-length-0000' })).status, 401);
      t.ok([200, 201, 202].includes((await call(method, path, body, PLATFORM_AUTH)).status), `${method} ${path} with the platform token`);
      t.ok([200, 201, 202].includes((await call(method, path, body, admin)).status), `${method} ${path} with the admin token`);
    }
    t.equal((await account('shop')).windows[0].sent, 1000 + 20000 * 2, 'only the authenticated batches counted');
    t.equal((await call('GET', '/healthz')).status, 200, '/healthz stays open');
  });

  t.test('row 5: a 60 KB Return-Path in the form does not stall the gateway', async (t) => {
    const headers = `Received: from a by b\nFrom: x@customer.example\nMessage-ID: <rp@x>\nReturn-Path: <${'a'.repeat(60_000)}@${'b'.repeat(10)}\n`;
    const started = performance.now();
    const r = await call('POST', '/v1/abuse-reports', { type: 'email', headers }, { 'x-forwarded-for': '192.0.2.200' });
    const ms = performance.now() - started;
    t.ok(r.status < 500, `answered ${r.status}`);
    t.ok(ms < 1000, `in ${ms.toFixed(0)} ms`);
  });

  // The HTML-to-text scan is linear (src/parse/html.ts); it used to take seconds on this.
  t.test('row 6: a report whose HTML part is 100 KB of "<" is answered at once', async (t) => {
    const msg = `From: x@reporter.example\nTo: fbl@localhost\nSubject: report\nMIME-Version: 1.0\nContent-Type: text/html\n\n${'<'.repeat(100_000)}\n`;
    const started = performance.now();
    t.equal((await smtp.send('x@reporter.example', ['fbl@localhost'], msg)).code, 250);
    const ms = performance.now() - started;
    t.ok(ms < 1000, `250 in ${ms.toFixed(0)} ms`);
  });

  t.test('row 7: one-click unsubscribe works with the longest token the codec mints', async (t) => {
    // The longest address there is: a 64-octet local part and a 253-octet domain (RFC 5321
    // §4.5.3.1.1, RFC 1035 §2.3.4); with the longest ids, the longest token a real recipient gives.
    const longest = `${'l'.repeat(64)}@${'d'.repeat(63)}.${'e'.repeat(63)}.${'f'.repeat(63)}.${'g'.repeat(61)}`;
    t.equal(longest.length, 318);
    const token = gw.codec!.mintLong({ account: 'a'.repeat(64), campaign: 'c'.repeat(64), recipient: longest });
    t.ok(token.length > 600 && token.length <= 640, `a ${token.length}-character token (the codec mints at most 640)`);
    const page = await fetch(`${base}/u/${token}`);
    t.equal(page.status, 200);
    t.match(page.headers.get('content-security-policy'), /script-src 'self'/);
    t.match(page.headers.get('content-security-policy'), /frame-ancestors 'none'/);
    t.equal(page.headers.get('x-content-type-options'), 'nosniff');
    const r = await fetch(`${base}/u/${token}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'List-Unsubscribe=One-Click' });
    t.equal(r.status, 200);
    const mp = new FormData();
    mp.set('List-Unsubscribe', 'One-Click');
    const r2 = await fetch(`${base}/u/${token}`, { method: 'POST', body: mp, headers: { accept: 'application/json' } });
    t.equal(r2.status, 200, 'multipart/form-data one-click (the framework\'s parser)');
  });

  t.test('the unsubscribe limit holds on the route, not the spelling of the URL', async (t) => {
    const small = await startGateway(t, { redisUrl: redis.url, clock, overrides: { form: { unsubscribePerMinute: 3 } } });
    const b = `http://127.0.0.1:${small.httpPort}`;
    const codes: number[] = [];
    for (const p of ['/u/1aAAAA', '/%75/1aAAAA', '/u/1aBBBB', '/%75/1aCCCC', '/u/1aDDDD']) codes.push((await fetch(b + p)).status);
    t.same(codes, [404, 404, 404, 429, 429]);
  });

  t.test('config: "*" in smtp.proxyFrom and short secrets are refused at start', async (t) => {
    const { loadConfig } = await import('../../src/config/load.js');
    t.throws(() => loadConfig({ overrides: { smtp: { proxyFrom: ['*'] } } }), /smtp\.proxyFrom/);
    t.throws(() => loadConfig({ overrides: { tokens: { secret: 'sixteen-bytes-xx' } } }), /at least 32/);
    t.throws(() => loadConfig({ overrides: { admin: { token: 'short' } } }), /admin\.token: a token must be at least 32/);
    t.throws(() => loadConfig({ env: { ABUSEGATE_PLATFORM_TOKEN: 'short' } }), /platform\.token/);
  });
});

t.test('two doors: with an internal listener, /metrics is served there and not on the public port', async (t) => {
  const redis = await testRedis(t);
  const gw = await startGateway(t, { redisUrl: redis.url, overrides: { http: { internalPort: 0 } } });
  t.ok(gw.internalPort > 0);
  t.equal((await fetch(`http://127.0.0.1:${gw.httpPort}/metrics`, { headers: PLATFORM_AUTH })).status, 404, 'not on the public listener');
  const m = await fetch(`http://127.0.0.1:${gw.internalPort}/metrics`);
  t.equal(m.status, 200);
  t.match(await m.text(), /abusegate_http_auth_rejected_total/);
  t.equal((await fetch(`http://127.0.0.1:${gw.internalPort}/v1/events`, { method: 'POST' })).status, 404, 'the internal listener serves operations only');
});
