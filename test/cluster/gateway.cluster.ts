/**
 * The built gateway (a child process, as `npm start` runs it) on a real 6-node Redis
 * Cluster: reports for many accounts land in many slots on every master, and a master
 * killed in the middle of a burst costs retries (451), never a report.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Cluster } from 'ioredis';
import t from 'tap';
import { Keys } from '../../src/store/keys.js';
import { createTokenCodec, parseTokenSecrets } from '../../src/token/token.js';
import { startChild } from '../helpers/child.js';
import { TEST_TOKEN_SECRET } from '../helpers/gateway.js';
import { dsn, tokenComplaint } from '../helpers/mail.js';
import { SmtpClient } from '../helpers/smtp.js';
import { startReceiver } from '../webhook/receiver.js';
import { deliverAll, type Outgoing, startCluster } from './helpers.js';

const ADMIN = 'cluster-admin-token-padded-to-32-chars-xxxxxxx';
const PREFIX = 'ag';
const keys = new Keys(PREFIX, 64);
const codec = createTokenCodec(parseTokenSecrets(TEST_TOKEN_SECRET));

function complaint(account: string, campaign: string, recipient: string): Outgoing {
  return {
    from: 'fbl@isp.example',
    to: 'fbl@localhost',
    message: tokenComplaint(codec, account, campaign, recipient),
  };
}

function hardBounce(account: string, campaign: string, recipient: string): Outgoing {
  return {
    from: '',
    // The VERP token is bound to the recipient it was minted for (rules/evidence.ts).
    to: `bounces+${codec.mintShort({ account, campaign, recipient })}@localhost`,
    message: dsn({ recipient, status: '5.1.1', messageId: `${account}.${recipient}` }),
  };
}

t.test('gateway on a 6-node Redis Cluster', async (t) => {
  const cluster = await startCluster(t, { nodeTimeoutMs: 2000 });
  // Stated, though a cluster with replicas gets it by default: no 250 before a replica has the write.
  const overlay = join(cluster.dir, 'gateway.yaml');
  // Without a webhook endpoint no event is written (docs/integration.md): one that takes every
  // delivery and never answers, so the events stay in the outboxes for this test to read.
  const rec = await startReceiver(t);
  rec.answer = () => 'hang';
  const secret = 'whsec_' + Buffer.from('cluster-webhook-secret-0123456789abcdef').toString('base64');
  writeFileSync(overlay, `redis:\n  waitReplicas: 1\n  waitTimeoutMs: 500\nwebhooks:\n  url: ${rec.url}/hook\n  secret: ${secret}\n  timeoutMs: 300000\n`);
  const gw = await startChild({
    ABUSEGATE_CONFIG: overlay,
    ABUSEGATE_REDIS_CLUSTER: cluster.seeds,
    ABUSEGATE_TOKEN_SECRET: TEST_TOKEN_SECRET,
    ABUSEGATE_ADMIN_TOKEN: ADMIN,
    ABUSEGATE_POLICY_PORT: '0',
  });
  t.teardown(() => {
    gw.proc.kill('SIGKILL');
    return gw.exited;
  });
  const api = async (path: string) => {
    const res = await fetch(`http://127.0.0.1:${gw.httpPort}${path}`, { headers: { authorization: `Bearer ${ADMIN}` } });
    return { status: res.status, body: (await res.json()) as any };
  };
  // A cluster client of our own, to look at what the gateway wrote.
  const redis = new Cluster(cluster.seeds.split(',').map((hp) => ({ host: '127.0.0.1', port: Number(hp.split(':')[1]) })), {
    slotsRefreshTimeout: 2000,
    clusterRetryStrategy: () => 200,
  });
  redis.on('error', () => {});
  t.teardown(() => redis.disconnect());

  t.test('complaints and bounces for 48 accounts over many slots on every master', async (t) => {
    const accounts = Array.from({ length: 48 }, (_, i) => `acct-${i}`);
    const masters = new Set(accounts.map((a) => cluster.masterOf(cluster.keyslot(keys.tag(keys.partitionOf(a))))));
    const slots = new Set(accounts.map((a) => cluster.keyslot(keys.tag(keys.partitionOf(a)))));
    t.equal(masters.size, 3, 'the accounts live on all three masters');
    t.ok(slots.size >= 20, `in ${slots.size} slots`);

    const items: Outgoing[] = [];
    for (const a of accounts) {
      for (let r = 0; r < 3; r++) items.push(complaint(a, 'c1', `c${r}@example.org`));
      for (let r = 0; r < 2; r++) items.push(hardBounce(a, 'c1', `b${r}@example.org`));
    }
    // Every report once more: the duplicates count nothing.
    items.push(...accounts.slice(0, 10).map((a) => complaint(a, 'c1', 'c0@example.org')));
    const res = await deliverAll(gw.smtpPort, items, { concurrency: 8 });
    t.ok(res.every((d) => d.replies.length === 1 && d.replies[0].code === 250), 'every message accepted at the first try');

    const wrong: string[] = [];
    for (const a of accounts) {
      const acct = await api(`/v1/accounts/${a}`);
      const w = acct.body.windows?.[0];
      if (acct.status !== 200 || w.complaints !== 3 || w.hardBounces !== 2) wrong.push(`${a}: ${acct.status} ${JSON.stringify(w)}`);
      for (const [addr, reason] of [['c0@example.org', 'complaint'], ['c2@example.org', 'complaint'], ['b1@example.org', 'hard-bounce']]) {
        const s = await fetch(`http://127.0.0.1:${gw.httpPort}/v1/suppressions/${a}/${addr}`, { headers: { authorization: `Bearer ${ADMIN}` } });
        const body = (await s.json()) as { reason?: string };
        if (s.status !== 200 || body.reason !== reason) wrong.push(`${a} ${addr}: ${s.status} ${body.reason}`);
      }
      const events = (await redis.xrange(keys.account(a).outbox, '-', '+')).map(([, f]) => JSON.parse(f[1]));
      const n = events.filter((e) => e.data.account === a && e.type === 'recipient.suppressed').length;
      if (n !== 5) wrong.push(`${a}: ${n} recipient.suppressed events`);
    }
    t.same(wrong, [], 'every account: 3 complaints and 2 hard bounces counted, each recipient suppressed and announced once');
    // The records of the reports are in their own slots.
    const missing: string[] = [];
    for (const d of res) if ((await redis.hget(keys.report(d.id!), 'id')) !== d.id) missing.push(d.id!);
    t.same(missing, [], 'every 250 has its record, in the slot of its id');
  });

  t.test('an acknowledged suppression survives the failover of its master (waitReplicas: 1)', async (t) => {
    const account = 'durable-acct';
    const slot = cluster.keyslot(keys.tag(keys.partitionOf(account)));
    const port = cluster.masterOf(slot);
    const victim = cluster.nodes.find((n) => n.port === port)!;
    const replica = cluster.nodes.find((n) => n.port === cluster.replicaOf(port))!;
    const c = await SmtpClient.connect(gw.smtpPort);
    t.teardown(() => c.quit().catch(() => {}));

    // While the replica acknowledges nothing, the write is not acknowledged either.
    replica.proc.kill('SIGSTOP');
    let held;
    try {
      held = await c.send('', [hardBounce(account, 'c1', 'held@example.org').to], hardBounce(account, 'c1', 'held@example.org').message);
    } finally {
      replica.proc.kill('SIGCONT');
    }
    t.equal(held.code, 451, `no 250 while the replica is stopped: ${held.text}`);
    t.match(held.text, /4\.3\.0 Report could not be confirmed on a replica/);

    // A hard bounce suppresses its recipient: 250, and the master dies at once.
    const b = hardBounce(account, 'c1', 'kept@example.org');
    const r = await c.send(b.from, [b.to], b.message);
    victim.proc.kill('SIGKILL');
    t.equal(r.code, 250, r.text);
    await cluster.failedOver(slot, port);
    t.equal(cluster.masterOf(slot), replica.port, 'the replica took over the slot');

    const s = await api(`/v1/suppressions/${account}/kept@example.org`);
    t.equal(s.status, 200, 'the acknowledged suppression is on the promoted replica');
    t.equal(s.body.reason, 'hard-bounce');
    const events = (await redis.xrange(keys.account(account).outbox, '-', '+')).map(([, f]) => JSON.parse(f[1]));
    t.ok(events.some((e) => e.type === 'recipient.suppressed' && e.data.address === 'kept@example.org'), 'and so is its event');
    t.equal((await redis.hget(keys.report(/<([^>]+)>/.exec(r.text)![1]), 'outcome')), 'parsed', 'and the report record');

    // The old master comes back as the new one's replica: writes there are confirmed again.
    await cluster.restart(victim);
    const again = hardBounce(account, 'c1', 'after@example.org');
    t.equal((await c.send(again.from, [again.to], again.message)).code, 250, 'with a replica again: accepted');
  });

  t.test('failover: SIGKILL the master of an account during a burst', async (t) => {
    const account = 'failover-acct';
    const slot = cluster.keyslot(keys.tag(keys.partitionOf(account)));
    const port = cluster.masterOf(slot);
    const victim = cluster.nodes.find((n) => n.port === port)!;

    const items: Outgoing[] = [];
    for (let r = 0; r < 160; r++) items.push(complaint(account, 'c1', `f${r}@example.org`));
    for (let r = 0; r < 40; r++) items.push(hardBounce(account, 'c1', `fb${r}@example.org`));
    // Other accounts (other masters) in the same burst.
    for (let r = 0; r < 40; r++) items.push(complaint(`bystander-${r % 8}`, 'c1', `y${r}@example.org`));
    let killedAt = 0;
    let rejoined: Promise<void> = Promise.resolve();
    const res = await deliverAll(gw.smtpPort, items, {
      concurrency: 6,
      retryMs: 250,
      deadlineMs: 90_000,
      onAccepted: (n) => {
        if (n === 40 && !killedAt) {
          killedAt = Date.now();
          victim.proc.kill('SIGKILL');
          // Its replica takes over, with no replica of its own: until the old master is back
          // as one, writes there are answered 451 (STORE_NOT_REPLICATED) and retried.
          rejoined = cluster.failedOver(slot, port).then(() => cluster.restart(victim));
        }
      },
    });
    await rejoined;
    t.ok(killedAt, 'the master was killed mid-burst');
    const temp = res.flatMap((d) => d.replies.filter((r) => r.code !== 250));
    t.ok(temp.length > 0, `the switch cost temporary failures (${temp.length})`);
    t.ok(
      temp.every((r) => r.code === 0 || r.code === 451 || r.code === 421),
      `only 451 (or a dropped connection) while it switched: ${[...new Set(temp.map((r) => `${r.code} ${r.text}`))].slice(0, 5).join(' | ')}`,
    );
    t.ok(temp.some((r) => r.code === 451 && /4\.3\.0/.test(r.text)), 'the gateway answered 451 4.3.0');
    t.ok(res.every((d) => d.id), 'every message got its 250 in the end');
    const lastTemp = Math.max(...res.filter((d) => d.replies.length > 1).map((d) => d.acceptedAt));
    t.comment(`${temp.length} temporary failures; recovered ${lastTemp - killedAt} ms after the kill`);

    await cluster.waitOk(30_000);
    t.not(cluster.masterOf(slot), port, 'the replica took over the slot');

    // Exact counts: retried reports counted once, and no 250 was lost with the old master.
    const acct = await api(`/v1/accounts/${account}`);
    t.equal(acct.status, 200);
    t.match(acct.body.windows[0], { complaints: 160, hardBounces: 40 }, 'every complaint and bounce counted once');
    const events = (await redis.xrange(keys.account(account).outbox, '-', '+')).map(([, f]) => JSON.parse(f[1]));
    const suppressed = events.filter((e) => e.type === 'recipient.suppressed' && e.data.account === account);
    t.equal(suppressed.length, 200, 'one recipient.suppressed event per recipient');
    t.equal(new Set(suppressed.map((e) => e.data.address)).size, 200, 'no address announced twice');
    const missing: string[] = [];
    for (const d of res) if ((await redis.hget(keys.report(d.id!), 'id')) !== d.id) missing.push(d.id!);
    t.same(missing, [], 'every 250 has its record');
    let bystanders = 0;
    for (let b = 0; b < 8; b++) bystanders += (await api(`/v1/accounts/bystander-${b}`)).body.windows[0].complaints;
    t.equal(bystanders, 40, 'the other accounts counted exactly too');

    // It carries on: new reports are accepted at the first try.
    const after = await deliverAll(gw.smtpPort, Array.from({ length: 30 }, (_, r) => complaint(account, 'c2', `after${r}@example.org`)), { concurrency: 3 });
    t.ok(after.every((d) => d.replies.length === 1), 'after the switch: every report accepted at once');
    t.equal((await api(`/v1/accounts/${account}`)).body.windows[0].complaints, 190);
    t.equal((await fetch(`http://127.0.0.1:${gw.httpPort}/readyz`)).status, 200, 'ready');
  });
});
