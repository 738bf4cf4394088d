/**
 * Honest errors: only Redis being unreachable or busy is an outage (451 STORE_UNAVAILABLE,
 * retried for ever by the sender). Anything else is a bug: logged with its stack, counted,
 * answered 451 INTERNAL_FAULT once; the same message again is quarantined (250) instead of
 * being refused for ever. And a script called with the wrong number of arguments refuses.
 */
import t from 'tap';
import { ManualClock } from '../../src/clock.js';
import { registry } from '../../src/metrics.js';
import { SCRIPT_VERSION, redisUnavailable, scriptText } from '../../src/store/redis.js';
import { startGateway } from '../helpers/gateway.js';
import { tokenComplaint } from '../helpers/mail.js';
import { testRedis } from '../helpers/redis.js';
import { SmtpClient } from '../helpers/smtp.js';

async function faults(edge: string): Promise<number> {
  const m = (await registry.getSingleMetric('abusegate_internal_faults_total')?.get())?.values.find((v) => v.labels.edge === edge);
  return m?.value ?? 0;
}

t.test('a bug is not an outage: 451 INTERNAL_FAULT once, then quarantine', async (t) => {
  const redis = await testRedis(t);
  const gw = await startGateway(t, { redisUrl: redis.url, clock: new ManualClock(Date.parse('2026-07-01T09:00:00Z')) });
  const smtp = await SmtpClient.connect(gw.smtpPort);
  t.teardown(() => smtp.quit());
  // A key of the wrong type: Redis answers WRONGTYPE, which no retry will ever cure.
  await gw.store.redis.set(gw.store.keys.account('broken').meta, 'not a hash');
  const msg = tokenComplaint(gw.codec!, 'broken', 'c1', 'jane@example.com');
  const before = await faults('smtp');
  const first = await smtp.send('fbl@isp.example', ['fbl@localhost'], msg);
  t.equal(first.code, 451);
  t.match(first.text, /^4\.3\.0 An internal error/, 'the distinct code, not "could not be recorded"');
  t.equal(await faults('smtp'), before + 1, 'counted');
  const again = await smtp.send('fbl@isp.example', ['fbl@localhost'], msg);
  t.equal(again.code, 250, 'the same message again is taken, not refused for ever');
  const q = await gw.store.listQuarantine(5);
  t.match(q[0], { mailbox: 'fbl', reason: /^internal fault: WRONGTYPE/ });
  t.ok((await gw.store.redis.pttl(gw.store.keys.quarantined(q[0].id))) > 0, 'kept in a key of its own, with a TTL');

  // Redis away is an outage: STORE_UNAVAILABLE, and not a fault.
  await redis.stop();
  const down = await smtp.send('fbl@isp.example', ['fbl@localhost'], tokenComplaint(gw.codec!, 'acme', 'c1', 'joe@example.com'));
  t.equal(down.code, 451);
  t.match(down.text, /could not be recorded/);
  t.equal(await faults('smtp'), before + 2, 'no new fault for an outage');
  await redis.start();
});

t.test('what counts as Redis being unavailable', async (t) => {
  t.ok(redisUnavailable(new Error('Command timed out')));
  t.ok(redisUnavailable(new Error('Connection is closed.')));
  t.ok(redisUnavailable(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })));
  t.ok(redisUnavailable(new Error('CLUSTERDOWN The cluster is down')));
  t.ok(redisUnavailable(new Error('OOM command not allowed when used memory > maxmemory')));
  t.notOk(redisUnavailable(new Error('WRONGTYPE Operation against a key holding the wrong kind of value')));
  t.notOk(redisUnavailable(new TypeError("Cannot read properties of undefined (reading 'x')")));
  t.notOk(redisUnavailable(new Error('ERR user_script:1: Script attempted to access nonexistent global variable')));
});

t.test('scripts check their argument count; a key beyond the file name fails at start', async (t) => {
  const redis = await testRedis(t);
  const gw = await startGateway(t, { redisUrl: redis.url });
  const call = (gw.store.redis as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[SCRIPT_VERSION + 'hit'].bind(gw.store.redis);
  t.equal(await call('t:{rl}:x', 60_000, 1), 1);
  // One argument too many (a key added on the caller's side, shifting ARGV).
  await t.rejects(call('t:{rl}:x', 'extra', 60_000, 1), /hit: wants 1 keys and 2 arguments, got 1 and 3/);
  t.throws(() => scriptText('x', 1, 'return KEYS[2]'), /uses KEYS\[2\] but its file name says 1 keys/);
});
