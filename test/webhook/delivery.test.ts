import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { Redis } from 'ioredis';
import t from 'tap';
import { runWebhooks } from '../../src/cli/webhooks.js';
import { createLogger } from '../../src/log.js';
import { registry } from '../../src/metrics.js';
import { Keys } from '../../src/store/keys.js';
import { createRedis } from '../../src/store/redis.js';
import type { OutboxEvent } from '../../src/store/store.js';
import { verify } from '../../src/webhook/sign.js';
import { countDeadLetters, latestDeadLetters, replayDeadLetters } from '../../src/webhook/replay.js';
import { WebhookWorker, type WebhookConfig, groupName } from '../../src/webhook/worker.js';
import { testRedis, type TestRedis } from '../helpers/redis.js';
import { eventually, startReceiver, type Receiver } from './receiver.js';

const secret = () => 'whsec_' + randomBytes(32).toString('base64');

let server: TestRedis;
t.before(async () => {
  server = await testRedis(t);
});

interface Setup {
  redis: Redis;
  keys: Keys;
  worker: WebhookWorker;
  add(where: number | 'cases', type: string, data?: Record<string, unknown>): Promise<OutboxEvent & { raw: string }>;
}

async function setup(t: Tap.Test, config: Partial<WebhookConfig>, opts: { prefix?: string; partitions?: number; start?: boolean } = {}): Promise<Setup> {
  const redis = createRedis({ url: server.url, commandTimeout: 2000 });
  await redis.connect();
  t.teardown(() => redis.disconnect());
  const keys = new Keys(opts.prefix ?? 't' + randomBytes(4).toString('hex'), opts.partitions ?? 4);
  const full: WebhookConfig = { url: null, secret: null, endpoints: [], timeoutMs: 2000, retrySchedule: [1, 1], claimIdleMs: 1000, concurrency: 4, ...config };
  const worker = new WebhookWorker({ redis, keys, config: full, log: createLogger(process.env.TEST_LOG ?? 'silent'), retryUnitMs: 100, pollMs: 50, maintenanceMs: 100 });
  if (opts.start !== false) worker.start();
  t.teardown(() => worker.stop());
  let n = 0;
  return {
    redis,
    keys,
    worker,
    async add(where, type, data = {}) {
      const evt: OutboxEvent = { id: `evt_${Date.now()}${String(n++).padStart(4, '0')}${randomBytes(2).toString('hex')}`, type, timestamp: new Date().toISOString(), data };
      const raw = JSON.stringify(evt);
      await redis.xadd(where === 'cases' ? keys.cases.outbox : keys.outbox(where), '*', 'event', raw);
      return { ...evt, raw };
    },
  };
}

function checkSigned(t: Tap.Test, rec: Receiver, secrets: string) {
  const bad = rec.received.flatMap((r) => {
    const v = verify({ secrets, id: r.id, timestamp: r.timestamp, signature: r.signature, body: r.body });
    return v.ok ? (JSON.parse(r.body).id === r.id ? [] : [`${r.id}: webhook-id is not the event id`]) : [`${r.id}: ${v.reason}`];
  });
  t.same(bad, [], `${rec.received.length} requests: signatures verify, webhook-id is the event id`);
}

async function metric(name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
  const v = m?.values.find((x) => Object.entries(labels).every(([k, val]) => (x.labels as Record<string, unknown>)[k] === val));
  return Number(v?.value ?? 0);
}

t.test('every event reaches every endpoint that wants it, signed (rotation: both signatures)', async (t) => {
  const a = await startReceiver(t);
  const b = await startReceiver(t);
  const secretsA = `${secret()} ${secret()}`;
  const secretB = secret();
  const s = await setup(t, { url: a.url + '/all', secret: secretsA, endpoints: [{ url: b.url + '/accounts', secret: secretB, types: ['account.suspended'] }] });
  const sent: Array<OutboxEvent & { raw: string }> = [];
  for (let i = 0; i < 20; i++) sent.push(await s.add(i % 4, i % 3 === 0 ? 'account.suspended' : 'recipient.suppressed', { account: `acct${i}` }));
  sent.push(await s.add('cases', 'case.opened', { caseId: 'case_1' }));
  const suspended = sent.filter((e) => e.type === 'account.suspended');
  await a.until((r) => r.delivered().size === sent.length);
  await b.until((r) => r.delivered().size === suspended.length);
  t.same([...a.delivered()].sort(), sent.map((e) => e.id).sort(), 'endpoint A: every event');
  t.same([...b.delivered()].sort(), suspended.map((e) => e.id).sort(), 'endpoint B: only the type it asked for');
  t.ok(a.received.every((r) => r.signature.split(' ').length === 2), 'two signatures during a rotation');
  for (const one of secretsA.split(' ')) {
    t.ok(a.received.every((r) => verify({ secrets: one, id: r.id, timestamp: r.timestamp, signature: r.signature, body: r.body }).ok), 'each secret verifies alone');
  }
  checkSigned(t, b, secretB);
  const byId = new Map(sent.map((e) => [e.id, e.raw]));
  t.ok(a.received.every((r) => r.body === byId.get(r.id)), 'the body is the outbox event, byte for byte');
  t.ok(Math.abs(Number(a.received[0].timestamp) - Date.now() / 1000) < 30, 'webhook-timestamp is now, in seconds');
  // The receiver counts when it answers; the worker a moment later, when it reads the answer.
  await eventually(async () => (await metric('abusegate_webhook_deliveries_total', { endpoint: 'default', result: 'delivered' })) >= sent.length, 5000, 'counted');
  await eventually(async () => (await metric('abusegate_webhook_deliveries_total', { endpoint: '0', result: 'delivered' })) >= suspended.length, 5000, 'counted');

  // Delivered everywhere: the streams are trimmed and nothing is owed.
  await eventually(async () => {
    const lens = await Promise.all([0, 1, 2, 3].map((p) => s.redis.xlen(s.keys.outbox(p))));
    return lens.every((n) => n <= 1);
  }, 5000, 'outbox trimmed');
  await eventually(async () => (await metric('abusegate_outbox_depth')) === 0, 5000, 'depth 0');
  t.equal(await metric('abusegate_outbox_oldest_age_seconds'), 0);
});

