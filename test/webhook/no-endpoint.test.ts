/**
 * No endpoint, no events (docs/integration.md): a gateway without webhook endpoints writes
 * no event to any outbox, while the account's `seq` still advances, so an endpoint
 * configured later sees each account's events in order. With an endpoint the event is there.
 */
import { randomBytes } from 'node:crypto';
import t from 'tap';
import type { Gateway } from '../../src/gateway.js';
import { createTokenCodec, parseTokenSecrets } from '../../src/token/token.js';
import { fileReport } from '../helpers/desk.js';
import { startGateway, TEST_TOKEN_SECRET } from '../helpers/gateway.js';
import { tokenComplaint } from '../helpers/mail.js';
import { testRedis } from '../helpers/redis.js';
import { SmtpClient } from '../helpers/smtp.js';

const ADMIN = 'no-endpoint-admin-token-padded-to-32-chars-xx';
const codec = createTokenCodec(parseTokenSecrets(TEST_TOKEN_SECRET));

async function complain(gw: Gateway, account: string, recipient: string): Promise<void> {
  const c = await SmtpClient.connect(gw.smtpPort);
  try {
    const r = await c.send('fbl@isp.example', ['fbl@localhost'], tokenComplaint(codec, account, 'c1', recipient));
    if (r.code !== 250) throw new Error(`complaint refused: ${r.code} ${r.text}`);
  } finally {
    await c.quit().catch(() => {});
  }
}

/** Every outbox stream of the gateway's prefix: the partitions', the cases' and the global list's. */
function outboxes(gw: Gateway): string[] {
  const k = gw.store.keys;
  return [...Array.from({ length: k.partitions }, (_, p) => k.outbox(p)), k.cases.outbox, k.global.outbox];
}

async function entries(gw: Gateway): Promise<number> {
  const lens = await Promise.all(outboxes(gw).map((key) => gw.redis.xlen(key)));
  return lens.reduce((a, b) => a + b, 0);
}

t.test('no endpoint: nothing in any outbox, the order numbers advance; an endpoint added later continues them', async (t) => {
  const redis = await testRedis(t);
  const prefix = 'ne' + randomBytes(4).toString('hex');
  const bare = await startGateway(t, { redisUrl: redis.url, overrides: { admin: { token: ADMIN }, redis: { prefix }, webhooks: { url: null, secret: null, endpoints: [] } } });

  await complain(bare, 'acct-a', 'one@example.org');
  t.ok(await bare.store.getSuppression('acct-a', 'email', 'one@example.org'), 'the suppression is written');
  // An admin's suppression (global list) and a case: scripts of other slots.
  const add = await fetch(`http://127.0.0.1:${bare.httpPort}/v1/suppressions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ account: 'acct-a', address: 'two@example.org', reason: 'manual' }),
  });
  t.equal(add.status, 201);
  await fileReport(bare, { account: 'acct-a', campaign: 'c1', description: 'unsolicited' });

  t.equal(await entries(bare), 0, 'no outbox holds an entry');
  t.equal(await bare.redis.exists(...outboxes(bare)), 0, 'no outbox stream exists at all');
  t.equal(await bare.redis.hget(bare.store.keys.account('acct-a').meta, 'seq'), '2', "the account's seq advanced once per event not written");

  // The same Redis and prefix, now with an endpoint (its worker stopped, see helpers/gateway.ts).
  const sending = await startGateway(t, { redisUrl: redis.url, overrides: { admin: { token: ADMIN }, redis: { prefix } } });
  await complain(sending, 'acct-a', 'three@example.org');
  const events = await sending.store.outboxEvents(sending.store.keys.partitionOf('acct-a'));
  t.equal(events.length, 1, 'with an endpoint the event is written');
  t.match(events[0], { type: 'recipient.suppressed', data: { account: 'acct-a', address: 'three@example.org' }, seq: 3 }, 'numbered after the events not written');
});

t.test('an endpoint configured: the report writes its event to the outbox', async (t) => {
  const redis = await testRedis(t);
  const gw = await startGateway(t, { redisUrl: redis.url, overrides: { admin: { token: ADMIN } } });
  await complain(gw, 'acct-b', 'four@example.org');
  const events = await gw.store.outboxEvents(gw.store.keys.partitionOf('acct-b'));
  t.match(events, [{ type: 'recipient.suppressed', data: { account: 'acct-b', address: 'four@example.org' }, seq: 1 }]);
  t.equal(await entries(gw), 1);
});
