/** Redis settings that can lose acknowledged reports: judged, refused at start, warned about. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import t from 'tap';
import { judgeSettings, parseInfo, readSettings, type RedisSettings } from '../../src/store/health.js';
import { MAIN } from '../helpers/child.js';
import { TEST_TOKEN_SECRET } from '../helpers/gateway.js';
import { testRedis } from '../helpers/redis.js';

const strict = { allowEviction: false, allowVolatile: false };
const safe: RedisSettings = { maxmemoryPolicy: 'noeviction', appendonly: true, save: '', appendfsync: 'always', source: 'config' };

t.test('judgeSettings: a table of settings and what they mean', async (t) => {
  const cases: Array<{ name: string; s: Partial<RedisSettings>; rules?: Partial<typeof strict>; refuse: RegExp | null; warn: RegExp[] }> = [
    { name: 'safe', s: {}, refuse: null, warn: [] },
    { name: 'allkeys-lru', s: { maxmemoryPolicy: 'allkeys-lru' }, refuse: /maxmemory-policy is allkeys-lru.*redis\.allowEviction/, warn: [] },
    { name: 'volatile-ttl', s: { maxmemoryPolicy: 'volatile-ttl' }, refuse: /volatile-ttl/, warn: [] },
    { name: 'allkeys-lru allowed', s: { maxmemoryPolicy: 'allkeys-lru' }, rules: { allowEviction: true }, refuse: null, warn: [/allowed by redis\.allowEviction/] },
    { name: 'no persistence', s: { appendonly: false, save: '' }, refuse: /no persistence.*redis\.allowVolatile/, warn: [] },
    { name: 'no persistence allowed', s: { appendonly: false, save: '' }, rules: { allowVolatile: true }, refuse: null, warn: [/allowed by redis\.allowVolatile/] },
    { name: 'rdb only', s: { appendonly: false, save: '3600 1 300 100' }, refuse: null, warn: [/RDB snapshots only/] },
    { name: 'everysec', s: { appendfsync: 'everysec' }, refuse: null, warn: [/appendfsync is everysec.*last second/] },
    { name: 'fsync no', s: { appendfsync: 'no' }, refuse: null, warn: [/appendfsync is no/] },
    { name: 'both bad', s: { maxmemoryPolicy: 'allkeys-random', appendonly: false, save: '' }, refuse: /allkeys-random.*; Redis has no persistence/, warn: [] },
    {
      name: 'CONFIG refused, nothing stated',
      s: { source: 'info', maxmemoryPolicy: 'noeviction', appendonly: null, save: null, appendfsync: null },
      refuse: null,
      warn: [/refuses CONFIG GET/, /persistence unknown/],
    },
    { name: 'policy unknown', s: { maxmemoryPolicy: null }, refuse: null, warn: [/maxmemory-policy unknown/] },
  ];
  for (const c of cases) {
    const j = judgeSettings({ ...safe, ...c.s }, { ...strict, ...c.rules });
    if (c.refuse) t.match(j.refuse, c.refuse, `${c.name}: refused`);
    else t.equal(j.refuse, null, `${c.name}: not refused`);
    t.equal(j.warnings.length, c.warn.length, `${c.name}: ${c.warn.length} warnings (${j.warnings.join(' | ')})`);
    c.warn.forEach((w, i) => t.match(j.warnings[i], w));
  }
});

t.test('parseInfo reads INFO fields', async (t) => {
  const m = parseInfo('# Memory\r\nused_memory:1024\r\nmaxmemory_policy:noeviction\r\n');
  t.equal(m.get('used_memory'), '1024');
  t.equal(m.get('maxmemory_policy'), 'noeviction');
});

t.test('readSettings on a real Redis, with CONFIG and with CONFIG refused', async (t) => {
  const redis = await testRedis(t, { appendfsync: 'everysec' });
  const c = new Redis({ path: redis.url });
  t.teardown(() => c.disconnect());
  t.same(await readSettings(c, { maxmemoryPolicy: null, persistence: null, appendfsync: null }), {
    maxmemoryPolicy: 'noeviction',
    appendonly: true,
    save: '',
    appendfsync: 'everysec',
    source: 'config',
  });
  // A managed service's ACL: the default user may not run CONFIG.
  await c.call('ACL', 'SETUSER', 'app', 'on', '>app-password-123', '~*', '&*', '+@all', '-config');
  const app = new Redis({ path: redis.url, username: 'app', password: 'app-password-123' });
  t.teardown(() => app.disconnect());
  const s = await readSettings(app, { maxmemoryPolicy: null, persistence: null, appendfsync: 'always' });
  t.same(s, { maxmemoryPolicy: 'noeviction', appendonly: true, save: null, appendfsync: 'always', source: 'info' });
  t.equal(judgeSettings(s, strict).refuse, null);
});

/**
 * Runs dist/main.js; resolves when it exits or logs STARTED (then it is SIGKILLed at the
 * test's end), with its exit code (null while running), stderr and stdout so far.
 */
