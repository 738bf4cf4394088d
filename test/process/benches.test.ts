/**
 * The in-process benches (they import dist/ directly) run, small, and answer JSON: a route
 * or a worker whose dependencies change must not leave `npm run bench` failing unnoticed
 * (bench-preflight did, for two sessions, when the route came to need the platform token).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import t from 'tap';

const run = promisify(execFile);
const root = new URL('../../', import.meta.url).pathname;

for (const [script, args] of [
  ['bench-preflight.mjs', ['--addresses', '2000', '--runs', '1', '--no-build', '--json']],
  ['bench-webhooks.mjs', ['--events', '300', '--rounds', '1', '--json']],
] as const) {
  t.test(`${script} runs`, async (t) => {
    const { stdout } = await run(process.execPath, [`${root}scripts/${script}`, ...args], { cwd: root, timeout: 120_000 });
    const j = JSON.parse(stdout.trim().split('\n').pop()!);
    t.type(j.ratio, 'number', `a ratio: ${j.ratio}`);
  });
}
