/** Starts a gateway in-process on loopback port 0, against a test Redis, fresh key prefix. */
import { randomBytes } from 'node:crypto';
import { ManualClock, type Clock } from '../../src/clock.js';
import { loadConfig } from '../../src/config/load.js';
import { Gateway } from '../../src/gateway.js';
import { createLogger } from '../../src/log.js';

export const TEST_TOKEN_SECRET = 'a:test-secret-0123456789abcdef-0123456789';
/** Bearer token of the platform routes in test gateways (at least 32 characters). */
export const TEST_PLATFORM_TOKEN = 'test-platform-token-0123456789abcdef';
/** The header a test sends to a platform route (events, consents, preflight, suppression reads, /metrics). */
export const PLATFORM_AUTH = Object.freeze({ authorization: `Bearer ${TEST_PLATFORM_TOKEN}` });

export interface TestGatewayOptions {
  redisUrl: string;
  overrides?: Record<string, unknown>;
  clock?: Clock;
  env?: NodeJS.ProcessEnv;
}

/**
 * Without webhook endpoints no event is written (docs/integration.md, "No endpoint, no
 * events"). A test gateway that configures none gets this one, so the events are written as
 * in production, and its worker is stopped at once, so they stay in the outbox for the test
 * to read. Tests of delivery, or of a gateway without endpoints, set `webhooks` themselves.
 */
export const UNREAD_ENDPOINT = Object.freeze({ url: 'http://127.0.0.1:9/unread', secret: 'whsec_' + Buffer.from('unread-endpoint-secret-0123456789abcdef').toString('base64') });

function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) {
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && a[k] && typeof a[k] === 'object' ? deepMerge(a[k] as Record<string, unknown>, v as Record<string, unknown>) : v;
  }
  return out;
}

export async function startGateway(t: { teardown(fn: () => unknown): void }, opts: TestGatewayOptions): Promise<Gateway> {
  const overrides = deepMerge(
    {
      smtp: { port: 0, host: '127.0.0.1' },
      http: { port: 0, host: '127.0.0.1' },
      policy: { port: 0, host: '127.0.0.1' },
      redis: { url: opts.redisUrl, prefix: 't' + randomBytes(4).toString('hex'), commandTimeout: 500 },
      tokens: { secret: TEST_TOKEN_SECRET },
      platform: { token: TEST_PLATFORM_TOKEN },
      // Test clients connect from loopback: their feedback reports are trusted by IP range.
      trustedReporters: ['127.0.0.0/8'],
      shutdown: { graceMs: 2000 },
      ...(opts.overrides?.webhooks === undefined ? { webhooks: { endpoints: [UNREAD_ENDPOINT] } } : {}),
    },
    opts.overrides ?? {},
  );
  const config = loadConfig({ env: opts.env ?? {}, overrides });
  const gw = await Gateway.start({
    config,
    log: createLogger(process.env.TEST_LOG ?? 'silent'),
    clock: opts.clock ?? new ManualClock(),
    redisOptions: { retryStrategy: () => 50 },
  });
  t.teardown(() => gw.stop(0));
  if (opts.overrides?.webhooks === undefined) await gw.webhooks.stop();
  return gw;
}
