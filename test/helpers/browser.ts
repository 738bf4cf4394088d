/**
 * A real browser for page tests: Debian's chromium driven by playwright-core (its own
 * browser download cannot reach its servers here). `npm test` installs chromium through
 * scripts/ensure.mjs when it is missing; axe-core is injected into pages for accessibility.
 */
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { type Browser, type BrowserContext, type Page, chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Flags: root needs --no-sandbox; the rest keep chromium off the (closed) network. */
export async function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
}

export interface ContextOptions {
  javaScriptEnabled?: boolean;
  locale?: string;
  width?: number;
  height?: number;
}

export async function context(browser: Browser, o: ContextOptions = {}): Promise<BrowserContext> {
  const ctx = await browser.newContext({
    javaScriptEnabled: o.javaScriptEnabled ?? true,
    locale: o.locale ?? 'en-GB',
    viewport: { width: o.width ?? 1280, height: o.height ?? 900 },
  });
  scripted.set(ctx, o.javaScriptEnabled ?? true);
  return ctx;
}

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: Array<{ target: string[] }>;
}

/**
 * Runs axe-core in the page and returns the serious and critical violations. axe is
 * evaluated through the DevTools protocol, which the page's CSP (no inline script) does
 * not govern. axe.run needs timers, which a context with JavaScript off does not run: then
 * the rendered HTML is copied into a scripted scratch page on the same origin (a <base>),
 * so that the stylesheet, and so contrast, are the same.
 */
export async function axe(page: Page): Promise<AxeViolation[]> {
  let target = page;
  let scratch: BrowserContext | null = null;
  if (!(await jsEnabled(page))) {
    const browser = page.context().browser();
    if (!browser) throw new Error('no browser');
    scratch = await browser.newContext({ bypassCSP: true, viewport: page.viewportSize() });
    target = await scratch.newPage();
    const origin = new URL(page.url()).origin;
    await target.setContent((await page.content()).replace(/<head>/i, `<head><base href="${origin}/">`), { waitUntil: 'load' });
  }
  try {
    await target.evaluate(AXE + ';0');
    const result = (await target.evaluate(() => {
      const w = window as unknown as { axe: { run(ctx: Document, opts: unknown): Promise<{ violations: AxeViolation[] }> } };
      return w.axe.run(document, { resultTypes: ['violations'] });
    })) as { violations: AxeViolation[] };
    return result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  } finally {
    await scratch?.close();
  }
}

const scripted = new WeakMap<BrowserContext, boolean>();

/** Whether scripts run in this page's context (remembered from `context()`). */
async function jsEnabled(page: Page): Promise<boolean> {
  return scripted.get(page.context()) ?? true;
}

/** One line per violation, for a readable assertion message. */
export function describeViolations(v: AxeViolation[]): string {
  return v.map((x) => `${x.id} (${x.impact}): ${x.help} — ${x.nodes.map((n) => n.target.join(' ')).join(', ')}`).join('\n');
}
