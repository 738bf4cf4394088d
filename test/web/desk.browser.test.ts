/**
 * The desk console in a real browser (Debian chromium via playwright-core): a reviewer
 * signs in, finds a case, reads evidence full of script, suspends and reinstates the
 * account; strangers and cross-site posts get nothing.
 */
import { randomBytes } from 'node:crypto';
import t, { type Test } from 'tap';
import type { Browser, Page } from 'playwright-core';
import { ManualClock } from '../../src/clock.js';
import { Desk } from '../../src/desk.js';
import { Effects } from '../../src/effects.js';
import { createLogger } from '../../src/log.js';
import { axe, context, describeViolations, launch } from '../helpers/browser.js';
import { addOperator, fileReport, OPERATOR, XSS } from '../helpers/desk.js';
import { startGateway } from '../helpers/gateway.js';
import { testRedis } from '../helpers/redis.js';
import { startReceiver } from '../webhook/receiver.js';

const ADMIN = 'desk-browser-admin-token-0123456789abcdefghijklmnop';
// One browser drives a dozen pages with axe on a shared 2-core machine: more than the default 120 s.
t.setTimeout(480_000);

async function axeClean(t: Test, page: Page, what: string): Promise<void> {
  const v = await axe(page);
  t.same(v, [], v.length ? `${what}\n${describeViolations(v)}` : what);
}

