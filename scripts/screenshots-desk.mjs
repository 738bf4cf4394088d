// Screenshots of the desk console: node scripts/screenshots-desk.mjs [OUTDIR] (after npm run build).
// Starts a gateway in-process on a throwaway redis-server, seeds an operator, accounts with
// traffic and a few cases, signs in with Debian's chromium and writes PNGs of the sign-in
// page, the queue, a case and an account (desktop width, and the case at tablet width).
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';

const dist = new URL('../dist/', import.meta.url);
const { loadConfig } = await import(new URL('config/load.js', dist).href);
const { Gateway } = await import(new URL('gateway.js', dist).href);
const { createLogger } = await import(new URL('log.js', dist).href);
const { startLocalRedis } = await import(new URL('store/local.js', dist).href);
const { Operators } = await import(new URL('store/operators.js', dist).href);
const { Desk } = await import(new URL('desk.js', dist).href);
const { Effects } = await import(new URL('effects.js', dist).href);

const out = resolve(process.argv[2] ?? 'var/screenshots');
mkdirSync(out, { recursive: true });
const dir = mkdtempSync(join(tmpdir(), 'ag-shots-'));
const redis = await startLocalRedis({ dir, appendfsync: 'no' });
// Secrets as long as the gateway requires (config/load.ts).
const ADMIN = 'screenshot-admin-token-0123456789abcdef';
const config = loadConfig({
  env: {},
  overrides: {
    smtp: { port: 0, host: '127.0.0.1' },
    http: { port: 0, host: '127.0.0.1' },
    policy: { port: 0, host: '127.0.0.1' },
    redis: { url: redis.url },
    tokens: { secret: 'a:screenshot-secret-0123456789abcdefghij' },
    admin: { token: ADMIN },
    form: { ratePerMinute: 1000 },
    rates: { minVolume: 100 },
  },
});
const gw = await Gateway.start({ config, log: createLogger('silent') });
const base = `http://127.0.0.1:${gw.httpPort}`;
const api = (method, path, body) =>
  fetch(base + path, { method, headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: body ? JSON.stringify(body) : undefined }).then((r) => r.json());

