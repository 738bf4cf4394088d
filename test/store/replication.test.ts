/**
 * Durable on failover (store/replication.ts): a real primary and replica. A write is
 * acknowledged (250, 2xx) only once the replica holds it; a replica that does not confirm in
 * redis.waitTimeoutMs gets the sender a 451 / 503 STORE_NOT_REPLICATED, and its retry
 * counts once.
 */
import { Redis } from 'ioredis';
import t from 'tap';
import { ManualClock } from '../../src/clock.js';
import { slotOf } from '../../src/store/keys.js';
import { registry } from '../../src/metrics.js';
import { addOperator, fileReport, OPERATOR } from '../helpers/desk.js';
import { PLATFORM_AUTH, startGateway, TEST_TOKEN_SECRET } from '../helpers/gateway.js';
import { tokenComplaint } from '../helpers/mail.js';
import { replicatedRedis, testRedis } from '../helpers/redis.js';
import { SmtpClient } from '../helpers/smtp.js';
import { createTokenCodec, parseTokenSecrets } from '../../src/token/token.js';

const ADMIN = 'admin-secret-token-padded-to-32-chars-xxxxxxx';
const codec = createTokenCodec(parseTokenSecrets(TEST_TOKEN_SECRET));

async function notReplicated(): Promise<number> {
  const m = (await registry.getSingleMetric('abusegate_writes_not_replicated_total')!.get()).values[0];
  return m?.value ?? 0;
}

t.test('slotOf agrees with Redis Cluster (hash tags included)', async (t) => {
  // Values from CLUSTER KEYSLOT.
  t.equal(slotOf('foo'), 12182);
  t.equal(slotOf('123456789'), 12739);
  t.equal(slotOf('ag:{p7}:a:x:meta'), slotOf('p7'));
  t.equal(slotOf('a{}b'), slotOf('a{}b'), 'an empty tag hashes the whole key');
  t.not(slotOf('a{}b'), slotOf(''));
});

