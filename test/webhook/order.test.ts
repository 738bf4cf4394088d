/**
 * Ordered events: one account's events reach an endpoint in the order of their seq, and a
 * later event waits while an earlier one is in retry. A real gateway, a real receiver that
 * fails the first delivery, events made through the admin API; then workers that read
 * several events of one account in one batch, that meet a backlog, that take over a head.
 */
import { randomBytes } from 'node:crypto';
import t from 'tap';
import { createLogger } from '../../src/log.js';
import { scriptOf } from '../../src/store/call.js';
import { Keys } from '../../src/store/keys.js';
import { createRedis } from '../../src/store/redis.js';
import { WebhookWorker, type WebhookConfig, groupName } from '../../src/webhook/worker.js';
import { startGateway } from '../helpers/gateway.js';
import { testRedis } from '../helpers/redis.js';
import { eventually, startReceiver } from './receiver.js';

const ADMIN = 'order-admin-token-0123456789abcdefghijklmnop';
const SECRET = 'whsec_' + Buffer.from('0123456789abcdef0123456789abcdef').toString('base64');

t.test("one account's events arrive in order at a receiver that fails the first delivery", async (t) => {
  const redis = await testRedis(t);
  const rec = await startReceiver(t);
  let failed: string | null = null;
  rec.answer = (r) => {
    if (failed === null) failed = r.id;
    return r.id === failed && rec.received.filter((x) => x.id === r.id).length === 0 ? 500 : 204;
  };
  const gw = await startGateway(t, {
    redisUrl: redis.url,
    overrides: { admin: { token: ADMIN }, webhooks: { url: rec.url + '/hook', secret: SECRET, retrySchedule: [1, 1], claimIdleMs: 5000, concurrency: 8 } },
  });
  const add = async (account: string, address: string) => {
    const res = await fetch(`http://127.0.0.1:${gw.httpPort}/v1/suppressions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN}` },
      body: JSON.stringify({ account, address, reason: 'manual' }),
    });
    t.equal(res.status, 201);
  };
  // Two accounts: the other's events are not held up by acme's retry.
  for (let i = 1; i <= 6; i++) {
    await add('acme', `user${i}@example.org`);
    await add('other', `user${i}@example.org`);
  }
  await rec.until((r) => r.delivered().size === 12, 20_000);
  const bodies = (account: string) => rec.received.map((r) => ({ ...r, e: JSON.parse(r.body) })).filter((r) => r.e.data.account === account);
  const acme = bodies('acme');
  t.equal(acme[0].status, 500, 'the first delivery failed');
  const delivered = acme.filter((r) => r.status === 204).map((r) => r.e.seq);
  t.same(delivered, [1, 2, 3, 4, 5, 6], 'delivered in seq order despite the retry');
  // Nothing of acme was even tried between the failure and the retry's success.
  t.same(acme.map((r) => r.e.seq), [1, 1, 2, 3, 4, 5, 6], 'later events waited for the retry');
  t.same(bodies('other').filter((r) => r.status === 204).map((r) => r.e.seq).sort((a, b) => a - b), [1, 2, 3, 4, 5, 6], 'the other account numbers its own events');
  // Released after the last 204 was answered: the key is free again.
  await eventually(async () => (await gw.store.redis.hlen(gw.store.keys.outboxOrder(gw.store.keys.partitionOf('acme')))) === 0, 5000, 'nothing left held');
});

