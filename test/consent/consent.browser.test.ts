import t from 'tap';
import { ManualClock } from '../../src/clock.js';
import { axe, context, describeViolations, launch } from '../helpers/browser.js';
import { startGateway } from '../helpers/gateway.js';
import { testRedis } from '../helpers/redis.js';

const ADMIN = 'consent-admin-token-0123456789abcdef';

t.test('a person confirms through the page with JavaScript off', async (t) => {
  const redis = await testRedis(t);
  const gw = await startGateway(t, { redisUrl: redis.url, clock: new ManualClock(Date.now()), overrides: { admin: { token: ADMIN } } });
  const base = `http://127.0.0.1:${gw.httpPort}`;
  const req = await fetch(`${base}/v1/consents/requests`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ account: 'optin', list: 'Garden News', address: 'reader@recipient.example', source: { ip: '198.51.100.7' } }),
  });
  const { token } = (await req.json()) as { token: string };
  const browser = await launch();
  t.teardown(() => browser.close());

  for (const [locale, heading, button, done] of [
    ['en-GB', 'Confirm your subscription to Garden News', 'Yes, subscribe me', 'your subscription is confirmed'],
    ['de-DE', 'Bestätigen Sie Ihre Anmeldung für Garden News', 'Ja, anmelden', 'Ihre Anmeldung ist bereits bestätigt'],
  ] as const) {
    const ctx = await context(browser, { javaScriptEnabled: false, locale, width: 390, height: 844 });
    const page = await ctx.newPage();
    await page.goto(`${base}/c/${token}`);
    t.equal(await page.locator('h1').textContent(), heading, locale);
    t.equal(describeViolations(await axe(page)), '', `axe on the ${locale} page`);
    await page.getByRole('button', { name: button }).click();
    await page.waitForLoadState('load');
    t.match(await page.locator('h1').textContent(), new RegExp(done, 'i'));
    t.equal(describeViolations(await axe(page)), '', `axe on the ${locale} result page`);
    await ctx.close();
  }
  const v = (await (await fetch(`${base}/v1/consents/optin/reader%40recipient.example`, { headers: { authorization: `Bearer ${ADMIN}` } })).json()) as { witnessed: boolean; proof: { confirmation: { ip: string; userAgent: string } } };
  t.equal(v.witnessed, true);
  t.equal(v.proof.confirmation.ip, '127.0.0.1');
  t.match(v.proof.confirmation.userAgent, /Chrome/, 'the browser that confirmed');
});
