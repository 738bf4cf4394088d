#!/usr/bin/env node
// Suppression lookups over HTTP: GET /v1/suppressions/{account}/{address} (single) and
// POST /v1/suppressions/check with 1,000 addresses (batch), against the built gateway as a
// child process with its own redis-server. Single lookups are driven by wrk (C, one
// thread, `--conc` keep-alive connections, a different address each request; Debian's
// wrk, else this process's own http client) and compared with
//   - the stack's limit: a bare node:http server doing the same Redis work with ioredis
//     (HGET on the account's and on the global suppression hash, as store.suppressionOf
//     does), driven the same way;
//   - raw ioredis: the same Redis work with no HTTP at all, `--conc` in flight.
// Everything runs on 127.0.0.1 and on this machine's cores, generators included. Bounded
// in time. `--json` prints one JSON object.
//
//   node scripts/bench-lookup.mjs [--seconds 5] [--rounds 3] [--conc 8] [--json]
//   BENCH_GATEWAY_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' (node options for the gateway only)
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, createServer, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';

const dist = new URL('../dist/', import.meta.url);
const o = { seconds: 5, conc: 8, rounds: 3, json: false };
const rawServer = process.argv[2] === '--raw-server';
for (let i = rawServer ? 4 : 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  if (a === '--json') o.json = true;
  else if (a === '--seconds') o.seconds = Math.min(30, Number(process.argv[++i]));
  else if (a === '--rounds') o.rounds = Math.min(9, Number(process.argv[++i]));
  else if (a === '--conc') o.conc = Math.min(256, Number(process.argv[++i]));
  else throw new Error(`unknown argument ${a}`);
}

const { startLocalRedis } = await import(new URL('store/local.js', dist));
const { createRedis } = await import(new URL('store/redis.js', dist));
const { Keys } = await import(new URL('store/keys.js', dist));
const keys = new Keys('ag', 64);
const hasWrk = spawnSync('wrk', ['--version']).error === undefined;
// Lookups sit behind the platform token (docs/security.md); every request carries it, and
// the bare server checks it too, so both sides do the work a deployment does.
const TOKEN = 'bench-platform-token-0123456789abcdef';

const children = [];
function startChild(args, env, command = process.execPath) {
  const child = spawn(command, args, { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const port = new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (l) => {
      try {
        const j = JSON.parse(l);
        if (j.code === 'STARTED') resolve(j.http);
      } catch {}
    });
    child.once('exit', (c) => reject(new Error(`${args.at(-1)} exited ${c}`)));
  });
  // CPU seconds the child has used (utime + stime, /proc/<pid>/stat): its cost per request,
  // which other processes on the shared cores do not change the way they change a rate.
  const cpu = () => {
    const f = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  };
  const stop = () => {
    if (child.exitCode !== null) return Promise.resolve();
    return new Promise((r) => (child.once('exit', r), child.kill('SIGTERM')));
  };
  return port.then((p) => ({ port: p, stop, cpu }));
}

