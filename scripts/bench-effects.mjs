#!/usr/bin/env node
// Redis CPU per effects call: Store.recordEffect (one complaint each, distinct fingerprints)
// for one account whose hour buckets are full for the last 7 days (sent, delivered,
// complaints, hard bounces: --letters), spread over a few hours of a simulated clock,
// against a private redis-server. With fewer letters (--letters sch: 504 fields) the hash
// stays a listpack (hash-max-listpack-entries 512), where each field lookup is a scan. Reads `INFO commandstats` (reset
// after seeding, so it counts only the effects calls) and prints evalsha usec_per_call.
// Uses dist/ (run `npx tsc -p .` first); `--dist DIR` points at another build.
//
//   node scripts/bench-effects.mjs [--calls 20000] [--hours 5] [--letters sdch] [--dist dist/]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const o = { calls: 20_000, hours: 5, letters: 'sdch', dist: new URL('../dist/', import.meta.url).pathname };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i].replace(/^--/, '');
  if (!(a in o)) throw new Error(`unknown argument ${process.argv[i]}`);
  o[a] = typeof o[a] === 'string' ? process.argv[++i] : Number(process.argv[++i]);
}
const dist = pathToFileURL(resolve(o.dist) + '/');
const { startLocalRedis } = await import(new URL('store/local.js', dist));
const { createRedis } = await import(new URL('store/redis.js', dist));
const { Keys } = await import(new URL('store/keys.js', dist));
const { Store } = await import(new URL('store/store.js', dist));

const HOUR = 3_600_000;
const dir = mkdtempSync(join(tmpdir(), 'ag-bench-effects-'));
const local = await startLocalRedis({ dir, appendfsync: 'no' });
const redis = createRedis({ url: local.url, commandTimeout: 10_000 });
try {
  await redis.connect();
  const windows = [{ name: '24h', hours: 24 }, { name: '7d', hours: 168 }];
  const store = new Store(redis, new Keys('bench', 16), { retentionMs: 86_400_000, quarantineKeep: 10, windows, dedupMs: 86_400_000, warningWindowMs: 30 * 86_400_000 });
  const account = 'bench-account';
  const start = Math.floor(Date.parse('2026-06-01T00:00:00Z') / HOUR) * HOUR;
  // 7 days of traffic: every hour bucket holds sent counts (and some complaints, bounces).
  const items = [];
  for (let back = 0; back < 168; back++) {
    const at = start - back * HOUR;
    const n = { s: 1000, d: 990, c: 1, h: 2, u: 1, f: 3 };
    for (const counter of o.letters) items.push({ channel: 'email', at, campaign: 'c1', counter, n: n[counter] ?? 1 });
  }
  await store.count(account, items, null, start);
  await redis.config('RESETSTAT');
  const per = Math.ceil(o.calls / o.hours);
  let last;
  for (let i = 0; i < o.calls; i++) {
    const now = start + Math.floor(i / per) * HOUR + (i % per);
    last = await store.recordEffect({
      account, channel: 'email', campaign: 'c1', address: `r${i}@example.org`, counter: 'c', suppression: null, event: null,
      fingerprint: `fp${i}`, reportId: `rep${i}`, now,
    });
  }
  const stats = await redis.info('commandstats');
  const line = stats.split('\n').find((l) => l.startsWith('cmdstat_evalsha:'));
  console.log(`recordEffect × ${o.calls} over ${o.hours} hours, buckets ${o.letters} (${o.dist}); hash ${await redis.object('ENCODING', store.keys.account(account).windows)}`);
  console.log(line?.trim());
  console.log('last figures', JSON.stringify(last.windows));
} finally {
  redis.disconnect();
  await local.stop();
  rmSync(dir, { recursive: true, force: true });
}