function runMain(t: { teardown(fn: () => unknown): void }, env: NodeJS.ProcessEnv): Promise<{ code: number | null; stderr: string; stdout: string; httpPort: number; proc: ChildProcess }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [MAIN], {
      env: { PATH: process.env.PATH, ABUSEGATE_SMTP_PORT: '0', ABUSEGATE_HTTP_PORT: '0', ABUSEGATE_POLICY_PORT: '0', ABUSEGATE_TOKEN_SECRET: TEST_TOKEN_SECRET, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    t.teardown(() => p.kill('SIGKILL'));
    let stderr = '';
    let stdout = '';
    const timer = setTimeout(() => p.kill('SIGKILL'), 30_000);
    const done = (code: number | null, httpPort = 0) => {
      clearTimeout(timer);
      resolve({ code, stderr, stdout, httpPort, proc: p });
    };
    p.stderr.on('data', (d) => (stderr += d));
    p.stdout.on('data', (d) => {
      stdout += d;
      const m = /"code":"STARTED".*?"http":(\d+)/.exec(stdout);
      if (m) done(null, Number(m[1]));
    });
    p.once('exit', (code) => done(code));
  });
}

t.test('an external Redis with maxmemory-policy allkeys-lru: the gateway refuses to start, in one line', async (t) => {
  const redis = await testRedis(t);
  const c = new Redis({ path: redis.url });
  t.teardown(() => c.disconnect());
  await c.config('SET', 'maxmemory-policy', 'allkeys-lru');
  const r = await runMain(t, { REDIS_URL: redis.url });
  t.equal(r.code, 1, 'exit 1');
  const lines = r.stderr.trim().split('\n');
  t.equal(lines.length, 1, `one line: ${r.stderr}`);
  t.match(lines[0], /^abusegate: Redis maxmemory-policy is allkeys-lru: .*noeviction.*redis\.allowEviction/);
  t.notMatch(r.stdout, /"code":"STARTED"/, 'never listened');

  // The documented override: it starts, and says what it accepted.
  const dir = mkdtempSync(join(tmpdir(), 'ag-cfg-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'override.yaml'), 'redis:\n  allowEviction: true\n');
  const gw = await runMain(t, { REDIS_URL: redis.url, ABUSEGATE_CONFIG: join(dir, 'override.yaml') });
  t.equal(gw.code, null, 'started');
  t.match(gw.stdout, /"level":40.*"code":"REDIS_SETTINGS".*allkeys-lru.*allowed by redis\.allowEviction/);
  t.equal((await fetch(`http://127.0.0.1:${gw.httpPort}/readyz`)).status, 200);
});

t.test('an external Redis without persistence: refused unless redis.allowVolatile', async (t) => {
  const redis = await testRedis(t);
  const c = new Redis({ path: redis.url });
  t.teardown(() => c.disconnect());
  await c.config('SET', 'appendonly', 'no');
  await c.config('SET', 'save', '');
  const r = await runMain(t, { REDIS_URL: redis.url });
  t.equal(r.code, 1);
  t.match(r.stderr, /^abusegate: Redis has no persistence .*redis\.allowVolatile: true to accept that\n$/);
});

t.test('appendfsync everysec: one warning line that says what can be lost, and it runs', async (t) => {
  const redis = await testRedis(t, { appendfsync: 'everysec' });
  const gw = await runMain(t, { REDIS_URL: redis.url });
  t.equal(gw.code, null, 'started');
  const warnings = gw.stdout.split('\n').filter((l) => l.includes('"code":"REDIS_SETTINGS"'));
  t.equal(warnings.length, 1, 'one line');
  t.match(warnings[0], /"level":40.*appendfsync is everysec: a crash or power cut can lose the reports acknowledged in the last second/);
  t.equal((await fetch(`http://127.0.0.1:${gw.httpPort}/readyz`)).status, 200);
});
