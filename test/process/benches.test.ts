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

t.test('bench-smtp.mjs --pair runs two gateways at once and compares them', async (t) => {
  const { stdout } = await run(process.execPath, [`${root}scripts/bench-smtp.mjs`, '--pair', root, root, '--rounds', '2', '--seconds', '1', '--warmup', '0', '--conc', '2', '--max', '400', '--kinds', 'arf', '--json'], { cwd: root, timeout: 120_000 });
  const j = JSON.parse(stdout.trim().split('\n').pop()!);
  t.equal(j.rounds.length, 2, 'two rounds');
  for (const r of j.rounds) {
    t.ok(r.a.perSecond > 0 && r.b.perSecond > 0, `both gateways answered 250s (${r.a.perSecond}, ${r.b.perSecond} msg/s; ${r.a.firstBad ?? ''}${r.b.firstBad ?? ''})`);
    t.equal(r.a.cpuMsPerMessage.length, 2, 'CPU of the gateway and of its redis-server');
    t.ok(r.a.driverCpuMsPerMessage > 0 && r.b.driverCpuMsPerMessage > 0, `the generators' own CPU per message: ${r.a.driverCpuMsPerMessage}, ${r.b.driverCpuMsPerMessage}`);
    t.ok(r.gatewayCpu > 0, `B ÷ A gateway CPU: ${r.gatewayCpu}`);
  }
  t.type(j.gatewayCpu, 'number', 'the median');
});
