import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import t from 'tap';

// `abusegate --help` and every command's --help answer at Node's start-up speed, with
// examples: help loads none of the commands' modules (the parser, the config loader,
// ioredis), which take most of a second to load. The built CLI is what users run.
const CLI = new URL('../../dist/cli/index.js', import.meta.url).pathname;
const DIST = new URL('../../dist/', import.meta.url).href;

// Records every module the process loads: a module.register hook appends each URL to a
// file, from the loader's own thread, synchronously (nothing is lost at exit).
const dir = mkdtempSync(join(tmpdir(), 'abusegate-help-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const hooks = join(dir, 'hooks.mjs');
writeFileSync(
  hooks,
  `import { appendFileSync } from 'node:fs';
let out;
export function initialize(data) { out = data.out; }
export async function load(url, context, next) { appendFileSync(out, url + '\\n'); return next(url, context); }
`,
);
const register = join(dir, 'register.mjs');
writeFileSync(
  register,
  `import { register } from 'node:module';
register(${JSON.stringify(pathToFileURL(hooks).href)}, { data: { out: process.env.LOADED_OUT } });
`,
);

function cli(args: string[], opts: { track?: boolean; env?: NodeJS.ProcessEnv } = {}) {
  const out = join(dir, `loaded-${args.join('_').replace(/\W/g, '')}.txt`);
  writeFileSync(out, '');
  const nodeArgs = opts.track ? ['--import', pathToFileURL(register).href, CLI, ...args] : [CLI, ...args];
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, nodeArgs, { encoding: 'utf8', env: { PATH: process.env.PATH, LOADED_OUT: out, ...opts.env } });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const loaded = readFileSync(out, 'utf8').split('\n').filter(Boolean);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, ms, loaded };
}

const HELPS: Array<{ args: string[]; names: string }> = [
  { args: ['--help'], names: 'abusegate parse' },
  { args: ['-h'], names: 'abusegate token' },
  { args: ['help'], names: 'abusegate webhooks' },
  { args: ['parse', '--help'], names: 'abusegate parse' },
  { args: ['parse', 'x.eml', '-h'], names: 'abusegate parse' },
  { args: ['token', '--help'], names: 'abusegate token --account' },
  { args: ['help', 'token'], names: 'abusegate token --account' },
  { args: ['corpus', '--help'], names: 'abusegate corpus' },
  { args: ['webhooks', '--help'], names: 'abusegate webhooks replay' },
  { args: ['webhooks', 'replay', '--help'], names: 'abusegate webhooks replay' },
  { args: ['webhooks', 'verify', '--help'], names: 'abusegate webhooks verify' },
];

t.test('every --help prints usage and examples, and loads nothing but the help', async (t) => {
  for (const { args, names } of HELPS) {
    const r = cli(args, { track: true });
    const what = `abusegate ${args.join(' ')}`;
    t.equal(r.status, 0, `${what}: exit 0`);
    t.equal(r.stderr, '', `${what}: nothing on stderr`);
    t.match(r.stdout, /^usage:/, `${what}: usage first`);
    const examples = r.stdout.split('\nexamples:\n')[1] ?? '';
    t.match(examples, names, `${what}: examples that run ${names}`);
    const ours = r.loaded.filter((u) => u.startsWith(DIST)).map((u) => u.slice(DIST.length));
    t.same(ours.sort(), ['cli/help.js', 'cli/index.js'], `${what}: loads only cli/index.js and cli/help.js`);
    t.same(r.loaded.filter((u) => u.includes('/node_modules/')), [], `${what}: loads no package`);
  }
});

t.test('every command the overview lists has its own help', async (t) => {
  // A command added later gets the same checks without being added to the list above.
  const overview = cli(['--help']).stdout;
  const commands = [...new Set([...overview.split('\nexamples:')[0].matchAll(/^  abusegate ([a-z][a-z-]*)/gm)].map((m) => m[1]))];
  t.ok(commands.length >= 5, commands.join(', '));
  for (const cmd of commands) {
    const r = cli([cmd, '--help'], { track: true });
    t.equal(r.status, 0, `${cmd} --help: exit 0`);
    t.match(r.stdout, /^usage:/, `${cmd} --help: usage`);
    t.match(r.stdout.split('\nexamples:\n')[1] ?? '', `abusegate ${cmd}`, `${cmd} --help: examples`);
    t.same(r.loaded.filter((u) => u.startsWith(DIST)).map((u) => u.slice(DIST.length)).sort(), ['cli/help.js', 'cli/index.js'], `${cmd} --help loads only the help`);
  }
});

t.test('the module tracking sees what a command loads', async (t) => {
  // Without this, an empty record would pass the test above whatever the CLI imports.
  const r = cli(['token', '--account', 'acme', '--campaign', 'spring'], { track: true, env: { ABUSEGATE_TOKEN_SECRET: 'a-test-secret-of-enough-bytes-0123456789' } });
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /^a[a-z2-7]{13}/, 'a short token');
  t.ok(r.loaded.some((u) => u.endsWith('/dist/config/load.js')), 'the config loader');
  t.ok(r.loaded.some((u) => u.includes('/node_modules/yaml/')), 'the yaml package');
});

t.test('help answers quickly', async (t) => {
  // The goal is 300 ms on an idle machine (docs/operations.md#cli has the measured figure).
  // CI shares its cores, so the bound is generous, and scaled by how long a bare Node takes
  // to start right now: it catches a help that loads the commands' modules (8 times a bare
  // start before they were made lazy), not a busy machine.
  const bare = Math.min(...[1, 2, 3].map(() => {
    const t0 = process.hrtime.bigint();
    spawnSync(process.execPath, ['-e', '0']);
    return Number(process.hrtime.bigint() - t0) / 1e6;
  }));
  const times = [1, 2, 3].map(() => cli(['--help']).ms);
  const bound = Math.max(1500, 3 * bare);
  t.ok(Math.min(...times) < bound, `abusegate --help: ${times.map((ms) => ms.toFixed(0)).join(', ')} ms (bare node ${bare.toFixed(0)} ms; bound ${bound.toFixed(0)})`);
});

t.test('a misused command prints its own usage', async (t) => {
  const r = cli(['token', '--account', 'acme']);
  t.equal(r.status, 2);
  t.match(r.stderr, /^abusegate: token needs --account and --campaign\nusage: abusegate token/);
  const u = cli(['corpus', '--bogus']);
  t.equal(u.status, 2);
  t.match(u.stderr, /usage: abusegate corpus/);
  const none = cli([]);
  t.equal(none.status, 2);
  t.match(none.stdout, /^usage:/);
  const unknown = cli(['frobnicate']);
  t.equal(unknown.status, 2);
  t.match(unknown.stderr, /^abusegate: unknown command: frobnicate\nusage:/);
});

t.test('a path after -- is not a help flag', async (t) => {
  const r = cli(['parse', '--', '--help']);
  t.match(JSON.parse(r.stdout), { file: '--help', error: 'no such file or directory' }, 'parsed --help as a file (it does not exist)');
});
