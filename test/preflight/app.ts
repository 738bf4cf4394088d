/**
 * The preflight routes on their own fastify app (gateway.ts wires them in production),
 * against a real Redis with a fresh key prefix, loopback port 0.
 */
import { randomBytes } from 'node:crypto';
import { ManualClock } from '../../src/clock.js';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { windowName } from '../../src/gateway.js';
import { preflightRoutes } from '../../src/http/routes/preflight.js';
import { createHttpServer } from '../../src/http/server.js';
import { platformAuth } from '../../src/http/auth.js';
import { PLATFORM_AUTH, TEST_PLATFORM_TOKEN } from '../helpers/gateway.js';
import { createLogger } from '../../src/log.js';
import { Preflight } from '../../src/preflight.js';
import { Keys } from '../../src/store/keys.js';
import { createRedis } from '../../src/store/redis.js';
import { Store, type SuppressionRecord } from '../../src/store/store.js';

export interface PreflightApp {
  base: string;
  store: Store;
  config: Config;
  clock: ManualClock;
  preflight: Preflight;
  /** Writes suppressions directly (account, or null for the global list), pipelined. */
  suppress(account: string | null, addresses: string[], rec: Omit<SuppressionRecord, 'at'>): Promise<void>;
  post(body: unknown): Promise<{ status: number; body: any }>;
  postNdjson(lines: Iterable<string> | AsyncIterable<string>): Promise<{ status: number; body: any }>;
  get(path: string): Promise<{ status: number; body: any }>;
}

export async function startPreflightApp(
  t: { teardown(fn: () => unknown): void },
  redisUrl: string,
  overrides: Record<string, unknown> = {},
): Promise<PreflightApp> {
  const prefix = 't' + randomBytes(4).toString('hex');
  const config = loadConfig({ env: {}, overrides: { ...overrides, redis: { url: redisUrl, prefix }, log: { level: 'silent' } } });
  const clock = new ManualClock(Date.parse('2026-06-01T10:00:00Z'));
  const redis = createRedis({ url: redisUrl, commandTimeout: 5000 });
  await redis.connect();
  const store = new Store(redis, new Keys(prefix, config.redis.partitions), {
    retentionMs: config.reports.retentionDays * 86_400_000,
    quarantineKeep: config.quarantine.keep,
    windows: config.rates.windowHours.map((hours) => ({ name: windowName(hours), hours })),
    dedupMs: config.rates.dedupDays * 86_400_000,
    warningWindowMs: config.rates.warningWindowDays * 86_400_000,
    engagedMs: config.bounces.engagedDays * 86_400_000,
  });
  const log = createLogger(process.env.TEST_LOG ?? 'silent');
  const preflight = new Preflight(store, config, clock, log);
  const app = await createHttpServer({ ...config.http, port: 0, host: '127.0.0.1' }, {
    log,
    ready: {},
    metrics: null,
    routes: (app) => preflightRoutes(app, { preflight, store, bodyLimit: config.http.bodyLimit, platform: platformAuth(TEST_PLATFORM_TOKEN, null) }),
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  t.teardown(async () => {
    await app.close();
    redis.disconnect();
  });
  const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  const answer = async (res: Response) => {
    const text = await res.text();
    try {
      return { status: res.status, body: JSON.parse(text) };
    } catch {
      return { status: res.status, body: text };
    }
  };
  return {
    base,
    store,
    config,
    clock,
    preflight,
    async suppress(account, addresses, rec) {
      const key = account ? store.keys.account(account).suppressions('email') : store.keys.globalSuppressions('email');
      const at = new Date(clock.now()).toISOString();
      for (let i = 0; i < addresses.length; i += 10_000) {
        const args: string[] = [];
        for (const a of addresses.slice(i, i + 10_000)) args.push(a, JSON.stringify({ ...rec, at }));
        await redis.hset(key, ...args);
      }
    },
    async post(body) {
      return answer(await fetch(base + '/v1/campaigns/preflight', { method: 'POST', headers: { 'content-type': 'application/json', ...PLATFORM_AUTH }, body: JSON.stringify(body) }));
    },
    async postNdjson(lines) {
      // Streamed: the body is generated as it is sent, never built whole.
      const it = Symbol.asyncIterator in lines ? (lines as AsyncIterable<string>)[Symbol.asyncIterator]() : (lines as Iterable<string>)[Symbol.iterator]();
      const enc = new TextEncoder();
      const stream = new ReadableStream<Uint8Array>({
        async pull(controller) {
          let chunk = '';
          while (chunk.length < 64 * 1024) {
            const r = await it.next();
            if (r.done) {
              if (chunk) controller.enqueue(enc.encode(chunk));
              controller.close();
              return;
            }
            chunk += r.value + '\n';
          }
          controller.enqueue(enc.encode(chunk));
        },
      });
      return answer(await fetch(base + '/v1/campaigns/preflight', { method: 'POST', headers: { 'content-type': 'application/x-ndjson', ...PLATFORM_AUTH }, body: stream, duplex: 'half' } as RequestInit));
    },
    async get(path) {
      return answer(await fetch(base + path, { headers: PLATFORM_AUTH }));
    },
  };
}