t.test('a 500 and a timeout are retried and delivered later, with the same webhook-id and body', async (t) => {
  const rec = await startReceiver(t);
  const sec = secret();
  const s = await setup(t, { url: rec.url, secret: sec, timeoutMs: 300, retrySchedule: [1, 1, 1] });
  const failing = await s.add(0, 'account.warned');
  const slow = await s.add(1, 'account.suspended');
  const fine = await s.add(2, 'recipient.suppressed');
  rec.answer = (r, nth) => {
    if (r.id === failing.id && nth <= 2) return 500;
    if (r.id === slow.id && nth === 1) return new Promise((res) => setTimeout(() => res(200), 1500));
    return 200;
  };
  await rec.until((r) => r.delivered().size === 3);
  const tries = (id: string) => rec.received.filter((r) => r.id === id);
  t.same(tries(failing.id).map((r) => r.status), [500, 500, 200], '500, 500, then delivered');
  t.equal(tries(fine.id).length, 1);
  t.ok(tries(slow.id).length >= 1);
  // The first answer to the slow one came after the timeout: the worker had already retried.
  await eventually(() => rec.received.filter((r) => r.id === slow.id).length >= 2, 5000, 'slow retried');
  t.ok(new Set(tries(failing.id).map((r) => r.body)).size === 1, 'same body each time');
  checkSigned(t, rec, sec);
  await eventually(async () => (await s.redis.zcard(s.keys.outboxRetry(0))) + (await s.redis.zcard(s.keys.outboxRetry(1))) === 0, 5000, 'retry sets empty');
  t.ok((await metric('abusegate_webhook_deliveries_total', { endpoint: 'default', result: 'timeout' })) >= 1, 'timeout counted');
  t.ok((await metric('abusegate_webhook_deliveries_total', { endpoint: 'default', result: 'failed' })) >= 2, 'failures counted');
});

t.test('after the last retry the event is a dead letter; replay sends it again', async (t) => {
  const rec = await startReceiver(t);
  rec.answer = () => 503;
  const sec = secret();
  const prefix = 'r' + randomBytes(4).toString('hex');
  const s = await setup(t, { url: rec.url, secret: sec, retrySchedule: [1] }, { prefix, partitions: 4 });
  const dead1 = await s.add(3, 'account.warned');
  const dead2 = await s.add('cases', 'case.updated');
  const deadBefore = await metric('abusegate_webhook_dead_letters_total', { endpoint: 'default' });
  const deadCount = () => countDeadLetters(s.redis, s.keys);
  await eventually(async () => (await deadCount()) === 2, 10_000, 'two dead letters');
  // Each in its outbox's slot, beside the entry it released (issue 16).
  t.equal(await s.redis.xlen(s.keys.outboxDead(3)), 1, "the account's in its partition's stream");
  t.equal(await s.redis.xlen(s.keys.cases.outboxDead), 1, "the case's in the cases' stream");
  t.equal(rec.received.filter((r) => r.id === dead1.id).length, 2, 'tried twice: once, then after the one retry');
  const [[, fields]] = (await s.redis.xrange(s.keys.outboxDead(3), '-', '+', 'COUNT', 1)) as Array<[string, string[]]>;
  const letter = Object.fromEntries(fields.reduce<string[][]>((acc, v, i) => (i % 2 ? acc[acc.length - 1].push(v) : acc.push([v]), acc), []));
  t.match(letter, { endpoint: 'default', group: groupName(rec.url), partition: '3', attempts: '2', error: 'HTTP 503' });
  // The desk reads the newest over every stream and replays one by its id and partition.
  const latest = await latestDeadLetters(s.redis, s.keys, 10);
  t.same(latest.map((d) => d.fields.partition).sort(), ['3', 'cases'], 'both streams read');
  t.same(await replayDeadLetters(s.redis, s.keys, { id: latest[0].id, partition: latest[0].fields.partition, dryRun: true }), { queued: 1, skipped: 0 }, 'one letter by its id and partition');
  // The counter moves just after the stream write this test saw: wait for it rather than race it.
  await eventually(async () => (await metric('abusegate_webhook_dead_letters_total', { endpoint: 'default' })) === deadBefore + 2, 5000, 'both dead letters counted');

  // The receiver is fixed; replay only the account events first.
  rec.answer = () => 200;
  const dir = server.dir;
  const cfg = join(dir, `replay-${prefix}.yaml`);
  writeFileSync(cfg, `redis:\n  prefix: ${prefix}\n  partitions: 4\n`);
  const run = async (...args: string[]) => {
    const out = new PassThrough();
    const err = new PassThrough();
    let text = '';
    out.on('data', (d) => (text += d));
    err.on('data', (d) => (text += d));
    const code = await runWebhooks(args, { out, err, stdin: new PassThrough(), env: { REDIS_URL: server.url, ABUSEGATE_CONFIG: cfg } });
    return { code, text };
  };
  t.same(await run('replay', '--type', 'account.warned', '--dry-run'), { code: 0, text: 'would queue 1 dead letter for delivery\n' });
  t.same(await run('replay', '--type', 'account.warned'), { code: 0, text: 'queued 1 dead letter for delivery\n' });
  await rec.until((r) => r.delivered().has(dead1.id));
  t.notOk(rec.delivered().has(dead2.id), 'the other type stays dead');
  t.equal(await deadCount(), 1);
  t.same(await run('replay', '--since', new Date(Date.now() + 3_600_000).toISOString()), { code: 0, text: 'queued 0 dead letters for delivery\n' }, '--since later: none');
  t.same(await run('replay'), { code: 0, text: 'queued 1 dead letter for delivery\n' });
  await rec.until((r) => r.delivered().has(dead2.id));
  checkSigned(t, rec, sec);
  t.equal(await deadCount(), 0);
  t.equal((await run('replay', '--since', 'yesterday')).code, 2, 'a bad date is a usage error');
});

