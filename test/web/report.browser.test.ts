/**
 * The report page in a real browser (Debian's chromium via playwright-core): one browser
 * for the file, a context per situation (JavaScript off and on, English and German).
 * Forms are filled and sent as a person would; the case is then read through the API.
 * The gateway's clock is a manual one: "time to fill the form" is advanced, not slept.
 */
import t, { type Test } from 'tap';
import type { Page } from 'playwright-core';
import { ManualClock } from '../../src/clock.js';
import { axe, context, describeViolations, launch } from '../helpers/browser.js';
import { startGateway } from '../helpers/gateway.js';
import { testRedis } from '../helpers/redis.js';

// A browser is slow to start and axe is slow to run on a busy machine: more than tap's
// default two minutes for the file.
t.setTimeout(600_000);

const ADMIN = 'page-admin-token-0123456789abcdefghijklmnop';
const DAY = 86_400_000;

t.test('the report page', async (t) => {
  const redis = await testRedis(t);
  const clock = new ManualClock(Date.parse('2026-11-27T09:00:00Z'));
  const gw = await startGateway(t, {
    redisUrl: redis.url,
    clock,
    overrides: { admin: { token: ADMIN }, form: { ratePerMinute: 0 }, report: { operatorName: 'Example Abuse Desk', privacyUrl: 'https://example.com/privacy', minFillSeconds: 3 } },
  });
  const base = `http://127.0.0.1:${gw.httpPort}`;
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(base + path, { method, headers: { authorization: `Bearer ${ADMIN}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
    return { status: res.status, body: await res.json().catch(() => null) };
  };
  await api('PATCH', '/v1/accounts/texter', { createdAt: new Date(clock.now() - 365 * DAY).toISOString() });
  await api('POST', '/v1/events', { events: [{ type: 'sent', channel: 'sms', account: 'texter', campaign: 'promo-11', recipient: '+447700900123', sender: 'PROMO' }] });

  const browser = await launch();
  t.teardown(() => browser.close());

  const accessible = async (t: Test, page: Page, what: string) => {
    const v = await axe(page);
    t.same(v, [], `${what}: no serious or critical axe violations\n${describeViolations(v)}`);
  };
  const send = async (page: Page) => {
    clock.advance(10_000); // a person takes a while to fill the form
    await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
  };
  const caseIdOn = async (page: Page) => {
    const ref = (await page.textContent('#case-ref'))?.trim() ?? '';
    t.match(ref, /^case_[0-9a-z]{26}$/);
    return ref;
  };

  t.test('JavaScript off: an SMS report, as a person sends it, is traced to the account that texted the number', async (t) => {
    const ctx = await context(browser, { javaScriptEnabled: false, locale: 'en-GB', width: 390 });
    t.teardown(() => ctx.close());
    const page = await ctx.newPage();
    const res = await page.goto(base + '/report');
    t.equal(res?.status(), 200);
    t.match(res?.headers()['content-security-policy'] ?? '', /script-src 'self'/);
    t.equal(await page.getAttribute('html', 'lang'), 'en');
    t.match(await page.textContent('h1'), 'Report spam or abuse');
    await accessible(t, page, '/report');
    await Promise.all([page.waitForNavigation(), page.click('text=A text message (SMS)')]);
    t.equal(new URL(page.url()).pathname, '/report/sms');
    t.equal(await page.inputValue('#country'), 'GB', 'the country follows the browser (en-GB)');
    await accessible(t, page, '/report/sms');
    // Keyboard and labels: fields are found by their label text.
    await page.getByLabel('Mobile number that received the message').fill('07700 900123');
    await page.getByLabel('Who sent it').fill('PROMO');
    await page.getByRole('textbox', { name: /^The message/ }).fill('Black Friday! 50% off everything. Reply STOP to opt out');
    await page.getByLabel('Date it arrived').fill('2026-11-26');
    await send(page);
    t.match(await page.textContent('h1'), 'Report sent');
    await accessible(t, page, 'thank-you page');
    const id = await caseIdOn(page);
    const c = (await api('GET', `/v1/cases/${id}`)).body;
    t.match(c, { channel: 'sms', account: 'texter', campaign: 'promo-11', recipient: '+447700900123', attribution: { via: 'number' } });
    t.match(c.reports[0], { sender: 'PROMO', description: /Received: 2026-11-26/ });
  });

  t.test('JavaScript on: the email form refuses headers without Received lines, keeps what was typed, then sends', async (t) => {
    const ctx = await context(browser, { javaScriptEnabled: true, locale: 'en-US', width: 1280 });
    t.teardown(() => ctx.close());
    const page = await ctx.newPage();
    await page.goto(base + '/report/email');
    await accessible(t, page, '/report/email');
    t.equal(await page.isVisible('text=Apple Mail (Mac)'), false, 'the instructions are folded');
    await page.click('summary');
    t.ok(await page.isVisible('text=Apple Mail (Mac)'));
    await page.getByLabel('Full headers of the email').fill('Subject: you won\nFrom: a@b.example');
    await page.getByLabel('Your email address').fill('not an address');
    await send(page);
    t.equal((await page.title()).startsWith('Error:'), true);
    t.match(await page.textContent('.error-summary'), /not the full headers/);
    t.match(await page.textContent('.error-summary'), /Enter an email address/);
    t.equal(await page.evaluate(() => document.activeElement?.className), 'error-summary', 'the script moves focus to the summary');
    t.equal(await page.getAttribute('#headers', 'aria-describedby'), 'headers-hint headers-error', 'the error is announced with the field');
    t.equal(await page.inputValue('#headers'), 'Subject: you won\nFrom: a@b.example', 'what was typed is kept');
    t.equal(await page.getAttribute('details', 'open'), '', 'the help opens with the error');
    await accessible(t, page, 'email form with errors');
    // The summary's link takes the keyboard to the field.
    await page.click('.error-summary a[href="#headers"]');
    t.equal(await page.evaluate(() => document.activeElement?.id), 'headers');

    const token = gw.codec!.mintLong({ account: 'mailer', campaign: 'c9', recipient: 'me@example.org' });
    await page.fill('#headers', `Received: from mta1.send.example (mta1.send.example [192.0.2.10]) by mx.example.org\nFrom: Deals <deals@customer.example>\nTo: me@example.org\nSubject: Deals\nMessage-ID: <m1@send.example>\nX-Abuse-Token: ${token}`);
    await page.fill('#reporterEmail', 'me@example.org');
    await send(page);
    const id = await caseIdOn(page);
    t.match((await api('GET', `/v1/cases/${id}`)).body, { channel: 'form', account: 'mailer', campaign: 'c9', reporter: 'me@example.org' });
  });

  t.test('a German browser gets the German page', async (t) => {
    const ctx = await context(browser, { javaScriptEnabled: false, locale: 'de-DE', width: 390 });
    t.teardown(() => ctx.close());
    const page = await ctx.newPage();
    await page.goto(base + '/report');
    t.equal(await page.getAttribute('html', 'lang'), 'de');
    t.match(await page.textContent('h1'), 'Spam oder Missbrauch melden');
    await accessible(t, page, '/report (de)');
    await page.goto(base + '/report/sms');
    t.equal(await page.inputValue('#country'), 'DE');
    await send(page);
    t.match(await page.textContent('.error-summary'), 'Geben Sie die Handynummer an');
    t.equal(await page.getAttribute('html', 'lang'), 'de', 'the answer to a German form is German');
    await accessible(t, page, 'German SMS form with errors');
    await page.goto(base + '/report?lang=en');
    t.equal(await page.getAttribute('html', 'lang'), 'en', '?lang= switches');
  });

  t.test('anti-abuse: a form sent too fast, a filled honeypot, a post without a token', async (t) => {
    const ctx = await context(browser, { javaScriptEnabled: true, locale: 'en-GB' });
    t.teardown(() => ctx.close());
    const page = await ctx.newPage();
    await page.goto(base + '/report/sms');
    await page.fill('#phone', '07700 900123');
    await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
    t.match(await page.textContent('.error-summary'), 'Check your answers and send the report again', 'sent within a second of loading');
    t.equal(await page.inputValue('#phone'), '07700 900123');
    await page.$eval('#website', (el) => ((el as HTMLInputElement).value = 'http://spam.example'));
    await send(page);
    t.match(await page.textContent('.error-summary'), 'could not be sent');
    const before = (await api('GET', '/v1/cases?limit=500')).body.items.length;
    const forged = await fetch(base + '/v1/abuse-reports', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' }, body: 'type=sms&phone=07700900123&_page=1' });
    t.equal(forged.status, 400);
    t.match(forged.headers.get('content-type'), /text\/html/);
    t.match(await forged.text(), 'This form has expired');
    t.equal((await api('GET', '/v1/cases?limit=500')).body.items.length, before, 'no case from any of them');
  });
});
