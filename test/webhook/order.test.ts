/**
 * Ordered events: one account's events reach an endpoint in the order of their seq, and a
 * later event waits while an earlier one is in retry. A real gateway, a real receiver that
 * fails the first delivery, events made through the admin API.
 */
import t from 'tap';
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
