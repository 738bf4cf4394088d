// Runs before `npm start` and `npm test` on any machine, fresh or not: installs the npm
// dependencies when they are missing or stale, builds dist/ when src/ changed, and makes
// sure the system packages are there (redis-server; for tests also Postfix's tools; for
// `npm run bench` also wrk and Sisimai),
// installing them with apt-get when we are root on Debian, else saying what to install.
// Uses only Node's built-ins: it runs before node_modules exists.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const mode = process.argv[2] ?? 'start';
const say = (s) => process.stderr.write(`abusegate: ${s}\n`);

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'], ...opts });
  if (r.status !== 0) {
    say(`\`${cmd} ${args.join(' ')}\` failed (exit ${r.status ?? r.error?.code})`);
    process.exit(1);
  }
}

function newest(dir) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

const has = (bin) => spawnSync('sh', ['-c', `command -v ${bin} || test -x /usr/sbin/${bin}`], { stdio: 'ignore' }).status === 0;

// 1. npm dependencies
const stamp = join(root, 'node_modules/.package-lock.json');
if (!existsSync(stamp) || statSync(join(root, 'package-lock.json')).mtimeMs > statSync(stamp).mtimeMs) {
  say('installing npm dependencies');
  run('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error']);
}

// 2. build
const built = join(root, 'dist/main.js');
const srcTime = Math.max(newest(join(root, 'src')), statSync(join(root, 'tsconfig.json')).mtimeMs);
if (!existsSync(built) || statSync(built).mtimeMs < srcTime) {
  say('building dist/');
  run(join(root, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.json']);
}

// 3. system packages
const wanted = [];
if (mode !== 'start' || !process.env.REDIS_URL) {
  if (!has('redis-server')) wanted.push(['redis-server', 'redis-server']);
  if (!has('redis-cli')) wanted.push(['redis-cli', 'redis-tools']);
}
// The policy service is tested against a real Postfix (its test starts a private instance).
if (mode !== 'start' && !has('postfix')) wanted.push(['postfix', 'postfix']);
// The pages (report page, desk console) are tested in a real browser: Debian's chromium,
// driven by playwright-core (whose own browser download cannot be used here).
if ((mode === 'test' || mode === 'screenshots') && !has('chromium')) wanted.push(['chromium', 'chromium']);
// The benches' load generators and peers: wrk (HTTP), smtp-source/smtp-sink (Postfix),
// Sisimai (the Perl bounce parser the parse figures are compared with).
if (mode === 'bench') {
  if (!has('wrk')) wanted.push(['wrk', 'wrk']);
  if (spawnSync('perl', ['-MSisimai', '-e', '1'], { stdio: 'ignore' }).status !== 0) wanted.push(['Sisimai', 'libsisimai-perl']);
}
if (wanted.length) {
  const pkgs = [...new Set(wanted.map(([, p]) => p))];
  const root_ = process.getuid?.() === 0;
  if (!root_ || !has('apt-get')) {
    say(`missing ${wanted.map(([b]) => b).join(', ')}: install ${pkgs.join(' ')} (e.g. apt-get install ${pkgs.join(' ')})${mode === 'start' ? ', or set REDIS_URL' : ''}`);
    process.exit(1);
  }
  say(`installing ${pkgs.join(' ')} with apt-get`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  run('apt-get', ['update', '-qq'], { env });
  run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...pkgs], { env });
}
