#!/usr/bin/env node
// Suppression lookups over HTTP: GET /v1/suppressions/{account}/{address} (single) and
// POST /v1/suppressions/check with 1,000 addresses (batch), against the built gateway as a
// child process with its own redis-server; the load generator (this process) keeps
// `--conc` requests in flight over keep-alive connections on 127.0.0.1. Baseline: raw
// ioredis doing the same Redis work (HMGET on the account's and the global suppression
// hashes) with the same concurrency. Bounded in time. `--json` prints one JSON object.
//
//   node scripts/bench-lookup.mjs [--seconds 5] [--conc 32] [--json]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';

const dist = new URL('../dist/', import.meta.url);
const o = { seconds: 5, conc: 32, json: false };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  if (a === '--json') o.json = true;
  else if (a === '--seconds') o.seconds = Math.min(30, Number(process.argv[++i]));
  else if (a === '--conc') o.conc = Math.min(256, Number(process.argv[++i]));
  else throw new Error(`unknown argument ${a}`);
}

const { startLocalRedis } = await import(new URL('store/local.js', dist));
const { createRedis } = await import(new URL('store/redis.js', dist));
const { Keys } = await import(new URL('store/keys.js', dist));

const dir = mkdtempSync(join(tmpdir(), 'ag-bench-lookup-'));
const local = await startLocalRedis({ dir, appendfsync: 'no' });
const redis = createRedis({ url: local.url, commandTimeout: 10_000 });
await redis.connect();
const keys = new Keys('ag', 64);
const N = 100_000;
const addresses = Array.from({ length: N }, (_, i) => `user${i}@example${i % 97}.com`);
// Every 20th address is suppressed for the account; a few are on the global list.
const own = keys.account('bench').suppressions('email');
for (let i = 0; i < N; i += 2000) {
  const args = [];
  for (let j = i; j < i + 2000; j += 20) args.push(addresses[j], JSON.stringify({ reason: 'complaint', source: 'fbl', at: new Date().toISOString() }));
  await redis.hset(own, ...args);
}
await redis.hset(keys.globalSuppressions('email'), addresses[7], JSON.stringify({ reason: 'spamtrap', source: 'admin', at: new Date().toISOString() }));

const child = spawn(process.execPath, [new URL('main.js', dist).pathname], {
  env: { PATH: process.env.PATH, REDIS_URL: local.url, ABUSEGATE_SMTP_PORT: '0', ABUSEGATE_HTTP_PORT: '0', ABUSEGATE_POLICY_PORT: '0', ABUSEGATE_LOG_LEVEL: 'info' },
  stdio: ['ignore', 'pipe', 'inherit'],
});
const port = await new Promise((resolve, reject) => {
  createInterface({ input: child.stdout }).on('line', (l) => {
    try {
      const j = JSON.parse(l);
      if (j.code === 'STARTED') resolve(j.http);
    } catch {}
  });
  child.once('exit', (c) => reject(new Error(`gateway exited ${c}`)));
  // The STARTED line is at info level: ask for it explicitly.
}).catch(async (e) => {
  throw e;
});

const agent = new Agent({ keepAlive: true, maxSockets: o.conc });
function call(method, path, body) {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, agent, headers: body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {} }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function drive(op) {
  const lat = [];
  let n = 0;
  const until = performance.now() + o.seconds * 1000;
  const loops = Array.from({ length: o.conc }, async () => {
    while (performance.now() < until) {
      const t0 = performance.now();
      await op(n++);
      lat.push(performance.now() - t0);
    }
  });
  const t0 = performance.now();
  await Promise.all(loops);
  const secs = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  return { perSecond: Math.round(lat.length / secs), p50: +lat[Math.floor(lat.length * 0.5)].toFixed(3), p99: +lat[Math.floor(lat.length * 0.99)].toFixed(3) };
}

const pick = (i) => addresses[(i * 7919) % N];
// Warm up both paths.
await drive.call(null, (i) => call('GET', `/v1/suppressions/bench/${pick(i)}`)).catch(() => {});
const single = await drive((i) => call('GET', `/v1/suppressions/bench/${pick(i)}`));
const singleRaw = await drive((i) => Promise.all([redis.hmget(own, pick(i)), redis.hmget(keys.globalSuppressions('email'), pick(i))]));

const batches = [];
const batchesRaw = [];
for (let r = 0; r < 60; r++) {
  const list = Array.from({ length: 1000 }, (_, k) => addresses[(r * 1000 + k * 31) % N]);
  const body = JSON.stringify({ account: 'bench', addresses: list });
  let t0 = performance.now();
  await call('POST', '/v1/suppressions/check', body);
  batches.push(performance.now() - t0);
  t0 = performance.now();
  await Promise.all([redis.hmget(own, ...list), redis.hmget(keys.globalSuppressions('email'), ...list)]);
  batchesRaw.push(performance.now() - t0);
}
const med = (xs) => +[...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)].toFixed(2);
const p99 = (xs) => +[...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.99)].toFixed(2);

child.kill('SIGTERM');
await new Promise((r) => child.once('exit', r));
redis.disconnect();
await local.stop();
rmSync(dir, { recursive: true, force: true });

const rows = [
  { section: 'Lookups', figure: `GET /v1/suppressions single, ${o.conc} in flight, p50 ${single.p50} / p99 ${single.p99} ms`, value: single.perSecond, unit: '/s', baseline: singleRaw.perSecond, ratio: +(single.perSecond / singleRaw.perSecond).toFixed(2), goal: '≥ 15,000/s, p99 ≤ 2 ms', met: single.perSecond >= 15000 && single.p99 <= 2 },
  { section: 'Lookups', figure: `POST /v1/suppressions/check, 1,000 addresses, median (p99 ${p99(batches)} ms)`, value: med(batches), unit: 'ms', baseline: med(batchesRaw), ratio: +(med(batches) / med(batchesRaw)).toFixed(2), goal: '≤ 10 ms', met: med(batches) <= 10 },
];
if (o.json) console.log(JSON.stringify({ rows, single, singleRaw, batchMs: med(batches), batchRawMs: med(batchesRaw) }));
else for (const r of rows) console.log(`${r.figure}: ${r.value} ${r.unit} (raw ioredis ${r.baseline}; ratio ${r.ratio}; goal ${r.goal}: ${r.met ? 'met' : 'NOT met'})`);
