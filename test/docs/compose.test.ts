import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join, posix, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { ENV_KEYS } from '../../src/config/schema.js';

// No container engine runs here, so compose.yaml and the Dockerfile are checked against what
// the code needs: the ports, the environment names, the files read at run time, the user,
// the health checks, the Redis durability settings.
const root = fileURLToPath(new URL('../../', import.meta.url));
const read = (p: string) => readFileSync(join(root, p), 'utf8');
const compose = parse(read('compose.yaml'));
const gateway = compose.services.abusegate;
const redis = compose.services.redis;
const defaults = loadConfig({ env: {} });

// ---- the Dockerfile, as instructions per stage (continuation lines joined) ----
interface Instruction {
  op: string;
  args: string;
}
interface Stage {
  name: string | null;
  workdir: string;
  steps: Instruction[];
}
function dockerStages(text: string): Stage[] {
  const stages: Stage[] = [];
  const lines = text.replace(/\\\n/g, ' ').split('\n');
  for (const line of lines) {
    const m = /^\s*([A-Z]+)\s+(.*)$/.exec(line);
    if (!m || line.trim().startsWith('#')) continue;
    const [, op, args] = m;
    if (op === 'FROM') {
      stages.push({ name: / AS (\S+)/i.exec(args)?.[1] ?? null, workdir: '/', steps: [] });
      continue;
    }
    const stage = stages.at(-1)!;
    if (op === 'WORKDIR') stage.workdir = posix.resolve(stage.workdir, args.trim());
    stage.steps.push({ op, args });
  }
  return stages;
}
const stages = dockerStages(read('Dockerfile'));
const final = stages.at(-1)!;
const finalOps = (op: string) => final.steps.filter((s) => s.op === op).map((s) => s.args);

/**
 * Where a path of the repository lands in the final image, through the final stage's COPY
 * lines: from the build context, or from a build stage (whose WORKDIR mirrors the context).
 */
