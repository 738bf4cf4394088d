#!/usr/bin/env node
// Campaign preflight speed: POST /v1/campaigns/preflight (NDJSON) with N addresses, about
// 5 % of them suppressed, against a private redis-server, over loopback (127.0.0.1); then
// a raw ioredis baseline doing the same lookups (HMGET on the account's and the global
// suppression hashes, in chunks of 5,000, all pipelined at once). Prints milliseconds
// (median and best of the runs) and the ratio; `--json` prints one JSON object.
// Uses dist/: it builds it first (`tsc -p tsconfig.json`) unless --no-build.
//
//   node scripts/bench-preflight.mjs [--addresses 100000] [--suppressed 0.05] [--runs 5] [--json] [--no-build]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

const root = new URL('..', import.meta.url).pathname;
const dist = new URL('../dist/', import.meta.url);

function args(argv) {
  const o = { addresses: 100_000, suppressed: 0.05, runs: 5, chunk: 5000, json: false, build: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--json') o.json = true;
    else if (a === '--no-build') o.build = false;
    else if (a.startsWith('--') && a.slice(2) in o) o[a.slice(2)] = Number(argv[++i]);
    else throw new Error(`unknown argument ${a}`);
  }
  // Bounded: the route takes at most a million; a run should not take minutes.
  if (!(o.addresses >= 1 && o.addresses <= 1_000_000)) throw new Error('--addresses must be 1..1000000');
  if (!(o.suppressed >= 0 && o.suppressed <= 1)) throw new Error('--suppressed must be 0..1');
  if (!(o.runs >= 1 && o.runs <= 50)) throw new Error('--runs must be 1..50');
  return o;
}

const cpuMs = (u) => (u.user + u.system) / 1000;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (x) => Number(x.toFixed(1));

/** The platform's token: the route checks it as the gateway does (platformAuth). */
const PLATFORM_TOKEN = 'bench-platform-token-0123456789abcdef';