try {
  await new Operators(gw.redis, gw.store.keys).set('alice', 'correct horse battery staple', Date.now());
  const old = new Date(Date.now() - 400 * 86_400_000).toISOString();
  for (const a of ['acme-mail', 'globex', 'initech']) await api('PATCH', `/v1/accounts/${a}`, { createdAt: old });
  // 30 days of traffic for acme-mail, every 6 hours (the chart's daily counters), then the
  // last week hour by hour: sends, a rising complaint rate, some hard bounces.
  const now = Date.now();
  const items = [];
  for (let h = 7 * 24; h < 30 * 24; h += 6) {
    const at = now - h * 3_600_000;
    items.push({ channel: 'email', at, campaign: 'spring', counter: 's', n: 2000 + ((h * 53) % 1500) });
    if (h % 18 === 0) items.push({ channel: 'email', at, campaign: 'spring', counter: 'c', n: 1 });
    if (h % 4 === 0) items.push({ channel: 'email', at, campaign: 'spring', counter: 'h', n: 10 + (h % 30) });
  }
  for (let h = 0; h < 7 * 24; h++) {
    const at = now - h * 3_600_000;
    const sent = 400 + ((h * 37) % 300);
    items.push({ channel: 'email', at, campaign: 'spring', counter: 's', n: sent });
    const c = Math.round((sent * (7 * 24 - h)) / 7 / 24 / 500);
    if (c) items.push({ channel: 'email', at, campaign: 'spring', counter: 'c', n: c });
    if (h % 5 === 0) items.push({ channel: 'email', at, campaign: 'spring', counter: 'h', n: 4 + (h % 7) });
  }
  await gw.store.count('acme-mail', items, null, now);
  const report = async (account, campaign, description, subject = 'Amazing deals inside') => {
    const token = gw.codec.mintLong({ account, campaign, recipient: 'person@recipient.example' });
    const headers = [
      'Received: from mta1.send.example (mta1.send.example [192.0.2.10]) by mx.recipient.example with ESMTPS id 4Bq; Tue, 30 Jun 2026 08:00:02 +0000',
      `From: Deals <deals@${account}.example>`,
      'To: person@recipient.example',
      `Subject: ${subject}`,
      'Date: Tue, 30 Jun 2026 08:00:00 +0000',
      `Message-ID: <${campaign}-${Math.random().toString(36).slice(2)}@send.example>`,
      `X-Abuse-Token: ${token}`,
    ].join('\n');
    const r = await fetch(base + '/v1/abuse-reports', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type: 'email', headers, description, reporterEmail: 'person@recipient.example' }) });
    return (await r.json()).caseId;
  };
  const main = await report('acme-mail', 'spring', 'I never signed up for this list. <script>alert(1)</script> They send three times a day and the unsubscribe link does nothing.');
  await report('acme-mail', 'spring', 'Second complaint about the same campaign.');
  // A report from abuse@ mail with what the parser lists of it: the files attached and the
  // domains of the links (through the desk, as the mail path hands it over).
  const log = createLogger('silent');
  await new Desk(gw.store, new Effects(gw.store, config, { now: () => Date.now() }, log), config, { now: () => Date.now() }, log).report({
    reportId: 'screenshot-evidence',
    fingerprint: 'screenshot-evidence',
    channel: 'email',
    reporter: 'postmaster@recipient.example',
    account: 'acme-mail',
    campaign: 'spring',
    verified: true,
    tokenState: 'valid',
    feedbackType: null,
    phishing: false,
    originDomains: ['send.example'],
    headers: { from: 'Deals <deals@acme-mail.example>', subject: 'Amazing deals inside', messageId: '<spring-evidence@send.example>' },
    phones: [],
    description: null,
    recipient: 'postmaster@recipient.example',
    clientIp: '198.51.100.20',
    trustedReporter: false,
    attachments: [
      { name: 'screenshot.png', type: 'image/png', size: 184_322, sha256: 'c0ffee'.repeat(10) + 'c0ff' },
      { name: 'original.eml', type: 'message/rfc822', size: 12_804, sha256: '5eed'.repeat(16) },
    ],
    linkDomains: ['acme-mail.example', 'click.send.example', 'bit.ly'],
  });
  for (const [campaign, recipients] of [['spring', ['a@example.com', 'b@example.com', 'gone@example.com']], ['summer', ['info@example.com', 'sales@example.com', 'x', 'y', 'gone@example.com']]]) {
    await api('POST', '/v1/campaigns/preflight', { account: 'acme-mail', campaign, recipients });
  }
  await report('globex', 'autumn', 'Unwanted mail again, please make it stop.');
  await report('initech', 'tps', 'Please verify your account and enter your password at our bank login page.', 'Your account is locked');
  await report('globex', 'winter', 'Spam.');
  await api('POST', '/v1/suppressions', { account: 'acme-mail', address: 'gone@example.com', reason: 'hard-bounce' });
  await api('POST', '/v1/consents', { account: 'acme-mail', address: 'person@recipient.example', ip: '203.0.113.7', signedUpAt: '2026-01-02T10:00:00Z', confirmedAt: '2026-01-02T10:03:00Z', source: 'https://acme-mail.example/newsletter' }).catch(() => undefined);

  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  try {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await ctx.newPage();
    await page.goto(base + '/desk');
    await page.screenshot({ path: join(out, 'desk-sign-in.png'), fullPage: true });
    await page.fill('#name', 'alice');
    await page.fill('#password', 'correct horse battery staple');
    await page.click('button:has-text("Sign in")');
    await page.waitForURL(base + '/desk');
    await page.screenshot({ path: join(out, 'desk-queue.png'), fullPage: true });
    await page.goto(`${base}/desk/cases/${main}`);
    await page.screenshot({ path: join(out, 'desk-case.png'), fullPage: true });
    await page.goto(`${base}/desk/accounts/acme-mail`);
    await page.screenshot({ path: join(out, 'desk-account.png'), fullPage: true });
    const tablet = await browser.newContext({ viewport: { width: 820, height: 1180 }, storageState: await ctx.storageState() });
    const tp = await tablet.newPage();
    await tp.goto(`${base}/desk/cases/${main}`);
    await tp.screenshot({ path: join(out, 'desk-case-tablet.png'), fullPage: true });
    console.log(`screenshots in ${out}`);
  } finally {
    await browser.close();
  }
} finally {
  await gw.stop(0);
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
}
