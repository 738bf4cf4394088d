#!/usr/bin/env node
// Webhook delivery throughput: events/s the worker delivers to a local receiver (outbox in
// a private redis-server, signed POSTs, acknowledgements), next to a bare loop of signed
// POSTs to the same receiver with the same HTTP client and concurrency. Only 127.0.0.1.
//   node scripts/bench-webhooks.mjs [--events N] [--concurrency C] [--max-seconds S] [--json]
// Needs the built code: npx tsc -p .
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';

const dist = new URL('../dist/', import.meta.url);
const load = (p) => import(new URL(p, dist).href);
let mods;
try {
  mods = await Promise.all([
    load('store/local.js'),
    load('store/redis.js'),
    load('store/keys.js'),
    load('webhook/worker.js'),
    load('webhook/post.js'),
    load('webhook/sign.js'),
    load('log.js'),
  ]);
} catch (err) {
  process.stderr.write(`bench-webhooks: build first (npx tsc -p .): ${err.message}\n`);
  process.exit(1);
}
const [{ startLocalRedis }, { createRedis }, { Keys }, { WebhookWorker }, { createPoster }, { decodeSecrets, signedHeaders }, { createLogger }] = mods;

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '5000' },
    concurrency: { type: 'string', default: '8' },
    partitions: { type: 'string', default: '64' },
    'max-seconds': { type: 'string', default: '60' },
    json: { type: 'boolean', default: false },
  },
});
const N = Math.max(1, Math.min(1_000_000, Number(values.events)));
const C = Math.max(1, Number(values.concurrency));
const P = Math.max(1, Number(values.partitions));
const maxMs = Number(values['max-seconds']) * 1000;

const dir = mkdtempSync(join(tmpdir(), 'ag-bench-wh-'));
const redisServer = await startLocalRedis({ dir, appendfsync: 'no' });
let received = 0;
let waiter = null;
const receiver = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(204).end();
    received++;
    if (waiter && received >= waiter.n) waiter.done();
  });
});
await new Promise((r) => receiver.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${receiver.address().port}/hook`;
const secret = 'whsec_' + randomBytes(32).toString('base64');

/**
 * CPU µs this process used since `from` (the receiver runs here in both phases): the cost
 * per event, which other load on shared cores does not change the way it changes a rate.
 */
function cpuSince(from) {
  const d = process.cpuUsage(from);
  return d.user + d.system;
}

function until(n) {
  return new Promise((resolve, reject) => {
    if (received >= n) return resolve();
    waiter = { n, done: () => ((waiter = null), clearTimeout(timer), resolve()) };
    const timer = setTimeout(() => reject(new Error(`only ${received} of ${n} delivered within ${maxMs / 1000} s`)), maxMs);
  });
}

function event(i) {
  return JSON.stringify({
    id: `evt_${String(i).padStart(10, '0')}${randomBytes(4).toString('hex')}`,
    type: 'recipient.suppressed',
    timestamp: new Date().toISOString(),
    data: { account: `acct${i % 997}`, channel: 'email', address: `user${i}@example.org`, reason: 'complaint', source: 'fbl', at: new Date().toISOString() },
  });
}

const result = { events: N, concurrency: C, partitions: P };
try {
  // 1. The worker draining a full outbox.
  const redis = createRedis({ url: redisServer.url, commandTimeout: 5000 });
  await redis.connect();
  const keys = new Keys('bench', P);
  for (let i = 0; i < N; i += 1000) {
    const pipe = redis.pipeline();
    for (let j = i; j < Math.min(N, i + 1000); j++) pipe.xadd(keys.outbox(j % P), '*', 'event', event(j));
    await pipe.exec();
  }
  const config = { url, secret, endpoints: [], timeoutMs: 10_000, retrySchedule: [5], claimIdleMs: 60_000, concurrency: C };
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const worker = new WebhookWorker({ redis, keys, config, log: createLogger('silent') }).start();
  await until(N);
  const workerMs = performance.now() - t0;
  const workerCpu = cpuSince(c0);
  await worker.stop();
  redis.disconnect();
  result.worker = { seconds: +(workerMs / 1000).toFixed(3), eventsPerSecond: Math.round(N / (workerMs / 1000)), cpuMicrosPerEvent: Math.round(workerCpu / N) };

  // 2. A bare loop: sign and POST the same number of events, same client, same concurrency.
  received = 0;
  const poster = createPoster(C);
  const skeys = decodeSecrets(secret);
  const target = new URL(url);
  const bodies = Array.from({ length: N }, (_, i) => event(i));
  let next = 0;
  const t1 = performance.now();
  const c1 = process.cpuUsage();
  await Promise.all(
    Array.from({ length: C }, async () => {
      while (next < N) {
        const body = bodies[next++];
        const id = JSON.parse(body).id;
        const out = await poster.post(target, signedHeaders(skeys, id, Math.floor(Date.now() / 1000), body), body, 10_000);
        if (out.result !== 'delivered') throw new Error(`bare loop: ${out.error}`);
      }
    }),
  );
  const bareMs = performance.now() - t1;
  const bareCpu = cpuSince(c1);
  poster.close();
  result.bare = { seconds: +(bareMs / 1000).toFixed(3), eventsPerSecond: Math.round(N / (bareMs / 1000)), cpuMicrosPerEvent: Math.round(bareCpu / N) };
  result.ratio = +(result.worker.eventsPerSecond / result.bare.eventsPerSecond).toFixed(3);
} finally {
  receiver.closeAllConnections();
  receiver.close();
  await redisServer.stop();
  rmSync(dir, { recursive: true, force: true });
}

if (values.json) {
  process.stdout.write(JSON.stringify(result) + '\n');
} else {
  process.stdout.write(
    `webhook delivery, ${N} events, concurrency ${C}, ${P} partitions, receiver on 127.0.0.1\n` +
      `  worker (outbox → signed POST → ack): ${result.worker.eventsPerSecond} events/s (${result.worker.seconds} s, ${result.worker.cpuMicrosPerEvent} µs CPU/event)\n` +
      `  bare loop of signed POSTs:           ${result.bare.eventsPerSecond} events/s (${result.bare.seconds} s, ${result.bare.cpuMicrosPerEvent} µs CPU/event)\n` +
      `  ratio worker / bare: ${result.ratio}\n`,
  );
}