function landsAt(repoPath: string, allStages: Stage[]): string | null {
  const last = allStages.at(-1)!;
  let workdir = '/';
  for (const step of last.steps) {
    if (step.op === 'WORKDIR') workdir = posix.resolve(workdir, step.args.trim());
    if (step.op !== 'COPY') continue;
    const words = step.args.trim().split(/\s+/);
    const from = words.find((w) => w.startsWith('--from='))?.slice('--from='.length);
    const [dest, ...sources] = words.filter((w) => !w.startsWith('--')).reverse();
    const target = posix.resolve(workdir, dest);
    for (const source of sources) {
      let ctx = source.replace(/^\.\//, '').replace(/\/$/, '');
      if (from) {
        const stage = allStages.find((s) => s.name === from);
        if (!stage) continue;
        ctx = posix.relative(stage.workdir, posix.resolve(stage.workdir, source));
        if (ctx.startsWith('..')) continue;
      }
      if (repoPath === ctx) return dest.endsWith('/') ? posix.join(target, basename(ctx)) : target;
      if (repoPath.startsWith(ctx + '/')) return posix.join(target, repoPath.slice(ctx.length + 1));
    }
  }
  return null;
}

/**
 * Files the built code reads at run time, found in src: `new URL('<relative>', import.meta.url)`
 * resolved from the module's place in dist/.
 */
function runtimeFiles(): string[] {
  const found = new Set<string>(['package.json']); // "type": "module": dist/*.js are ES modules
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
  for (const file of walk(join(root, 'src'))) {
    const text = readFileSync(file, 'utf8');
    const builtDir = dirname(join('dist', relative(join(root, 'src'), file)));
    for (const m of text.matchAll(/new URL\('([^'$`]+)', import\.meta\.url\)/g)) found.add(posix.normalize(posix.join(builtDir, m[1])).replace(/\/$/, ''));
  }
  return [...found].sort();
}

t.test('the code reads these files at run time', async (t) => {
  const files = runtimeFiles();
  // The scan must see the known ones, or it sees nothing.
  for (const known of ['config/default.yaml', 'config/bounce-rules.yaml', 'config/abuse-words.yaml', 'src/store/lua', 'package.json']) t.ok(files.includes(known), `${known} found in src`);
  for (const f of files) if (!f.startsWith('dist/')) t.ok(existsSync(join(root, f)), `${f} exists in the repository`);
});

t.test('the image holds every file the code reads, where the code looks', async (t) => {
  const app = final.workdir;
  t.equal(landsAt('dist/main.js', stages), posix.join(app, 'dist/main.js'), 'dist/ (built in the build stage)');
  t.equal(landsAt('node_modules/yaml/package.json', stages), posix.join(app, 'node_modules/yaml/package.json'), 'node_modules/');
  for (const f of runtimeFiles()) t.equal(landsAt(f, stages), posix.join(app, f), `${f} at ${posix.join(app, f)}`);
  // The image starts the gateway as npm start and the benches do: through bin/gateway, which
  // holds its memory settings.
  const cmd = finalOps('CMD').at(-1) ?? '';
  t.match(cmd, /"bin\/gateway"/, 'CMD runs bin/gateway');
  t.equal(landsAt('bin/gateway', stages), posix.join(app, 'bin/gateway'), 'bin/gateway');
  t.match(read('bin/gateway'), /^exec node .*"\$\(dirname "\$0"\)\/\.\.\/dist\/main\.js"$/m, 'bin/gateway runs dist/main.js');
  t.match(JSON.parse(read('package.json')).scripts.start, /\bbin\/gateway\b/, 'npm start runs bin/gateway');
  const ignored = read('.dockerignore').split('\n').map((l) => l.trim().replace(/\/$/, '')).filter(Boolean);
  for (const f of ['src', 'config', 'package.json', 'package-lock.json', 'tsconfig.json']) t.notOk(ignored.includes(f), `${f} is in the build context`);
});

t.test('every data file under src is in the image', async (t) => {
  // Whatever is not TypeScript under src/ is there to be read at run time (Lua, CSS, strings):
  // copied, or the code that reads it fails in a container only.
  const walk = (dir: string): string[] =>
    readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(posix.join(dir, e.name)) : [posix.join(dir, e.name)]));
  const data = walk('src').filter((f) => !f.endsWith('.ts'));
  t.ok(data.some((f) => f.endsWith('.lua')), 'the Lua scripts are among them');
  for (const f of data) t.equal(landsAt(f, stages), posix.join(final.workdir, f), f);
});

t.test('the landing check fails for a file that is not copied', async (t) => {
  const without = dockerStages(read('Dockerfile').replace(/^COPY src\/store\/lua .*$/m, ''));
  t.equal(landsAt('src/store/lua', without), null);
  t.equal(landsAt('src/store/lua', stages), posix.join(final.workdir, 'src/store/lua'));
  t.equal(landsAt('package.json', dockerStages('FROM x\nWORKDIR /srv\nCOPY package.json ./\n')), '/srv/package.json');
});

t.test('the image runs as an unprivileged user and has a health check', async (t) => {
  const user = finalOps('USER').at(-1);
  t.ok(user, 'USER set in the final stage');
  t.notOk(/^(root|0)(:|$)/.test(user ?? 'root'), `USER ${user} is not root`);
  t.notOk(/^(root|0)(:|$)/.test(String(gateway.user ?? 'node')), 'compose does not run it as root');
  const hc = finalOps('HEALTHCHECK').join(' ');
  t.match(hc, /CMD .*\/healthz/, 'HEALTHCHECK asks /healthz');
});

const listeners = { smtp: defaults.smtp.port, http: defaults.http.port, policy: defaults.policy.port };

t.test('exposed and published ports are the configured ones', async (t) => {
  const exposed = finalOps('EXPOSE').flatMap((a) => a.trim().split(/\s+/)).map(Number).sort();
  t.same(exposed, Object.values(listeners).sort(), 'EXPOSE smtp, http and policy ports');
  const published = (gateway.ports as string[]).map((p) => Number(String(p).split(':').at(-1)));
  t.same(published.sort(), Object.values(listeners).sort(), 'compose publishes the same ports');
  const hcPort = /127\.0\.0\.1:(\d+)\/readyz/.exec(gateway.healthcheck.test.join(' '))?.[1];
  t.equal(Number(hcPort), listeners.http, 'the compose health check asks the HTTP port');
});

// Compose's ${NAME:?message}, ${NAME:-default} and ${NAME}, with values from `vars`.
function interpolate(value: unknown, vars: Record<string, string>): string | undefined {
  if (value === null || value === undefined) return undefined; // passed through: unset here
  return String(value).replace(/\$\{([A-Z_]+)(?::?[-?][^}]*)?\}/g, (_, name) => vars[name] ?? '');
}

t.test('environment names are ones the configuration reads', async (t) => {
  const loader = read('src/config/load.ts');
  const known = new Set([...Object.keys(ENV_KEYS), ...[...loader.matchAll(/\benv\.([A-Z_]+)/g)].map((m) => m[1]), 'NODE_ENV']);
  t.ok(known.has('ABUSEGATE_CONFIG') && known.has('REDIS_URL'));
  for (const name of Object.keys(gateway.environment)) t.ok(known.has(name), `compose: ${name}`);
  const named = new Set([...`${read('Dockerfile')}\n${read('compose.yaml')}`.matchAll(/\b(?:ABUSEGATE_[A-Z_]+|REDIS_URL)\b/g)].map((m) => m[0]));
  for (const name of named) t.ok(known.has(name), `named in Dockerfile or compose.yaml: ${name}`);
  for (const env of finalOps('ENV')) t.ok(known.has(env.split(/[=\s]/)[0]), `Dockerfile ENV ${env}`);
});

t.test('the gateway in compose gets a valid configuration, listening where it is published', async (t) => {
  const mounts = Object.fromEntries((gateway.volumes as string[]).map((v) => v.split(':')).map(([src, dst]) => [dst, src]));
  const configPath = gateway.environment.ABUSEGATE_CONFIG;
  t.ok(mounts[configPath], `ABUSEGATE_CONFIG (${configPath}) is a mounted file`);
  const vars = { ABUSEGATE_TOKEN_SECRET: 'a-secret-of-at-least-32-bytes-0123456789', ABUSEGATE_ADMIN_TOKEN: 'admin-token-of-at-least-32-characters-0123' };
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(gateway.environment)) {
    const value = interpolate(v, vars);
    if (value !== undefined) env[k] = value;
  }
  env.ABUSEGATE_CONFIG = join(root, mounts[configPath]);
  const config = loadConfig({ env });
  t.equal(config.redis.url, 'redis://redis:6379');
  const redisHost = new URL(config.redis.url!).hostname;
  t.ok(compose.services[redisHost], `REDIS_URL names the ${redisHost} service`);
  t.equal(gateway.depends_on?.[redisHost]?.condition, 'service_healthy', 'the gateway waits for a healthy Redis');
  const loopback = (h: string) => /^(127\.|::1$|localhost$)/.test(h);
  for (const [name, host] of [['smtp', config.smtp.host], ['http', config.http.host], ['policy', config.policy.host]] as const) {
    t.notOk(loopback(host), `${name} listens on ${host}, reachable from outside the container`);
  }
  const graceSeconds = config.shutdown.graceMs / 1000;
  t.ok(Number.parseInt(gateway.stop_grace_period, 10) > graceSeconds, `stop_grace_period ${gateway.stop_grace_period} > shutdown.graceMs`);
});

t.test('Redis keeps every acknowledged write', async (t) => {
  t.match(redis.image, /^redis:7(\.|$|-)/);
  const args = (redis.command as string[]).join(' ');
  t.match(args, /--appendonly yes/);
  t.match(args, /--appendfsync always/);
  t.match(args, /--maxmemory-policy noeviction/);
  const volume = (redis.volumes as string[]).find((v) => v.endsWith(':/data'));
  t.ok(volume, 'a volume at /data');
  t.ok(compose.volumes && volume!.split(':')[0] in compose.volumes, 'a named volume');
  t.match(redis.healthcheck.test.join(' '), /redis-cli ping/);
  t.ok(gateway.healthcheck.test, 'the gateway has a health check too');
});