t.test('events appended at once, read in one batch: each key in seq order, each delivered once, despite failures', async (t) => {
  const server = await testRedis(t);
  const redis = createRedis({ url: server.url, commandTimeout: 2000 });
  await redis.connect();
  t.teardown(() => redis.disconnect());
  const rec = await startReceiver(t);
  const keys = new Keys('b' + randomBytes(4).toString('hex'), 2);
  const config: WebhookConfig = { url: rec.url + '/hook', secret: SECRET, endpoints: [], timeoutMs: 2000, retrySchedule: [1, 1], claimIdleMs: 60_000, concurrency: 8 };
  // As lib/events.lua writes them: the account beside the event, numbered per account; all
  // appended before the worker starts, so one read takes several events of one account.
  const accounts = ['acme', 'other1', 'other2', 'other3'];
  const counts: Record<string, number> = { acme: 6, other1: 4, other2: 3, other3: 3 };
  const pipe = redis.pipeline();
  for (let seq = 1; seq <= 6; seq++) {
    for (const account of accounts) {
      if (seq > counts[account]) continue;
      const event = { id: `evt_${account}_${seq}`, type: 'recipient.suppressed', timestamp: new Date().toISOString(), data: { account }, seq };
      pipe.xadd(keys.outbox(keys.partitionOf(account)), '*', 'event', JSON.stringify(event), 'a', account);
    }
  }
  await pipe.exec();
  // acme's first event fails once, other1's second twice: the later ones of each must wait.
  rec.answer = (r, nth) => ((r.id === 'evt_acme_1' && nth === 1) || (r.id === 'evt_other1_2' && nth <= 2) ? 500 : 204);
  const worker = new WebhookWorker({ redis, keys, config, log: createLogger('silent'), retryUnitMs: 100, pollMs: 50, maintenanceMs: 100 }).start();
  t.teardown(() => worker.stop());
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  await rec.until((r) => r.delivered().size === total, 20_000);
  const tries = (account: string) => rec.received.filter((r) => JSON.parse(r.body).data.account === account);
  t.same(tries('acme').map((r) => [JSON.parse(r.body).seq, r.status]), [[1, 500], [1, 204], [2, 204], [3, 204], [4, 204], [5, 204], [6, 204]], 'acme: nothing later tried before its first went through');
  t.same(tries('other1').map((r) => [JSON.parse(r.body).seq, r.status]), [[1, 204], [2, 500], [2, 500], [2, 204], [3, 204], [4, 204]], 'other1: the third and fourth waited for the second');
  for (const account of ['other2', 'other3']) t.same(tries(account).map((r) => [JSON.parse(r.body).seq, r.status]), [[1, 204], [2, 204], [3, 204]], `${account}: in order, once each`);
  // Nothing left held, parked, waiting or pending.
  await eventually(async () => {
    const left = await Promise.all([0, 1].map(async (p) => (await redis.hlen(keys.outboxOrder(p))) + (await redis.zcard(keys.outboxRetry(p))) + ((await redis.xpending(keys.outbox(p), groupName(config.url!))) as [number])[0]));
    return left.every((n) => n === 0);
  }, 5000, 'every key released');
  t.equal(rec.received.filter((r) => r.status === 204).length, total, 'each event delivered exactly once');
});

t.test('a retry that falls due while a backlog keeps every slot busy goes then, not after the backlog', async (t) => {
  const server = await testRedis(t);
  const redis = createRedis({ url: server.url, commandTimeout: 2000 });
  await redis.connect();
  t.teardown(() => redis.disconnect());
  const rec = await startReceiver(t);
  const keys = new Keys('r' + randomBytes(4).toString('hex'), 2);
  const config: WebhookConfig = { url: rec.url + '/hook', secret: SECRET, endpoints: [], timeoutMs: 2000, retrySchedule: [1], claimIdleMs: 60_000, concurrency: 2 };
  const N = 1500;
  const pipe = redis.pipeline();
  const add = (account: string, n: number) => {
    const event = { id: `evt_${account}_${n}`, type: 'recipient.suppressed', timestamp: new Date().toISOString(), data: { account }, seq: 1 };
    pipe.xadd(keys.outbox(keys.partitionOf(account)), '*', 'event', JSON.stringify(event), 'a', account);
  };
  add('flaky', 1);
  for (let i = 0; i < N; i++) add(`acct${i}`, 1);
  await pipe.exec();
  rec.answer = (r, nth) => (r.id === 'evt_flaky_1' && nth === 1 ? 500 : 204);
  const worker = new WebhookWorker({ redis, keys, config, log: createLogger('silent'), retryUnitMs: 100, pollMs: 50, maintenanceMs: 100 }).start();
  t.teardown(() => worker.stop());
  await rec.until((r) => r.delivered().size === N + 1, 30_000);
  const at = rec.received.findIndex((r) => r.id === 'evt_flaky_1' && r.status === 204);
  const after = rec.received.slice(at + 1).length;
  t.ok(after > N / 10, `the retry went out with ${after} of ${N} other events still to come`);
});

