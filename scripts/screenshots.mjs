// `npm run screenshots`: starts a gateway (built dist/) against a temporary Redis, opens
// each page below in Debian's chromium at phone and desktop width, and saves full-page
// PNGs to var/screenshots/<name>-<width>.png. To add a page, add an entry to PAGES: a name,
// a path, optionally `lang` and an `act(page)` that brings the page to the state to show.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { loadConfig } from '../dist/config/load.js';
import { Gateway } from '../dist/gateway.js';
import { createLogger } from '../dist/log.js';
import { startLocalRedis } from '../dist/store/local.js';

const root = new URL('..', import.meta.url).pathname;
const OUT = join(root, 'var/screenshots');
const WIDTHS = [390, 1280];

/** The pages to capture, in order. */
export const PAGES = [
  { name: 'report', path: '/report' },
  { name: 'report-sms', path: '/report/sms' },
  { name: 'report-email', path: '/report/email' },
  { name: 'report-de', path: '/report/sms', lang: 'de-DE' },
  {
    name: 'report-sms-errors',
    path: '/report/sms',
    // Sends the form with a number that is no mobile: the errors beside the fields.
    act: async (page) => {
      await page.fill('#phone', '0800 123');
      await page.waitForTimeout(1100);
      await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
    },
  },
  {
    name: 'report-thanks',
    path: '/report/email',
    act: async (page) => {
      await page.fill('#headers', 'Received: from mta.example.net (mta.example.net [192.0.2.1]) by mx.example.org\nFrom: Deals <deals@example.net>\nSubject: Offer\nMessage-ID: <1@example.net>');
      await page.waitForTimeout(1100);
      await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
    },
  },
];

const dir = mkdtempSync(join(tmpdir(), 'ag-shots-'));
const redis = await startLocalRedis({ dir, appendfsync: 'no' });
const config = loadConfig({
  env: {},
  overrides: {
    smtp: { port: 0, host: '127.0.0.1' },
    http: { port: 0, host: '127.0.0.1' },
    policy: { port: 0, host: '127.0.0.1' },
    redis: { url: redis.url, prefix: 'shots' },
    report: { operatorName: 'Example Mail Abuse Desk', privacyUrl: 'https://example.com/privacy', minFillSeconds: 1 },
  },
});
const gw = await Gateway.start({ config, log: createLogger('silent') });
const base = `http://127.0.0.1:${gw.httpPort}`;
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
mkdirSync(OUT, { recursive: true });
try {
  for (const p of PAGES) {
    for (const width of WIDTHS) {
      const ctx = await browser.newContext({ viewport: { width, height: width < 600 ? 844 : 900 }, locale: p.lang ?? 'en-GB' });
      const page = await ctx.newPage();
      await page.goto(base + p.path);
      if (p.act) await p.act(page);
      const file = join(OUT, `${p.name}-${width}.png`);
      await page.screenshot({ path: file, fullPage: true });
      process.stdout.write(`${file}\n`);
      await ctx.close();
    }
  }
} finally {
  await browser.close();
  await gw.stop(0);
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
}
