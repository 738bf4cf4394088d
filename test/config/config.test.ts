import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { ConfigError, loadConfig } from '../../src/config/load.js';

const dir = mkdtempSync(join(tmpdir(), 'ag-config-'));
const overlay = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

t.test('defaults load, and every default is documented by its file', async (t) => {
  const c = loadConfig({ env: {} });
  t.equal(c.smtp.port, 2525);
  t.equal(c.http.port, 8080);
  t.equal(c.policy.port, 10040);
  t.equal(c.smtp.maxSize, 10 * 1024 * 1024);
  t.same(c.smtp.domains, ['localhost']);
  t.equal(c.redis.url, null);
  t.ok(Object.isFrozen(c) && Object.isFrozen(c.smtp), 'frozen');
});

t.test('overlay file and environment, in that order', async (t) => {
  const p = overlay('ok.yaml', 'smtp:\n  port: 2600\n  domains: [abuse.example.com]\nhttp:\n  port: 8181\n');
  const c = loadConfig({ env: { ABUSEGATE_CONFIG: p, ABUSEGATE_HTTP_PORT: '9090', REDIS_URL: 'redis://127.0.0.1:7000', ABUSEGATE_TRUSTED_REPORTERS: 'fbl.yahoo.com, 192.0.2.0/24' } });
  t.equal(c.smtp.port, 2600, 'overlay');
  t.equal(c.smtp.maxSize, 10 * 1024 * 1024, 'untouched keys keep their default');
  t.same(c.smtp.domains, ['abuse.example.com']);
  t.equal(c.http.port, 9090, 'environment wins');
  t.equal(c.redis.url, 'redis://127.0.0.1:7000');
  t.same(c.trustedReporters, ['fbl.yahoo.com', '192.0.2.0/24']);
});

const bad: Array<[string, NodeJS.ProcessEnv, RegExp]> = [
  ['unknown key', { ABUSEGATE_CONFIG: overlay('u.yaml', 'smtp:\n  prot: 25\n') }, /^config key smtp\.prot: unknown key$/],
  ['unknown section', { ABUSEGATE_CONFIG: overlay('s.yaml', 'smpt:\n  port: 25\n') }, /^config key smpt: unknown key$/],
  ['wrong type', { ABUSEGATE_CONFIG: overlay('w.yaml', 'smtp:\n  maxSize: big\n') }, /^config key smtp\.maxSize: must be an integer, got "big"$/],
  ['port out of range', { ABUSEGATE_CONFIG: overlay('p.yaml', 'http:\n  port: 70000\n') }, /^config key http\.port: must be between 0 and 65535, got 70000$/],
  ['env port out of range', { ABUSEGATE_SMTP_PORT: '-1' }, /^ABUSEGATE_SMTP_PORT: must be between 0 and 65535, got -1$/],
  ['env not a number', { ABUSEGATE_POLICY_PORT: 'ten' }, /^ABUSEGATE_POLICY_PORT: must be an integer/],
  ['unreadable file', { ABUSEGATE_CONFIG: join(dir, 'missing.yaml') }, /^ABUSEGATE_CONFIG .*missing\.yaml: cannot read \(ENOENT\)$/],
  ['not YAML', { ABUSEGATE_CONFIG: overlay('y.yaml', 'smtp: [unclosed\n') }, /^ABUSEGATE_CONFIG .*: not valid YAML/],
  ['not a mapping', { ABUSEGATE_CONFIG: overlay('l.yaml', '- a\n- b\n') }, /must be a mapping of keys$/],
  ['bad webhook secret', { ABUSEGATE_WEBHOOK_SECRET: 'nope' }, /^ABUSEGATE_WEBHOOK_SECRET: must be whsec_/],
  ['bad enum', { ABUSEGATE_CONFIG: overlay('e.yaml', 'log:\n  level: loud\n') }, /^config key log\.level: must be one of/],
  ['bad list', { ABUSEGATE_CONFIG: overlay('d.yaml', 'smtp:\n  domains: localhost\n') }, /^config key smtp\.domains: must be a list/],
];
for (const [name, env, re] of bad) {
  t.test(`bad config: ${name}`, async (t) => {
    let caught: unknown;
    try {
      loadConfig({ env });
    } catch (err) {
      caught = err;
    }
    t.ok(caught instanceof ConfigError, 'a ConfigError');
    t.match((caught as Error).message, re);
  });
}

t.test('the gateway exits 1 with one line, no stack trace', async (t) => {
  const main = new URL('../../dist/main.js', import.meta.url).pathname;
  for (const env of [{ ABUSEGATE_HTTP_PORT: '99999' }, { ABUSEGATE_CONFIG: overlay('u2.yaml', 'redis:\n  bogus: 1\n') }]) {
    const r = spawnSync(process.execPath, [main], { env: { PATH: process.env.PATH, ...env }, encoding: 'utf8', timeout: 20_000 });
    t.equal(r.status, 1);
    const lines = r.stderr.trim().split('\n');
    t.equal(lines.length, 1, `one line: ${r.stderr}`);
    t.match(lines[0], /^abusegate: (ABUSEGATE_HTTP_PORT|config key redis\.bogus): /);
    t.notMatch(r.stderr, /\n\s+at /, 'no stack');
  }
});