/** wrk's figure for `seconds` of single lookups, each of a different address. */
function wrk(port, dir, N) {
  const script = join(dir, 'lookup.lua');
  writeFileSync(
    script,
    `wrk.headers["Authorization"] = "Bearer ${TOKEN}"
local i = 0
request = function()
  i = i + 1
  local n = (i * 7919) % ${N}
  return wrk.format(nil, "/v1/suppressions/bench/user" .. n .. "@example" .. (n % 97) .. ".com")
end
`,
  );
  const r = spawnSync('wrk', ['-t1', `-c${o.conc}`, `-d${o.seconds}s`, '--latency', '-s', script, `http://127.0.0.1:${port}`], { encoding: 'utf8', timeout: (o.seconds + 30) * 1000 });
  if (r.status !== 0) throw new Error(`wrk: ${r.stderr || r.error}`);
  const ms = (label) => {
    const m = new RegExp(`^\\s+${label}%\\s+([\\d.]+)(us|ms|s)\\s*$`, 'm').exec(r.stdout);
    return m ? +(Number(m[1]) * { us: 0.001, ms: 1, s: 1000 }[m[2]]).toFixed(3) : null;
  };
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(r.stdout);
  const total = /(\d+) requests in/.exec(r.stdout);
  return { perSecond: Math.round(Number(/Requests\/sec:\s+([\d.]+)/.exec(r.stdout)[1])), p50: ms(50), p99: ms(99), requests: Number(total?.[1] ?? 0), notFound: Number(non2xx?.[1] ?? 0) };
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'ag-bench-lookup-'));
  const local = await startLocalRedis({ dir, appendfsync: 'no' });
  const redis = createRedis({ url: local.url, commandTimeout: 10_000 });
  await redis.connect();
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

  const gatewayArgs = (process.env.BENCH_GATEWAY_NODE_ARGS ?? '').split(' ').filter(Boolean);
  // Started the way it runs (bin/gateway: npm start, the image), its memory settings included;
  // sh execs node, so the child's pid is the gateway's.
  const gateway = await startChild(
    [new URL('../bin/gateway', import.meta.url).pathname, ...gatewayArgs],
    { REDIS_URL: local.url, ABUSEGATE_SMTP_PORT: '0', ABUSEGATE_HTTP_PORT: '0', ABUSEGATE_POLICY_PORT: '0', ABUSEGATE_LOG_LEVEL: 'info', ABUSEGATE_PLATFORM_TOKEN: TOKEN },
    'sh',
  );
  const bare = await startChild([new URL(import.meta.url).pathname, '--raw-server', local.url]);
  // Whatever happens below, no server outlives the bench.
  process.once('exit', () => {
    for (const c of children) c.kill('SIGKILL');
  });

  const agent = new Agent({ keepAlive: true, maxSockets: o.conc });
  const call = (port, method, path, body) =>
    new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, method, path, agent, headers: { authorization: `Bearer ${TOKEN}`, ...(body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {}) } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode));
      });
      req.on('error', reject);
      req.end(body);
    });

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

  // Both servers must answer what the bench thinks they answer (a 401 is fast and wrong).
  for (const port of [gateway.port, bare.port]) {
    const got = [await call(port, 'GET', `/v1/suppressions/bench/${addresses[0]}`), await call(port, 'GET', `/v1/suppressions/bench/${addresses[1]}`), await call(port, 'GET', `/v1/suppressions/bench/${addresses[7]}`)];
    if (got.join() !== '200,404,200') throw new Error(`port ${port} answered ${got.join()} (expected 200,404,200)`);
  }
  const pick = (i) => addresses[(i * 7919) % N];
  const lookups = (port) => (hasWrk ? Promise.resolve(wrk(port, dir, N)) : drive((i) => call(port, 'GET', `/v1/suppressions/bench/${pick(i)}`)));
  // Warm up, then measure the gateway and the bare stack back to back.
  const seconds = o.seconds;
  o.seconds = 1;
  await lookups(gateway.port);
  await lookups(bare.port);
  o.seconds = seconds;
  // The machine is shared: rounds alternate between the two servers, so a burst of someone
  // else's load falls on both, and each figure is the median round.
  const rounds = { gateway: [], bare: [] };
  for (let r = 0; r < o.rounds; r++) {
    for (const [name, server] of [['gateway', gateway], ['bare', bare]]) {
      const c0 = server.cpu();
      const w = await lookups(server.port);
      rounds[name].push({ ...w, cpuMicrosPerRequest: Math.round(((server.cpu() - c0) * 1e6) / Math.max(1, w.requests ?? w.perSecond * o.seconds)) });
    }
  }
  const median = (xs) => [...xs].sort((a, b) => a.perSecond - b.perSecond)[Math.floor(xs.length / 2)];
  const single = median(rounds.gateway);
  const singleBare = median(rounds.bare);
  const singleRaw = await drive((i) => Promise.all([redis.hget(own, pick(i)), redis.hget(keys.globalSuppressions('email'), pick(i))]));

  const batches = [];
  const batchesRaw = [];
  for (let r = 0; r < 60; r++) {
    const list = Array.from({ length: 1000 }, (_, k) => addresses[(r * 1000 + k * 31) % N]);
    const body = JSON.stringify({ account: 'bench', addresses: list });
    let t0 = performance.now();
    await call(gateway.port, 'POST', '/v1/suppressions/check', body);
    batches.push(performance.now() - t0);
    t0 = performance.now();
    await Promise.all([redis.hmget(own, ...list), redis.hmget(keys.globalSuppressions('email'), ...list)]);
    batchesRaw.push(performance.now() - t0);
  }
  const med = (xs) => +[...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)].toFixed(2);
  const p99 = (xs) => +[...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.99)].toFixed(2);

  await gateway.stop();
  await bare.stop();
  agent.destroy();
  redis.disconnect();
  await local.stop();
  rmSync(dir, { recursive: true, force: true });

  const driver = hasWrk ? `wrk -c${o.conc}` : `node client, ${o.conc} in flight`;
  const rows = [
    {
      section: 'Lookups',
      figure: `GET /v1/suppressions single (${driver}), p50 ${single.p50} / p99 ${single.p99} ms, ${single.cpuMicrosPerRequest} µs CPU/request; bare node:http + ioredis p50 ${singleBare.p50} / p99 ${singleBare.p99} ms, ${singleBare.perSecond}/s, ${singleBare.cpuMicrosPerRequest} µs CPU/request (median of ${o.rounds} alternating rounds); raw ioredis ${singleRaw.perSecond}/s`,
      value: single.perSecond,
      unit: '/s',
      baseline: singleBare.perSecond,
      ratio: +(single.perSecond / singleBare.perSecond).toFixed(2),
      // Issue 19: within reach of the stack it runs on, in the same run on the same cores.
      goal: '≥ 0.8 × bare, p99 ≤ 1.5 × bare',
      met: single.perSecond >= 0.8 * singleBare.perSecond && single.p99 <= 1.5 * singleBare.p99,
    },
    { section: 'Lookups', figure: `POST /v1/suppressions/check, 1,000 addresses, median (p99 ${p99(batches)} ms) vs raw ioredis HMGETs`, value: med(batches), unit: 'ms', baseline: med(batchesRaw), ratio: +(med(batches) / med(batchesRaw)).toFixed(2), goal: '≤ 10 ms', met: med(batches) <= 10 },
  ];
  if (o.json) console.log(JSON.stringify({ driver, rows, single, singleBare, rounds, singleRaw, batchMs: med(batches), batchRawMs: med(batchesRaw) }));
  else for (const r of rows) console.log(`${r.figure}: ${r.value} ${r.unit} (baseline ${r.baseline}; ratio ${r.ratio}; goal ${r.goal}: ${r.met ? 'met' : 'NOT met'})`);
}

if (rawServer) {
  // The stack's limit: node:http and ioredis with nothing between them but the route.
  const redis = createRedis({ url: process.argv[3], commandTimeout: 10_000 });
  await redis.connect();
  const global = keys.globalSuppressions('email');
  const server = createServer(async (req, res) => {
    if (req.headers.authorization !== `Bearer ${TOKEN}`) {
      res.writeHead(401, { 'content-type': 'application/json' });
      return res.end('{"error":{"code":"UNAUTHORIZED"}}');
    }
    const [, , , account, address] = req.url.split('/');
    const [own, glob] = await Promise.all([redis.hget(keys.accountSuppressions(account, 'email'), address), redis.hget(global, address)]);
    const hit = own ?? glob;
    res.writeHead(hit ? 200 : 404, { 'content-type': 'application/json' });
    res.end(hit ? JSON.stringify({ suppressed: true, ...JSON.parse(hit) }) : '{"suppressed":false}');
  });
  server.listen(0, '127.0.0.1', () => process.stdout.write(JSON.stringify({ code: 'STARTED', http: server.address().port }) + '\n'));
  process.on('SIGTERM', () => process.exit(0));
} else {
  await main();
}
