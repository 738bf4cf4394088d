/**
 * Each gateway mirrors the global suppression lists (src/store/globalMirror.ts): a single
 * lookup then reads only the account's list from Redis. Two real gateways share one Redis;
 * MONITOR shows which hashes a lookup read.
 */
import { randomBytes } from 'node:crypto';
import t from 'tap';
import { MIRROR_MAX } from '../../src/store/globalMirror.js';
import { createRedis } from '../../src/store/redis.js';
import { PLATFORM_AUTH, startGateway } from '../helpers/gateway.js';
import { testRedis } from '../helpers/redis.js';
import { eventually } from '../webhook/receiver.js';

const ADMIN = 'mirror-admin-token-0123456789abcdefghijklmnop';

async function setup(t: Tap.Test) {
  const redis = await testRedis(t);
  const prefix = 'm' + randomBytes(4).toString('hex');
  const start = () => startGateway(t, { redisUrl: redis.url, overrides: { admin: { token: ADMIN }, redis: { prefix } } });
  const client = createRedis({ url: redis.url, commandTimeout: 2000 });
  await client.connect();
  t.teardown(() => client.disconnect());
  // HGETs seen on a global list's hash, per key.
  const reads: string[] = [];
  const monitor = await client.monitor();
  t.teardown(() => monitor.disconnect());
  monitor.on('monitor', (_time: string, args: string[]) => {
    if (args[0]?.toLowerCase() === 'hget' && args[1]?.startsWith(`${prefix}:{g}:sup:`)) reads.push(args[1]);
  });
  return { redis, client, prefix, start, reads };
}

const lookup = async (port: number, account: string, address: string, channel = 'email') => {
  const res = await fetch(`http://127.0.0.1:${port}/v1/suppressions/${account}/${encodeURIComponent(address)}${channel === 'sms' ? '?channel=sms' : ''}`, { headers: PLATFORM_AUTH });
  return { status: res.status, body: (await res.json()) as { suppressed: boolean; scope?: string } };
};

const admin = (port: number, method: 'POST' | 'DELETE', body: Record<string, string>) =>
  fetch(`http://127.0.0.1:${port}/v1/suppressions${method === 'DELETE' ? `/${body.account}/${encodeURIComponent(body.address)}` : ''}`, {
    method,
    headers: { ...(method === 'POST' ? { 'content-type': 'application/json' } : {}), authorization: `Bearer ${ADMIN}` },
    body: method === 'POST' ? JSON.stringify(body) : undefined,
  });

t.test("a change through one gateway reaches the other's mirror; lookups read only the account's list", async (t) => {
  const { start, reads } = await setup(t);
  const a = await start();
  t.equal((await admin(a.httpPort, 'POST', { account: '*', address: 'trap1@example.org', reason: 'spamtrap' })).status, 201, 'on the global list before b starts');
  const b = await start();
  await eventually(() => b.globalMirror.whole, 5000, 'b mirrored the lists');
  reads.length = 0;
  t.same(await lookup(b.httpPort, 'acme', 'trap1@example.org'), { status: 200, body: (await lookup(a.httpPort, 'acme', 'trap1@example.org')).body }, 'loaded at start');
  t.equal((await lookup(b.httpPort, 'acme', 'trap1@example.org')).body.scope, 'global');
  t.equal((await lookup(b.httpPort, 'acme', 'nobody@example.org')).status, 404);

  t.equal((await admin(a.httpPort, 'POST', { account: '*', address: 'trap2@example.org', reason: 'spamtrap' })).status, 201);
  await eventually(async () => (await lookup(b.httpPort, 'acme', 'trap2@example.org')).status === 200, 3000, "b sees a's add");
  t.equal((await admin(a.httpPort, 'DELETE', { account: '*', address: 'trap1@example.org' })).status, 200);
  await eventually(async () => (await lookup(b.httpPort, 'acme', 'trap1@example.org')).status === 404, 3000, "b sees a's removal");
  // The re-reads of the announced addresses are the only reads of the global hash.
  const lookups = reads.length;
  await lookup(b.httpPort, 'acme', 'trap2@example.org');
  await lookup(a.httpPort, 'acme', 'other@example.org');
  t.equal(reads.length, lookups, 'no HGET on the global list for a lookup');
});

t.test('the subscription drops: lookups ask Redis until the mirror is whole again, and a change made meanwhile is seen', async (t) => {
  const { client, start, reads } = await setup(t);
  const a = await start();
  const b = await start();
  await eventually(() => a.globalMirror.whole && b.globalMirror.whole, 5000, 'both mirrored');
  // Kill every subscribed connection, and keep them down while the list changes: a change
  // announced then is heard by no one.
  await client.call('CLIENT', 'PAUSE', '300', 'WRITE');
  await client.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
  await client.call('CLIENT', 'UNPAUSE');
  t.notOk(b.globalMirror.whole, 'dropped with its connection');
  reads.length = 0;
  t.equal((await lookup(b.httpPort, 'acme', 'trap@example.org')).status, 404);
  t.ok(reads.length > 0 || b.globalMirror.whole, 'asked Redis while not whole');
  t.equal((await admin(a.httpPort, 'POST', { account: '*', address: 'trap@example.org', reason: 'spamtrap' })).status, 201);
  t.equal((await lookup(b.httpPort, 'acme', 'trap@example.org')).status, 200, 'right at once, from Redis or from a reloaded mirror');
  await eventually(() => b.globalMirror.whole, 5000, 'whole again');
  t.equal((await lookup(b.httpPort, 'acme', 'trap@example.org')).status, 200, 'and from memory');
});

t.test('a global list longer than MIRROR_MAX is not mirrored: its lookups ask Redis; the other list is mirrored', async (t) => {
  const { client, prefix, start, reads } = await setup(t);
  const key = `${prefix}:{g}:sup:sms`;
  const rec = JSON.stringify({ reason: 'spamtrap', source: 'admin', at: new Date().toISOString() });
  for (let i = 0; i <= MIRROR_MAX; i += 10_000) {
    const args: string[] = [];
    for (let j = i; j < Math.min(i + 10_000, MIRROR_MAX + 1); j++) args.push(`+4475${String(j).padStart(8, '0')}`, rec);
    await client.hset(key, ...args);
  }
  const gw = await start();
  await eventually(() => gw.globalMirror.whole, 10_000, 'mirrored');
  reads.length = 0;
  t.equal((await lookup(gw.httpPort, 'acme', '+447500000007', 'sms')).status, 200, 'found on the long list');
  t.same(reads, [key], 'read from Redis');
  reads.length = 0;
  t.equal((await lookup(gw.httpPort, 'acme', 'someone@example.org')).status, 404);
  t.same(reads, [], 'email: from memory');
});
