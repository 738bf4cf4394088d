import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { parse } from 'yaml';
import { ERRORS } from '../../src/errors.js';
import '../../src/gateway.js'; // loads every module, so every metric is registered
import { registry } from '../../src/metrics.js';

// The manual is README.md (a newcomer's ten minutes) plus docs/*.md (the reference). These
// tests check that what the code has — settings, error codes, events, metrics — is
// documented somewhere in it, and that its links lead somewhere.
const root = fileURLToPath(new URL('../../', import.meta.url));
const DOCS = ['configuration', 'integration', 'operations', 'security', 'parsing', 'benchmarks', 'architecture', 'decisions'];
const pages = new Map<string, string>([['README.md', readFileSync(join(root, 'README.md'), 'utf8')]]);
for (const f of readdirSync(join(root, 'docs'))) if (f.endsWith('.md')) pages.set(`docs/${f}`, readFileSync(join(root, 'docs', f), 'utf8'));
const manual = [...pages.values()].join('\n');
pages.set('docker/README.md', readFileSync(join(root, 'docker/README.md'), 'utf8')); // links checked too
const readme = pages.get('README.md')!;
const documented = (name: string) => manual.includes('`' + name + '`') || manual.includes('`' + name + '{');

t.test('the README is short, and opens with the two commands', async (t) => {
  t.ok(Buffer.byteLength(readme) <= 20 * 1024, `README.md is ${Buffer.byteLength(readme)} bytes, at most 20 KB`);
  t.match(readme.slice(0, 4096), /## Quick start\n\n```sh\nnpm start[^\n]*\nnpm test[^\n]*\n```/);
});

t.test('every docs page exists and says first whom it is for', async (t) => {
  for (const name of DOCS) {
    const page = pages.get(`docs/${name}.md`);
    t.ok(page, `docs/${name}.md exists`);
    t.match(page ?? '', /^# [^\n]+\n\nFor: \S/, `docs/${name}.md starts with its title and a "For:" line`);
    t.match(readme, `(docs/${name}.md)`, `README links to docs/${name}.md`);
  }
});

t.test('the generated tables (configuration, errors) are current', async (t) => {
  const r = spawnSync(process.execPath, [join(root, 'scripts/readme-tables.mjs'), '--check'], { encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
});

t.test('every configuration key is documented', async (t) => {
  const keys: string[] = [];
  const walk = (node: unknown, path: string[]) => {
    if (node && typeof node === 'object' && !Array.isArray(node)) for (const [k, v] of Object.entries(node)) walk(v, [...path, k]);
    else keys.push(path.join('.'));
  };
  walk(parse(readFileSync(join(root, 'config/default.yaml'), 'utf8')), []);
  t.ok(keys.length > 50);
  for (const key of keys) t.ok(documented(key), key);
});

t.test('every error code is documented', async (t) => {
  for (const code of Object.keys(ERRORS)) t.ok(documented(code), code);
});

/** Event types as the code writes them: event('…') in TypeScript, type = '…' or emit(…, '…') in Lua. */
function eventTypes(): Set<string> {
  const types = new Set<string>();
  const files = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)]));
  for (const file of files(join(root, 'src'))) {
    const text = readFileSync(file, 'utf8');
    const calls = file.endsWith('.lua')
      ? [...text.matchAll(/\btype\s*=\s*('[^']*')|\bemit\([^,()]*,\s*('[^']*')\)/g)].map((m) => m[1] ?? m[2])
      : file.endsWith('.ts')
        ? [...text.matchAll(/\bevent\(([^,]+),/g)].map((m) => m[1])
        : [];
    for (const call of calls) for (const m of call.matchAll(/'([a-z]+\.[a-z.]+)'/g)) types.add(m[1]);
  }
  return types;
}

t.test('every event type is documented', async (t) => {
  const types = eventTypes();
  for (const known of ['recipient.suppressed', 'account.warned', 'account.suspended', 'account.reinstated', 'case.opened', 'case.updated', 'campaign.blocked', 'campaign.review']) {
    t.ok(types.has(known), `the scan finds ${known}`);
  }
  for (const type of types) t.ok(documented(type), type);
});

t.test('every metric is documented', async (t) => {
  const metrics = (await registry.getMetricsAsJSON()).map((m) => m.name).filter((n) => !/^abusegate_(process|nodejs)_/.test(n));
  t.ok(metrics.length > 5);
  for (const name of metrics) t.ok(documented(name), name);
});

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens; repeats get -1, -2. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const [, text] of withoutCode(markdown).matchAll(/^#{1,6} +(.+?) *#*$/gm)) {
    const base = text.toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n ? `${base}-${n}` : base);
  }
  return out;
}

/** Fenced blocks and inline code hold examples, not links. */
function withoutCode(markdown: string): string {
  return markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '').replace(/`[^`\n]*`/g, '');
}

/** Relative links of a page that lead nowhere: a missing file, or a missing heading. */
function brokenLinks(page: string, markdown: string, read: (path: string) => string | null): string[] {
  const broken: string[] = [];
  for (const [, target] of withoutCode(markdown).matchAll(/\]\(<?([^)\s>]+)>?(?:\s+"[^"]*")?\)/g)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:: not relative
    const [path, anchor] = target.split('#', 2);
    const file = path ? join(dirname(page), decodeURIComponent(path)) : page;
    const text = path ? read(file) : markdown;
    if (text === null) broken.push(`${target} (no file ${file})`);
    else if (anchor !== undefined && file.endsWith('.md') && !anchors(text).has(anchor)) broken.push(`${target} (no heading #${anchor} in ${file})`);
  }
  return broken;
}

const readRepo = (path: string) => {
  const full = join(root, path);
  return existsSync(full) ? (pages.get(path) ?? readFileSync(full, 'utf8')) : null;
};

t.test('no relative link is broken', async (t) => {
  let links = 0;
  for (const [page, text] of pages) {
    links += [...withoutCode(text).matchAll(/\]\(/g)].length;
    t.same(brokenLinks(page, text, readRepo), [], page);
  }
  t.ok(links > 20, `${links} links checked`);
});

t.test('the link check finds broken links', async (t) => {
  const page = '# A\n\n## Two words, here\n\n[ok](#two-words-here) [ok](docs/operations.md#error-codes) `[code](nowhere.md)`\n';
  t.same(brokenLinks('README.md', page, readRepo), []);
  t.same(brokenLinks('README.md', '[x](docs/nowhere.md) [y](#nothing) [z](docs/operations.md#nothing) [w](https://example.com/x)', readRepo), [
    'docs/nowhere.md (no file docs/nowhere.md)',
    '#nothing (no heading #nothing in README.md)',
    'docs/operations.md#nothing (no heading #nothing in docs/operations.md)',
  ]);
  t.same(brokenLinks('docs/a.md', '[up](../README.md#quick-start) [code](../src/errors.ts)', readRepo), []);
});