t.test('desk console', async (t) => {
  const redis = await testRedis(t);
  const receiver = await startReceiver(t);
  const clock = new ManualClock(Date.now());
  const gw = await startGateway(t, {
    redisUrl: redis.url,
    clock,
    overrides: {
      admin: { token: ADMIN },
      form: { ratePerMinute: 1000 },
      webhooks: { url: receiver.url, secret: 'whsec_' + randomBytes(32).toString('base64'), retrySchedule: [1] },
    },
  });
  const base = `http://127.0.0.1:${gw.httpPort}`;
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(base + path, { method, headers: { authorization: `Bearer ${ADMIN}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
    return { status: res.status, body: (await res.json().catch(() => null)) as Record<string, unknown> };
  };
  // Accounts with a history: a report about them is reviewed, not suspended at once.
  for (const a of ['acme', 'globex']) await api('PATCH', `/v1/accounts/${a}`, { createdAt: new Date(clock.now() - 400 * 86_400_000).toISOString() });
  await addOperator(gw);
  const evil = await fileReport(gw, { account: 'acme', campaign: 'spring', subject: `Deals ${XSS.script}`, description: `I never signed up. ${XSS.script} and ${XSS.onerror}` });
  const other = await fileReport(gw, { account: 'globex', campaign: 'autumn', description: 'Unwanted mail again.' });
  t.not(evil, other);

  const browser: Browser = await launch();
  t.teardown(() => browser.close());

  const signIn = async (page: Page) => {
    await page.goto(base + '/desk');
    await page.getByLabel('Name').fill(OPERATOR.name);
    await page.getByLabel('Password').fill(OPERATOR.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(base + '/desk');
  };

  t.test('a stranger without a session is sent to sign-in and sees nothing', async (t) => {
    const ctx = await context(browser);
    t.teardown(() => ctx.close());
    const page = await ctx.newPage();
    for (const path of ['/desk', `/desk/cases/${evil}`, '/desk/accounts/acme', '/desk/quarantine', '/desk/dead-letters', '/desk/global', '/desk/no-such-page']) {
      await page.goto(base + path);
      t.match(new URL(page.url()).pathname, '/desk/sign-in', `${path} → sign-in`);
      const text = await page.locator('body').innerText();
      t.notMatch(text, /case_|acme|globex/, `${path}: nothing of the desk shows`);
    }
    const raw = await fetch(`${base}/desk/cases/${evil}`, { redirect: 'manual' });
    t.equal(raw.status, 302);
    t.equal(await raw.text(), '', 'no body');
    const post = await fetch(`${base}/desk/accounts/acme/suspend`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'reason=x&confirm=yes' });
    t.equal(post.status, 302, 'a POST without a session is not acted on');
    t.equal((await api('GET', '/v1/accounts/acme')).body.status, 'active');
    t.equal((await fetch(`${base}/desk/cases/${evil}`, { headers: { cookie: 'ag_desk=' + 'A'.repeat(43) }, redirect: 'manual' })).status, 302, 'a made-up session');
    await axeClean(t, page, 'sign-in page: axe clean');
  });

  t.test('a wrong password is refused with an error summary', async (t) => {
    const ctx = await context(browser);
    t.teardown(() => ctx.close());
    const page = await ctx.newPage();
    await page.goto(base + '/desk/sign-in');
    await page.getByLabel('Name').fill(OPERATOR.name);
    await page.getByLabel('Password').fill('not the password at all');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('.error-summary').waitFor();
    t.match(await page.locator('.error-summary').innerText(), 'The name or password is wrong');
    t.equal(await page.getByLabel('Name').inputValue(), OPERATOR.name, 'what was typed is kept');
    t.equal((await ctx.cookies()).filter((c) => c.name === 'ag_desk').length, 0, 'no session cookie');
  });

  t.test('a reviewer handles a case end to end', async (t) => {
    const ctx = await context(browser);
    t.teardown(() => ctx.close());
    const page = await ctx.newPage();
    const dialogs: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    const consoleLines: string[] = [];
    page.on('console', (m) => consoleLines.push(m.text()));
    await signIn(page);
    const cookie = (await ctx.cookies()).find((c) => c.name === 'ag_desk');
    t.ok(cookie, 'session cookie');
    t.equal(cookie?.httpOnly, true, 'HttpOnly');
    t.equal(cookie?.sameSite, 'Strict', 'SameSite=Strict');
    t.equal(cookie?.path, '/desk');

    // The queue: both cases, counts, then a search by account.
    t.ok(await page.getByRole('link', { name: evil }).isVisible(), 'the case is in the queue');
    t.ok(await page.getByRole('link', { name: other }).isVisible());
    t.match(await page.locator('nav.counts').innerText(), /open\s*2/);
    await axeClean(t, page, 'queue: axe clean');
    await page.getByLabel('Search').fill('acme');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.waitForURL(/q=acme/);
    t.equal(await page.getByRole('link', { name: other }).count(), 0, 'the search narrows the queue');
    await page.getByRole('link', { name: evil }).click();
    await page.waitForURL(`${base}/desk/cases/${evil}`);

    // Evidence is text: the payloads show literally and nothing runs.
    const evidence = await page.locator('.report').first().innerText();
    t.match(evidence, XSS.script, 'the <script> payload is visible as text');
    t.match(evidence, XSS.onerror, 'the onerror payload is visible as text');
    t.equal(await page.locator('.report img, .report script').count(), 0, 'no element was made from the report');
    t.match(evidence, /Links found \(domains\)\s+none/, 'link domains are listed (none in a pasted-headers report)');
    t.match(evidence, /Attachments\s+none/, 'attachments are listed');
    t.equal(await page.evaluate(() => (window as unknown as { __xss?: string }).__xss), undefined, 'no payload ran');
    t.same(dialogs, [], 'no dialog opened');
    t.notMatch(consoleLines.join('\n'), /xss/i);
    await axeClean(t, page, 'case: axe clean');

    // Assign, note.
    await page.getByRole('button', { name: 'Assign to me' }).click();
    await page.getByText('The case is assigned to you.').waitFor();
    await page.getByLabel('Note', { exact: true }).fill('Looked at the headers; list bought.');
    await page.getByRole('button', { name: 'Add note' }).click();
    await page.getByText('Note added.').waitFor();
    t.match(await page.locator('ol.timeline').innerText(), 'alice: Looked at the headers; list bought.');

    // Suspend, with a reason and a confirmation step.
    await page.getByRole('button', { name: 'Suspend account' }).click();
    await page.locator('.error-summary').waitFor();
    t.match(await page.locator('.error-summary').innerText(), 'Enter a reason', 'a reason is required');
    await page.getByLabel('Reason').fill('Bought list, complaints from spam traps');
    await page.getByRole('button', { name: 'Suspend account' }).click();
    await page.getByRole('heading', { name: 'Are you sure?' }).waitFor();
    t.equal((await api('GET', '/v1/accounts/acme')).body.status, 'active', 'nothing happens before the confirmation');
    await page.getByRole('button', { name: 'Yes, do it' }).click();
    await page.getByText('The account is suspended.').waitFor();
    t.equal((await api('GET', '/v1/accounts/acme')).body.status, 'suspended', 'the account API shows suspended');
    const audit = await gw.store.readAudit(50);
    t.ok(audit.some((a) => a.action === 'account.suspend' && a.account === 'acme' && a.by === 'alice' && a.note === 'Bought list, complaints from spam traps'), 'the audit names the operator');
    t.ok(audit.some((a) => a.action === 'case.update' && a.caseId === evil && a.by === 'alice'), 'case changes are audited with the name');
    await receiver.until((r) => r.received.some((x) => JSON.parse(x.body).type === 'account.suspended' && JSON.parse(x.body).data.account === 'acme'));
    const suspendedEvent = receiver.received.map((x) => JSON.parse(x.body)).find((e) => e.type === 'account.suspended');
    t.match(suspendedEvent.data, { account: 'acme', kind: 'desk', by: 'alice', reason: 'investigation' }, 'the webhook receiver got account.suspended');

    // The account page (with a preflight decision to list), then reinstate from the case.
    t.equal((await api('POST', '/v1/campaigns/preflight', { account: 'acme', campaign: 'summer', recipients: ['a@example.com', 'b@example.com'] })).status, 200);
    await page.getByRole('link', { name: 'acme', exact: true }).first().click();
    await page.waitForURL(`${base}/desk/accounts/acme`);
    t.ok(await page.locator('svg.chart title').count(), 'the chart has a title');
    t.match(await page.locator('table.preflights tbody').innerText(), /summer\s+block/, 'the suspended account\'s preflight decision is listed');
    await axeClean(t, page, 'account: axe clean');
    await page.goBack();
    await page.getByRole('button', { name: 'Reinstate account' }).click();
    await page.getByRole('button', { name: 'Yes, do it' }).click();
    await page.getByText('The account is reinstated.').waitFor();
    t.equal((await api('GET', '/v1/accounts/acme')).body.status, 'active', 'reinstated');
    t.ok((await gw.store.readAudit(50)).some((a) => a.action === 'account.reinstate' && a.by === 'alice'), 'reinstatement audited with the name');
    await receiver.until((r) => r.received.some((x) => JSON.parse(x.body).type === 'account.reinstated'));

    // Resolve the case: an outcome is required.
    await page.getByLabel('New status').selectOption('resolved');
    await page.getByLabel('Note on the change').fill('customer removed the list');
    await page.getByRole('button', { name: 'Set status' }).click();
    await page.locator('.error-summary').waitFor();
    t.match(await page.locator('.error-summary').innerText(), 'Choose an outcome', 'resolving without an outcome is refused');
    await axeClean(t, page, 'case with an error: axe clean');
    await page.getByLabel('New status').selectOption('resolved');
    await page.getByLabel('abuse confirmed').check();
    await page.getByLabel('Note on the change').fill('customer removed the list');
    await page.getByRole('button', { name: 'Set status' }).click();
    await page.getByRole('button', { name: 'Yes, do it' }).click();
    await page.getByText('Status changed.').waitFor();
    t.match((await api('GET', `/v1/cases/${evil}`)).body, { status: 'resolved', outcome: 'confirmed' });
    t.match(await page.locator('h1').innerText(), 'abuse confirmed', 'the outcome shows on the case');
  });

  t.test('a report\'s attachments and link domains show as text', async (t) => {
    // As the mail path hands a parsed abuse@ report to the desk (src/ingest.ts abuseInput).
    const log = createLogger('silent');
    const out = await new Desk(gw.store, new Effects(gw.store, gw.config, clock, log), gw.config, clock, log).report({
      reportId: 'browser-evidence', fingerprint: 'browser-evidence', channel: 'email', reporter: 'postmaster@recipient.example', account: 'initech', campaign: 'tps',
      verified: true, tokenState: 'valid', feedbackType: null, phishing: false, originDomains: [], headers: { subject: 'TPS reports' }, phones: [], description: null,
      recipient: null, clientIp: '198.51.100.9', trustedReporter: false,
      attachments: [{ name: XSS.onerror, type: 'image/png', size: 2048, sha256: 'f'.repeat(64) }],
      linkDomains: ['login-bank.example'],
    });
    const ctx = await context(browser);
    t.teardown(() => ctx.close());
    const page = await ctx.newPage();
    await signIn(page);
    await page.goto(`${base}/desk/cases/${out.caseId}`);
    const rows = await page.locator('table.attachments tbody tr').allInnerTexts();
    t.equal(rows.length, 1);
    t.match(rows[0], XSS.onerror, 'the file name, as text');
    t.match(rows[0], /image\/png\s+2\.0 KiB\s+f{64}/);
    t.match(await page.locator('.report').innerText(), 'login-bank.example');
    t.equal(await page.locator('.report img').count(), 0, 'no element was made from the name');
    t.equal(await page.evaluate(() => (window as unknown as { __xss?: string }).__xss), undefined, 'nothing ran');
    await axeClean(t, page, 'case with attachments: axe clean');
  });

  t.test('a POST without the CSRF token is refused', async (t) => {
    const ctx = await context(browser);
    t.teardown(() => ctx.close());
    const page = await ctx.newPage();
    await signIn(page);
    const before = ((await api('GET', `/v1/cases/${other}`)).body.notes as unknown[]).length;
    // The browser's own cookie jar: the session is valid, only the token is missing or wrong.
    for (const form of ['note=forged', 'note=forged&csrf=' + encodeURIComponent('1.' + 'A'.repeat(43))]) {
      const res = await page.request.post(`${base}/desk/cases/${other}/note`, { headers: { 'content-type': 'application/x-www-form-urlencoded' }, data: form, maxRedirects: 0 });
      t.equal(res.status(), 403, `refused: ${form.slice(0, 20)}`);
    }
    const susp = await page.request.post(`${base}/desk/accounts/globex/suspend`, { headers: { 'content-type': 'application/x-www-form-urlencoded' }, data: 'reason=x&confirm=yes', maxRedirects: 0 });
    t.equal(susp.status(), 403);
    t.equal(((await api('GET', `/v1/cases/${other}`)).body.notes as unknown[]).length, before, 'no note was added');
    t.equal((await api('GET', '/v1/accounts/globex')).body.status, 'active', 'nothing was suspended');

    // A token from another session does not verify in this one.
    const ctx2 = await context(browser);
    t.teardown(() => ctx2.close());
    const page2 = await ctx2.newPage();
    await signIn(page2);
    const foreign = await page2.locator('input[name=csrf]').first().inputValue();
    const res = await page.request.post(`${base}/desk/cases/${other}/note`, { form: { note: 'forged', csrf: foreign }, maxRedirects: 0 });
    t.equal(res.status(), 403, 'a token bound to another session');
  });
});
