// Rewrites the generated tables of the docs: the configuration reference in
// docs/configuration.md (every key of config/default.yaml, its default and the comment
// above it) and the error catalogue in docs/operations.md (dist/errors.js). Run after
// changing either; a test checks the tables are current (`--check` only compares).
import { readFileSync, writeFileSync } from 'node:fs';

const lines = readFileSync(new URL('../config/default.yaml', import.meta.url), 'utf8').split('\n');
const ENV = {
  'smtp.port': 'ABUSEGATE_SMTP_PORT', 'http.port': 'ABUSEGATE_HTTP_PORT', 'policy.port': 'ABUSEGATE_POLICY_PORT',
  'redis.url': 'REDIS_URL', 'redis.cluster': 'ABUSEGATE_REDIS_CLUSTER', 'webhooks.url': 'ABUSEGATE_WEBHOOK_URL', 'webhooks.secret': 'ABUSEGATE_WEBHOOK_SECRET',
  'tokens.secret': 'ABUSEGATE_TOKEN_SECRET', 'admin.token': 'ABUSEGATE_ADMIN_TOKEN', trustedReporters: 'ABUSEGATE_TRUSTED_REPORTERS',
  'log.level': 'ABUSEGATE_LOG_LEVEL',
};
const rows = [];
const parentDoc = {};
const path = [];
let comment = [];
let cont = null;
for (const line of lines) {
  if (cont) {
    cont.value += ' ' + line.trim();
    if (!/,\s*$/.test(line)) cont = null;
    continue;
  }
  const c = /^(\s*)#\s?(.*)$/.exec(line);
  if (c) {
    comment.push(c[2]);
    continue;
  }
  const m = /^(\s*)([A-Za-z]+):\s*(.*)$/.exec(line);
  if (!m) {
    if (!line.trim()) comment = [];
    continue;
  }
  const depth = m[1].length / 2;
  path.length = depth;
  path.push(m[2]);
  if (m[3] === '') {
    parentDoc[path.join('.')] = comment.join(' ');
    comment = [];
    continue;
  }
  const key = path.join('.');
  // A key without its own comment shares its parent's, or the one above it (a pair).
  const inherited = parentDoc[path.slice(0, -1).join('.')] || (rows.at(-1)?.key.split('.').slice(0, -1).join('.') === path.slice(0, -1).join('.') ? '″' : '');
  const row = { key, value: m[3], doc: (comment.join(' ') || inherited).replace(/\s*\([A-Z_]+\)/, '') };
  rows.push(row);
  if (/,\s*$/.test(m[3])) cont = row;
  comment = [];
}
const config = ['| key | default | environment | what it does |', '|---|---|---|---|'];
for (const r of rows) config.push(`| \`${r.key}\` | \`${r.value.replace(/\|/g, '\\|')}\` | ${ENV[r.key] ? `\`${ENV[r.key]}\`` : ''} | ${r.doc.replace(/\|/g, '\\|')} |`);

const { ERRORS } = await import('../dist/errors.js');
const errors = ['| code | HTTP | SMTP | meaning |', '|---|---|---|---|'];
for (const [code, e] of Object.entries(ERRORS)) errors.push(`| \`${code}\` | ${e.http ?? ''} | ${e.smtp ? `${e.smtp.code} ${e.smtp.status}` : ''} | ${e.message} |`);

const docs = [
  ['config-table', config, '../docs/configuration.md'],
  ['error-table', errors, '../docs/operations.md'],
];
let stale = false;
for (const [name, body, file] of docs) {
  const path = new URL(file, import.meta.url);
  const before = readFileSync(path, 'utf8');
  const re = new RegExp(`(<!-- ${name}[^>]*-->\\n)[\\s\\S]*?(<!-- /${name} -->)`);
  if (!re.test(before)) throw new Error(`${file.slice(3)} has no ${name} markers`);
  const after = before.replace(re, (_, a, b) => `${a}${body.join('\n')}\n${b}`);
  if (after === before) continue;
  if (process.argv.includes('--check')) {
    console.error(`${file.slice(3)}: the ${name} is out of date: run node scripts/readme-tables.mjs`);
    stale = true;
  } else writeFileSync(path, after);
}
if (stale) process.exit(1);