t.test('a primary with a replica: no acknowledgement before the replica holds the write', async (t) => {
  const pair = await replicatedRedis(t);
  const clock = new ManualClock(Date.parse('2026-03-10T12:00:00Z'));
  // waitReplicas left at null: found out from INFO replication (one replica → 1).
  const gw = await startGateway(t, { redisUrl: pair.url, clock, overrides: { admin: { token: ADMIN }, redis: { commandTimeout: 2000, waitTimeoutMs: 300 } } });
  t.equal(await gw.store.replication.replicas(), 1, 'a Redis with a replica: writes wait for 1');
  const replica = new Redis(pair.replicaPort, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => 100 });
  replica.on('error', () => {});
  t.teardown(() => replica.disconnect());
  const suppressedOnReplica = (account: string, address: string) => replica.hget(gw.store.keys.account(account).suppressions('email'), address);
  const smtp = async (msg: string) => {
    const c = await SmtpClient.connect(gw.smtpPort);
    try {
      return await c.send('fbl@isp.example', ['fbl@localhost'], msg);
    } finally {
      await c.quit().catch(() => {});
    }
  };
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`http://127.0.0.1:${gw.httpPort}${path}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, body: (await res.json()) as any };
  };

  t.test('the 250 comes once the replica has the suppression', async (t) => {
    const r = await smtp(tokenComplaint(codec, 'acct-a', 'c1', 'one@example.org'));
    t.equal(r.code, 250, r.text);
    // Read at once from the replica: WAIT answered only after it acknowledged the write.
    t.ok(await suppressedOnReplica('acct-a', 'one@example.org'), 'the replica holds the suppression when the 250 is sent');
  });

  t.test('a replica that acknowledges nothing: 451 4.3.0 after waitTimeoutMs, counted', async (t) => {
    const before = await notReplicated();
    pair.pauseReplica();
    const msg = tokenComplaint(codec, 'acct-b', 'c1', 'two@example.org');
    const started = Date.now();
    let r;
    try {
      r = await smtp(msg);
    } finally {
      pair.resumeReplica();
    }
    t.equal(r.code, 451, r.text);
    t.match(r.text, /4\.3\.0 Report could not be confirmed on a replica/);
    t.ok(Date.now() - started >= 300, 'after waiting redis.waitTimeoutMs');
    t.equal(await notReplicated(), before + 1, 'abusegate_writes_not_replicated_total counted it');
    // The sender retries: the write was kept on the primary, the retry counts nothing twice.
    const again = await smtp(msg);
    t.equal(again.code, 250, again.text);
    const acct = await api('GET', '/v1/accounts/acct-b');
    t.equal(acct.body.windows[0].complaints, 1, 'the retried complaint counted once');
    t.ok(await suppressedOnReplica('acct-b', 'two@example.org'));
  });

  t.test('the replica gone: SMTP 451 and HTTP 503 STORE_NOT_REPLICATED; back: accepted', async (t) => {
    await pair.killReplica();
    const r = await smtp(tokenComplaint(codec, 'acct-c', 'c1', 'three@example.org'));
    t.equal(r.code, 451, r.text);
    const add = await api('POST', '/v1/suppressions', { account: 'acct-c', address: 'four@example.org', reason: 'manual' });
    t.equal(add.status, 503);
    t.equal(add.body.error.code, 'STORE_NOT_REPLICATED');
    const events = await fetch(`http://127.0.0.1:${gw.httpPort}/v1/events`, {
      method: 'POST',
      headers: { ...PLATFORM_AUTH, 'content-type': 'application/json' },
      body: JSON.stringify({ events: [{ type: 'sent', account: 'acct-c', count: 10 }] }),
    });
    t.equal(events.status, 503, 'POST /v1/events too');
    await pair.startReplica();
    t.equal((await smtp(tokenComplaint(codec, 'acct-c', 'c1', 'three@example.org'))).code, 250);
    // The refused add stayed on the primary (WAIT is no rollback): the retry finds it there.
    const retried = await api('POST', '/v1/suppressions', { account: 'acct-c', address: 'four@example.org', reason: 'manual' });
    t.equal(retried.status, 200);
    t.equal(retried.body.created, false);
    t.ok(await suppressedOnReplica('acct-c', 'four@example.org'));
  });

  t.test('admin and desk writes: 503 STORE_NOT_REPLICATED without the replica, done once it is back', async (t) => {
    // Set up while the replica is there: a case, and a desk session (a sign-in is a write too).
    const caseId = await fileReport(gw, { account: 'acct-e', campaign: 'c1', description: 'unsolicited' });
    await addOperator(gw);
    const base = `http://127.0.0.1:${gw.httpPort}`;
    const csrfOf = (page: string) => /name="csrf" value="([^"]+)"/.exec(page)?.[1] ?? '';
    const signInForm = await (await fetch(`${base}/desk/sign-in`)).text();
    const signedIn = await fetch(`${base}/desk/sign-in`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf: csrfOf(signInForm), name: OPERATOR.name, password: OPERATOR.password, next: '/desk' }).toString(),
    });
    t.equal(signedIn.status, 303, 'signed in');
    const cookie = /^(ag_desk=[^;]+)/.exec(signedIn.headers.get('set-cookie') ?? '')?.[1] ?? '';
    const csrf = csrfOf(await (await fetch(`${base}/desk/accounts/acct-e`, { headers: { cookie } })).text());
    t.ok(csrf, 'a CSRF token from the account page');
    const desk = (path: string, fields: Record<string, string>) =>
      fetch(`${base}${path}`, { method: 'POST', redirect: 'manual', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ csrf, ...fields }).toString() });
    const resolve = { status: 'resolved', outcome: 'confirmed', note: 'seen the message' };
    const onReplica = {
      suspended: () => replica.hget(gw.store.keys.account('acct-e').meta, 'suspended'),
      caseStatus: async () => JSON.parse((await replica.hget(gw.store.keys.cases.record(caseId), 'data')) ?? '{}').status,
    };

    await pair.killReplica();
    const patch = await api('PATCH', `/v1/cases/${caseId}`, resolve);
    t.equal(patch.status, 503, 'PATCH /v1/cases/:id');
    t.equal(patch.body.error.code, 'STORE_NOT_REPLICATED');
    const meta = await api('PATCH', '/v1/accounts/acct-e', { pool: 'dedicated' });
    t.equal(meta.status, 503, 'PATCH /v1/accounts/:account');
    t.equal(meta.body.error.code, 'STORE_NOT_REPLICATED');
    const suspend = await desk('/desk/accounts/acct-e/suspend', { reason: 'phishing', confirm: 'yes' });
    t.equal(suspend.status, 503, 'the desk suspend form: the error page, not the redirect to "done"');
    t.equal(suspend.headers.get('location'), null);
    const note = await desk(`/desk/cases/${caseId}/note`, { note: 'looking' });
    t.equal(note.status, 503, 'the desk note form');

    await pair.startReplica();
    const patched = await api('PATCH', `/v1/cases/${caseId}`, resolve);
    t.equal(patched.status, 200, patched.body.error?.message);
    t.equal(patched.body.status, 'resolved');
    t.equal(await onReplica.caseStatus(), 'resolved', 'the replica holds the resolution when the 200 is sent');
    t.equal((await api('PATCH', '/v1/accounts/acct-e', { pool: 'dedicated' })).status, 200);
    const suspended = await desk('/desk/accounts/acct-e/suspend', { reason: 'phishing', confirm: 'yes' });
    t.equal(suspended.status, 303);
    // The refused suspension stayed on the primary (WAIT is no rollback): the retry finds it done.
    t.match(suspended.headers.get('location'), /done=(suspend|alreadySuspended)/);
    t.equal(await onReplica.suspended(), '1', 'the replica holds the suspension when the 303 is sent');
    t.equal((await desk(`/desk/cases/${caseId}/note`, { note: 'looking' })).status, 303);
  });
});

t.test('waitReplicas 0 never waits; a Redis without replicas is found to need none', async (t) => {
  const pair = await replicatedRedis(t);
  const gw = await startGateway(t, { redisUrl: pair.url, overrides: { redis: { waitReplicas: 0 } } });
  await pair.killReplica();
  const c = await SmtpClient.connect(gw.smtpPort);
  t.teardown(() => c.quit());
  t.equal((await c.send('fbl@isp.example', ['fbl@localhost'], tokenComplaint(codec, 'acct-d', 'c1', 'five@example.org'))).code, 250, 'waitReplicas: 0 → 250 without a replica');

  const single = await testRedis(t);
  const gw2 = await startGateway(t, { redisUrl: single.url });
  t.equal(await gw2.store.replication.replicas(), 0, 'no replicas → nothing to wait for');
});