function post(port, body) {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/v1/campaigns/preflight', headers: { 'content-type': 'application/x-ndjson', 'content-length': body.length, authorization: `Bearer ${PLATFORM_TOKEN}` } }, (res) => {
      const parts = [];
      res.on('data', (c) => parts.push(c));
      res.on('end', () => {
        const text = Buffer.concat(parts).toString('utf8');
        if (res.statusCode !== 200) reject(new Error(`preflight answered ${res.statusCode}: ${text.slice(0, 300)}`));
        else resolve(JSON.parse(text));
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function main() {
  const o = args(process.argv.slice(2));
  const say = (s) => o.json || process.stderr.write(s + '\n');
  if (o.build) {
    const r = spawnSync(join(root, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.json'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
    if (r.status !== 0 && !existsSync(new URL('preflight.js', dist))) throw new Error('build failed and dist/preflight.js is missing');
  }
  const { startLocalRedis } = await import(new URL('store/local.js', dist));
  const { createRedis } = await import(new URL('store/redis.js', dist));
  const { Keys } = await import(new URL('store/keys.js', dist));
  const { Store } = await import(new URL('store/store.js', dist));
  const { loadConfig } = await import(new URL('config/load.js', dist));
  const { createLogger } = await import(new URL('log.js', dist));
  const { Preflight } = await import(new URL('preflight.js', dist));
  const { createHttpServer } = await import(new URL('http/server.js', dist));
  const { preflightRoutes } = await import(new URL('http/routes/preflight.js', dist));
  const { platformAuth } = await import(new URL('http/auth.js', dist));

  const dir = mkdtempSync(join(tmpdir(), 'ag-bench-preflight-'));
  const local = await startLocalRedis({ dir, appendfsync: 'no' });
  const redis = createRedis({ url: local.url, commandTimeout: 10_000 });
  let app;
  try {
    await redis.connect();
    const config = loadConfig({ env: {}, overrides: { redis: { url: local.url, prefix: 'bench' }, log: { level: 'silent' } } });
    const keys = new Keys('bench', config.redis.partitions);
    const store = new Store(redis, keys, { retentionMs: 86_400_000, quarantineKeep: 10, windows: [{ name: '24h', hours: 24 }, { name: '7d', hours: 168 }], dedupMs: 86_400_000, warningWindowMs: 30 * 86_400_000 });
    const log = createLogger('silent');
    const preflight = new Preflight(store, config, { now: () => Date.now() }, log);
    app = await createHttpServer({ ...config.http, port: 0, host: '127.0.0.1' }, { log, ready: {}, routes: (a) => preflightRoutes(a, { preflight, store, bodyLimit: config.http.bodyLimit, platform: platformAuth(PLATFORM_TOKEN, null) }) });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const port = app.server.address().port;

    // The list: 200 domains; every 1/share-th address suppressed (reasons rotate), a few on the global list.
    const account = 'bench-account';
    const addresses = Array.from({ length: o.addresses }, (_, i) => `recipient.${i}@domain${i % 200}.example`);
    const every = o.suppressed > 0 ? Math.round(1 / o.suppressed) : 0;
    const reasons = ['unsubscribe', 'hard-bounce', 'complaint', 'soft-bounce-limit'];
    const own = keys.account(account).suppressions('email');
    let seeded = 0;
    for (let i = 0; i < addresses.length; i += 10_000) {
      const args = [];
      for (let j = i; j < Math.min(i + 10_000, addresses.length); j++) {
        if (every && j % every === 0) args.push(addresses[j], JSON.stringify({ reason: reasons[seeded++ % reasons.length], source: 'bench', at: new Date().toISOString() }));
      }
      if (args.length) await redis.hset(own, ...args);
    }
    await redis.hset(keys.globalSuppressions('email'), addresses[1], JSON.stringify({ reason: 'spamtrap', source: 'admin', at: new Date().toISOString() }));
    const body = Buffer.from([JSON.stringify({ account, campaign: 'bench' }), ...addresses].join('\n') + '\n');
    say(`preflight bench: ${o.addresses.toLocaleString('en-US')} addresses (${seeded.toLocaleString('en-US')} suppressed), NDJSON body ${(body.length / 1e6).toFixed(1)} MB, ${o.runs} runs`);

    // Warm-up (JIT, connections), then the timed runs.
    let answer = await post(port, body);
    const route = [];
    const routeCpu = [];
    for (let r = 0; r < o.runs; r++) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      answer = await post(port, body);
      route.push(performance.now() - t0);
      routeCpu.push(cpuMs(process.cpuUsage(c0)));
    }
    if (answer.suppressed.count !== seeded + 1) throw new Error(`expected ${seeded + 1} suppressed, got ${answer.suppressed.count}`);

    // Raw baseline: the same HMGETs, every chunk pipelined at once, no parsing or counting.
    const global = keys.globalSuppressions('email');
    const raw = [];
    const rawCpu = [];
    for (let r = 0; r < o.runs + 1; r++) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      const pipe = redis.pipeline();
      for (let i = 0; i < addresses.length; i += o.chunk) {
        const chunk = addresses.slice(i, i + o.chunk);
        pipe.hmget(own, ...chunk);
        pipe.hmget(global, ...chunk);
      }
      const rows = await pipe.exec();
      let hits = 0;
      for (const [, values] of rows) for (const v of values) if (v) hits++;
      if (r > 0) {
        raw.push(performance.now() - t0);
        rawCpu.push(cpuMs(process.cpuUsage(c0)));
      }
      if (hits !== seeded + 1) throw new Error(`raw lookup found ${hits}`);
    }
    const result = {
      addresses: o.addresses,
      suppressed: answer.suppressed.count,
      decision: answer.decision,
      runs: o.runs,
      // Wall time, and the CPU time of this process (route + client, or ioredis) during it:
      // on a busy machine the CPU figure moves less than the wall time.
      preflightMs: { median: ms(median(route)), best: ms(Math.min(...route)), cpuMedian: ms(median(routeCpu)) },
      rawPipelinedHmgetMs: { median: ms(median(raw)), best: ms(Math.min(...raw)), cpuMedian: ms(median(rawCpu)) },
      loadAverage: Number(loadavg()[0].toFixed(2)),
      ratio: Number((median(route) / median(raw)).toFixed(2)),
      underTwoSeconds: median(route) < 2000,
    };
    if (o.json) process.stdout.write(JSON.stringify(result) + '\n');
    else {
      console.log(`preflight route (NDJSON, ${o.addresses.toLocaleString('en-US')} addresses): median ${result.preflightMs.median} ms, best ${result.preflightMs.best} ms (cpu ${result.preflightMs.cpuMedian} ms)`);
      console.log(`raw pipelined HMGET (same addresses, chunks of ${o.chunk}): median ${result.rawPipelinedHmgetMs.median} ms, best ${result.rawPipelinedHmgetMs.best} ms (cpu ${result.rawPipelinedHmgetMs.cpuMedian} ms)`);
      console.log(`ratio (route / raw, medians): ${result.ratio}×; under 2 s: ${result.underTwoSeconds ? 'yes' : 'NO'} (load average ${result.loadAverage} on ${cpus().length} CPUs)`);
    }
  } finally {
    await app?.close();
    redis.disconnect();
    await local.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`bench-preflight: ${err.message}\n`);
  process.exit(1);
});
