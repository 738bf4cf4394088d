// `npm run test:cluster`: the Redis Cluster tests (test/cluster/*.cluster.ts). They start a
// 6-node cluster on loopback ports and kill one of its masters, so they take a minute and
// are kept out of `npm test` (whose tap `include` only matches *.test.ts). Installs and
// builds what is missing first (scripts/ensure.mjs), like `npm test`; closes with the
// reporter's `tests: N passed, N failed` line and tap's exit code.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const run = (cmd, args) => spawnSync(cmd, args, { cwd: root, stdio: 'inherit' }).status ?? 1;

const ensured = run(process.execPath, [join(root, 'scripts/ensure.mjs'), 'test']);
if (ensured !== 0) process.exit(ensured);

const files = readdirSync(join(root, 'test/cluster'))
  .filter((f) => f.endsWith('.cluster.ts'))
  .map((f) => join('test/cluster', f));
process.exit(
  run(join(root, 'node_modules/.bin/tap'), ['--reporter', './scripts/tap-reporter.mjs', '--timeout', '300', '--jobs', '1', ...files, ...process.argv.slice(2)]),
);