t.test("a gateway that died holding a key's head: another takes the head over and the events behind it follow in order", async (t) => {
  const server = await testRedis(t);
  const redis = createRedis({ url: server.url, commandTimeout: 2000 });
  await redis.connect();
  t.teardown(() => redis.disconnect());
  const rec = await startReceiver(t);
  const keys = new Keys('g' + randomBytes(4).toString('hex'), 1);
  const config: WebhookConfig = { url: rec.url + '/hook', secret: SECRET, endpoints: [], timeoutMs: 2000, retrySchedule: [1], claimIdleMs: 500, concurrency: 4 };
  const group = groupName(config.url!);
  await redis.xgroup('CREATE', keys.outbox(0), group, '0', 'MKSTREAM');
  for (let seq = 1; seq <= 3; seq++) {
    const event = { id: `evt_acme_${seq}`, type: 'recipient.suppressed', timestamp: new Date().toISOString(), data: { account: 'acme' }, seq };
    await redis.xadd(keys.outbox(0), '*', 'event', JSON.stringify(event), 'a', 'acme');
  }
  // The other gateway read all three (the first became the head, the others wait behind it) and died.
  const sends = (await scriptOf(redis, 'readEvents')(keys.outbox(0), keys.outboxOrder(0), group, 'ghost', 10, 'all')) as string[];
  t.same(sends.filter((_, i) => i % 4 === 3), ['evt_acme_1'], 'the ghost was to send the head only');
  const started = Date.now();
  const worker = new WebhookWorker({ redis, keys, config, log: createLogger('silent'), retryUnitMs: 100, pollMs: 50, maintenanceMs: 100 }).start();
  t.teardown(() => worker.stop());
  await rec.until((r) => r.delivered().size === 3, 15_000);
  t.ok(Date.now() - started >= 450, 'the head was taken over after claimIdleMs');
  t.same(rec.received.map((r) => JSON.parse(r.body).seq), [1, 2, 3], 'each once, in order');
  await eventually(async () => (await redis.hlen(keys.outboxOrder(0))) === 0, 5000, 'the key released');
});

t.test('a gateway that stops hands back the entries it read and did not send: another sends them at once, not after claimIdleMs', async (t) => {
  const server = await testRedis(t);
  const redis = createRedis({ url: server.url, commandTimeout: 2000 });
  await redis.connect();
  t.teardown(() => redis.disconnect());
  const rec = await startReceiver(t);
  // Each POST takes 300 ms: the first gateway is still sending the first event when it stops.
  rec.answer = () => new Promise((r) => setTimeout(() => r(204), 300));
  const keys = new Keys('s' + randomBytes(4).toString('hex'), 1);
  const config: WebhookConfig = { url: rec.url + '/hook', secret: SECRET, endpoints: [], timeoutMs: 2000, retrySchedule: [1], claimIdleMs: 20_000, concurrency: 1 };
  const accounts = ['acme', 'beta', 'gamma', 'delta'];
  for (const [seq, account] of accounts.entries()) {
    const event = { id: `evt_${account}_1`, type: 'recipient.suppressed', timestamp: new Date().toISOString(), data: { account }, seq: seq + 1 };
    await redis.xadd(keys.outbox(0), '*', 'event', JSON.stringify(event), 'a', account);
  }
  const opts = { redis, keys, config, log: createLogger('silent'), retryUnitMs: 100, pollMs: 50, maintenanceMs: 100 };
  const first = new WebhookWorker({ ...opts, consumer: 'first' }).start();
  await rec.until((r) => r.received.length >= 1, 5000);
  await first.stop();
  t.equal(rec.delivered().size, 1, 'the first gateway sent one event and stopped');
  const stopped = Date.now();
  const second = new WebhookWorker({ ...opts, consumer: 'second' }).start();
  t.teardown(() => second.stop());
  await rec.until((r) => r.delivered().size === accounts.length, 15_000);
  t.ok(Date.now() - stopped < 5000, `the rest went within seconds of the stop (${Date.now() - stopped} ms), not after claimIdleMs (20 s)`);
  t.equal(rec.received.length, accounts.length, 'each event once');
  await eventually(async () => (await redis.hlen(keys.outboxOrder(0))) === 0, 5000, 'every key released');
});
