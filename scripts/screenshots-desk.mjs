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

const out = resolve(process.argv[2] ?? 'var/screenshots');
mkdirSync(out, { recursive: true });
const dir = mkdtempSync(join(tmpdir(), 'ag-shots-'));
const redis = await startLocalRedis({ dir, appendfsync: 'no' });
const ADMIN = 'screenshot-admin-token';
const config = loadConfig({
  env: {},
  overrides: {
    smtp: { port: 0, host: '127.0.0.1' },
    http: { port: 0, host: '127.0.0.1' },
    policy: { port: 0, host: '127.0.0.1' },
    redis: { url: redis.url },
    tokens: { secret: 'a:screenshot-secret-0123456789' },
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
  // A week of traffic for acme-mail, hour by hour: sends, a rising complaint rate, some hard bounces.
  const now = Date.now();
  const items = [];
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
    const token = gw.codec.mintShort({ account, campaign });
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