t.test('entries a vanished gateway left pending are taken over after claimIdleMs', async (t) => {
  const rec = await startReceiver(t);
  const sec = secret();
  const s = await setup(t, { url: rec.url, secret: sec, claimIdleMs: 1000 }, { start: false });
  const group = groupName(rec.url);
  await s.redis.xgroup('CREATE', s.keys.outbox(2), group, '0', 'MKSTREAM');
  const e = await s.add(2, 'account.suspended');
  // Another gateway read it and died before answering.
  const taken = await s.redis.xreadgroup('GROUP', group, 'ghost', 'COUNT', 10, 'STREAMS', s.keys.outbox(2), '>');
  t.ok(taken, 'the ghost holds it');
  const started = Date.now();
  s.worker.start();
  await rec.until((r) => r.delivered().has(e.id));
  t.ok(Date.now() - started >= 900, 'not before claimIdleMs');
  await eventually(async () => {
    const p = (await s.redis.xpending(s.keys.outbox(2), group)) as [number];
    return p[0] === 0;
  }, 5000, 'acknowledged');
});

t.test('stop() waits for the deliveries in flight', async (t) => {
  const rec = await startReceiver(t);
  const s = await setup(t, { url: rec.url, secret: secret() });
  let release!: () => void;
  const gate = new Promise<number>((r) => (release = () => r(200)));
  rec.answer = () => gate;
  const e = await s.add(1, 'account.reinstated');
  await eventually(async () => ((await s.redis.xpending(s.keys.outbox(1), groupName(rec.url))) as [number])[0] === 1, 5000, 'in flight');
  let stopped = false;
  const stopping = s.worker.stop().then(() => (stopped = true));
  await new Promise((r) => setTimeout(r, 200));
  t.notOk(stopped, 'still waiting for the receiver');
  release();
  await stopping;
  await rec.until((r) => r.delivered().has(e.id));
  const pending = (await s.redis.xpending(s.keys.outbox(1), groupName(rec.url))) as [number];
  t.equal(pending[0], 0, 'acknowledged before stop() returned');
});

t.test('a lagging endpoint holds the trim; the gauges show what is owed', async (t) => {
  const a = await startReceiver(t);
  const b = await startReceiver(t);
  b.answer = () => 'hang';
  const s = await setup(t, { url: a.url, secret: secret(), endpoints: [{ url: b.url, secret: secret(), types: null }], timeoutMs: 60_000, concurrency: 8, retrySchedule: [1] });
  for (let i = 0; i < 3; i++) await s.add(0, 'recipient.suppressed');
  await a.until((r) => r.delivered().size === 3);
  await b.until((r) => r.received.length === 3);
  await eventually(async () => (await metric('abusegate_outbox_depth')) === 3, 5000, 'depth 3: owed to B');
  t.equal(await s.redis.xlen(s.keys.outbox(0)), 3, 'kept for B');
  await eventually(async () => (await metric('abusegate_outbox_oldest_age_seconds')) > 0.2, 5000, 'oldest age grows');
  // Let the hanging requests fail now, so stop() does not wait for their timeout.
  await b.close();
});
