import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import t from 'tap';
import { ERRORS } from '../../src/errors.js';
import '../../src/gateway.js'; // loads every module, so every metric is registered
import { registry } from '../../src/metrics.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

t.test('the generated tables (configuration, errors) are current', async (t) => {
  const r = spawnSync(process.execPath, [new URL('../../scripts/readme-tables.mjs', import.meta.url).pathname, '--check'], { encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
});

t.test('every error code is documented', async (t) => {
  for (const code of Object.keys(ERRORS)) t.match(readme, new RegExp('`' + code + '`'), code);
});

t.test('every metric is documented', async (t) => {
  const metrics = (await registry.getMetricsAsJSON()).map((m) => m.name).filter((n) => !/^abusegate_(process|nodejs)_/.test(n));
  t.ok(metrics.length > 5);
  for (const name of metrics) t.match(readme, new RegExp('`' + name + '`'), name);
});

t.test('the quick start is the two commands', async (t) => {
  t.match(readme, /## Quick start\n\n```sh\nnpm start[^\n]*\nnpm test[^\n]*\n```/);
});
