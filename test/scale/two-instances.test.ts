/**
 * Two gateway processes on one Redis, as a deployment behind a load balancer runs them:
 * concurrent reports for the same accounts through both keep counts, deduplication and
 * suspensions exact — one suspension per account, not one per process.
 */
import t from 'tap';
import { createTokenCodec, parseTokenSecrets } from '../../src/token/token.js';
import { deliverAll, type Outgoing } from '../cluster/helpers.js';
import { startChild } from '../helpers/child.js';
import { TEST_TOKEN_SECRET } from '../helpers/gateway.js';
import { tokenComplaint } from '../helpers/mail.js';
import { testRedis } from '../helpers/redis.js';
import { startReceiver } from '../webhook/receiver.js';

const ADMIN = 'two-instances-admin-padded-to-32-chars-xxxxxxx';
const SECRET = 'whsec_' + Buffer.from('two-instances-webhook-secret-0123456789').toString('base64');
const codec = createTokenCodec(parseTokenSecrets(TEST_TOKEN_SECRET));

function complaint(account: string, recipient: string): Outgoing {
  return {
    from: 'fbl@isp.example',
    to: 'fbl@localhost',
    message: tokenComplaint(codec, account, 'c1', recipient),
  };
}

t.test('two gateways on one Redis: counts, dedup and suspensions stay exact', async (t) => {
  const redis = await testRedis(t);
  // Without an endpoint no event is written (docs/integration.md): the events are counted as the platform receives them.
  const rec = await startReceiver(t);
  const env = { REDIS_URL: redis.url, ABUSEGATE_TOKEN_SECRET: TEST_TOKEN_SECRET, ABUSEGATE_ADMIN_TOKEN: ADMIN, ABUSEGATE_POLICY_PORT: '0', ABUSEGATE_WEBHOOK_URL: rec.url + '/hook', ABUSEGATE_WEBHOOK_SECRET: SECRET };
  const gws = await Promise.all([startChild(env), startChild(env)]);
  t.teardown(() => Promise.all(gws.map((g) => (g.proc.kill('SIGKILL'), g.exited))));
  const api = async (g: number, method: string, path: string, body?: unknown) => {
    const res = await fetch(`http://127.0.0.1:${gws[g].httpPort}${path}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, body: (await res.json()) as any };
  };

  // Four accounts that will cross 0.3 % (50 complaints on 10,000 sent) and one that stays
  // under the warning line (20 on 100,000).
  const hot = ['hot-0', 'hot-1', 'hot-2', 'hot-3'];
  const sent = [...hot.map((account) => ({ type: 'sent', account, count: 10_000 })), { type: 'sent', account: 'calm', count: 100_000 }];
  t.equal((await api(1, 'POST', '/v1/events', { events: sent })).status, 202);

  const unique: Outgoing[] = [];
  for (const a of hot) for (let r = 0; r < 50; r++) unique.push(complaint(a, `r${r}@example.org`));
  for (let r = 0; r < 20; r++) unique.push(complaint('calm', `r${r}@example.org`));
  // Each unique report goes to one gateway, alternately; 10 per hot account are redelivered
  // to the other one too (an ISP retrying through the load balancer), at the same time.
  const perGateway: Outgoing[][] = [[], []];
  unique.forEach((m, i) => perGateway[i % 2].push(m));
  hot.forEach((_, h) => {
    for (let r = 0; r < 10; r++) {
      const i = h * 50 + r;
      perGateway[(i + 1) % 2].push(unique[i]);
    }
  });
  // Interleave so that each duplicate is in flight near its original.
  for (const list of perGateway) list.sort((a, b) => a.message.length - b.message.length || (a.message < b.message ? -1 : 1));
  const results = await Promise.all(perGateway.map((list, g) => deliverAll(gws[g].smtpPort, list, { concurrency: 8 })));
  t.ok(results.flat().every((d) => d.replies.length === 1 && d.replies[0].code === 250), `all ${results.flat().length} deliveries accepted at once`);

  // 4 × (50 recipient.suppressed, account.warned, account.suspended) + 20 for calm; at least
  // once, so a delivery repeated by the other gateway is counted once (by webhook-id).
  await rec.until((r) => r.delivered().size >= 4 * 52 + 20, 60_000);
  const byId = new Map(rec.received.filter((r) => r.status < 300).map((r) => [r.id, JSON.parse(r.body)]));
  const events = async (account: string) => [...byId.values()].filter((e) => e.data.account === account);

  for (const a of hot) {
    const acct = await api(0, 'GET', `/v1/accounts/${a}`);
    t.equal(acct.body.windows[0].complaints, 50, `${a}: 50 complaints, the 10 duplicates counted once`);
    t.equal(acct.body.status, 'suspended', `${a}: suspended`);
    t.equal(acct.body.suspendReason, 'complaint-rate');
    t.equal(acct.body.warnings.length, 1, `${a}: one warning`);
    const ev = await events(a);
    t.equal(ev.filter((e) => e.type === 'account.suspended').length, 1, `${a}: exactly one account.suspended`);
    t.equal(ev.filter((e) => e.type === 'account.warned').length, 1, `${a}: exactly one account.warned`);
    const sup = ev.filter((e) => e.type === 'recipient.suppressed');
    t.equal(sup.length, 50, `${a}: one recipient.suppressed per recipient`);
    t.equal(new Set(sup.map((e) => e.data.address)).size, 50);
  }
  const calm = await api(1, 'GET', '/v1/accounts/calm');
  t.equal(calm.body.windows[0].complaints, 20);
  t.equal(calm.body.status, 'active');
  t.same((await events('calm')).filter((e) => e.type.startsWith('account.')), [], 'calm: no account event');

  // Both gateways see the same state.
  const [a0, a1] = await Promise.all([api(0, 'GET', '/v1/accounts/hot-2'), api(1, 'GET', '/v1/accounts/hot-2')]);
  t.same(a0.body, a1.body, 'both processes answer the same');
});
