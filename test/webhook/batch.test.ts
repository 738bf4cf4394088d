/**
 * Releases of delivered events are batched (retries.ts Batch): while other POSTs are in
 * flight a delivered event waits up to batchMs to share their script call; with none in
 * flight it goes at once, so an account's events sent one after the other are not held.
 * A real Redis (MONITOR counts the release scripts) and a real receiver.
 */
import { randomBytes } from 'node:crypto';
import t from 'tap';
import { createLogger } from '../../src/log.js';
import { Keys } from '../../src/store/keys.js';
import { createRedis } from '../../src/store/redis.js';
import { WebhookWorker, type WebhookConfig } from '../../src/webhook/worker.js';
import { testRedis } from '../helpers/redis.js';
import { eventually, startReceiver } from './receiver.js';

const SECRET = 'whsec_' + Buffer.from('0123456789abcdef0123456789abcdef').toString('base64');

async function setup(t: Tap.Test, concurrency: number) {
  const server = await testRedis(t);
  const redis = createRedis({ url: server.url, commandTimeout: 2000 });
  await redis.connect();
  t.teardown(() => redis.disconnect());
  const rec = await startReceiver(t);
  const keys = new Keys('bt' + randomBytes(4).toString('hex'), 1);
  const config: WebhookConfig = { url: rec.url + '/hook', secret: SECRET, endpoints: [], timeoutMs: 5000, retrySchedule: [1], claimIdleMs: 60_000, concurrency };
  // releaseEvents: EVALSHA <sha> 3 <outbox> <retry set> <order> <now> and five per event.
  const releases: number[] = [];
  const monitor = await redis.monitor();
  t.teardown(() => monitor.disconnect());
  monitor.on('monitor', (_time: string, args: string[]) => {
    if (args[0]?.toLowerCase() === 'evalsha' && args[2] === '3' && args[3] === keys.outbox(0) && args[4] === keys.outboxRetry(0)) releases.push((args.length - 7) / 5);
  });
  const append = async (events: Array<{ account: string; n: number }>) => {
    const pipe = redis.pipeline();
    for (const { account, n } of events) {
      const event = { id: `evt_${account}_${n}`, type: 'recipient.suppressed', timestamp: new Date().toISOString(), data: { account }, seq: n };
      pipe.xadd(keys.outbox(0), '*', 'event', JSON.stringify(event), 'a', account);
    }
    await pipe.exec();
  };
  return { redis, rec, keys, config, releases, append };
}

t.test('deliveries that finish while others are in flight share one release', async (t) => {
  const { redis, rec, keys, config, releases, append } = await setup(t, 8);
  const N = 400;
  await append(Array.from({ length: N }, (_, i) => ({ account: `acct${i}`, n: 1 })));
  // A receiver that takes a few ms keeps the eight slots busy, as a real one does.
  rec.answer = () => new Promise((r) => setTimeout(() => r(204), 3));
  const worker = new WebhookWorker({ redis, keys, config, log: createLogger('silent'), pollMs: 50, maintenanceMs: 1000 }).start();
  t.teardown(() => worker.stop());
  await rec.until((r) => r.delivered().size === N, 30_000);
  await worker.stop();
  const released = () => releases.reduce((a, b) => a + b, 0);
  // MONITOR reports a command after it ran: the last may reach us a moment after stop().
  await eventually(async () => released() >= N, 5000, 'every release seen');
  t.equal(released(), N, 'every event released once');
  t.ok(releases.length <= N / 4, `${N} events released in ${releases.length} script calls`);
});

t.test("a lone delivery is released at once: an account's events, sent one after the other, are not held for batchMs", async (t) => {
  const { redis, rec, keys, config, releases, append } = await setup(t, 8);
  // Each event of the account waits for the release of the one before it; were a lone
  // release held for batchMs, five events would take four minutes.
  await append(Array.from({ length: 5 }, (_, i) => ({ account: 'acme', n: i + 1 })));
  const worker = new WebhookWorker({ redis, keys, config, log: createLogger('silent'), pollMs: 50, maintenanceMs: 1000, batchMs: 60_000 }).start();
  t.teardown(() => worker.stop());
  await rec.until((r) => r.delivered().size === 5, 20_000);
  t.same(rec.received.map((r) => JSON.parse(r.body).seq), [1, 2, 3, 4, 5], 'in order, once each');
  await eventually(async () => releases.length >= 5, 5000, 'five releases seen');
  t.same(releases, [1, 1, 1, 1, 1], 'each released on its own');
});
