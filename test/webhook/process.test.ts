/**
 * Gateway processes (dist/main.js as children) sharing one outbox: killed mid-delivery,
 * and two at once.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import t from 'tap';
import { Keys } from '../../src/store/keys.js';
import { createRedis } from '../../src/store/redis.js';
import { verify } from '../../src/webhook/sign.js';
import { MAIN } from '../helpers/child.js';
import { testRedis } from '../helpers/redis.js';
import { startReceiver, type Received } from './receiver.js';


interface Proc {
  proc: ChildProcess;
  exited: Promise<number | null>;
}

async function startProc(t: Tap.Test, env: NodeJS.ProcessEnv): Promise<Proc> {
  const proc = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH, ABUSEGATE_SMTP_PORT: '0', ABUSEGATE_HTTP_PORT: '0', ABUSEGATE_POLICY_PORT: '0', ABUSEGATE_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  proc.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  t.teardown(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  });
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      if (line.includes('"STARTED"')) resolve();
    });
    exited.then((code) => reject(new Error(`process exited ${code}: ${err}`)));
    setTimeout(() => reject(new Error('process did not start in 30 s')), 30_000).unref();
  });
  return { proc, exited };
}

async function setup(t: Tap.Test) {
  const server = await testRedis(t);
  const prefix = 'p' + randomBytes(4).toString('hex');
  const cfg = join(server.dir, 'config.yaml');
  writeFileSync(
    cfg,
    [
      'redis:',
      `  prefix: ${prefix}`,
      '  partitions: 4',
      '  commandTimeout: 2000',
      'webhooks:',
      '  timeoutMs: 2000',
      '  retrySchedule: [1, 1, 1, 1]',
      '  claimIdleMs: 1000',
      '  concurrency: 4',
      '',
    ].join('\n'),
  );
  const rec = await startReceiver(t);
  const secret = 'whsec_' + randomBytes(32).toString('base64');
  const env = { REDIS_URL: server.url, ABUSEGATE_CONFIG: cfg, ABUSEGATE_WEBHOOK_URL: rec.url + '/hook', ABUSEGATE_WEBHOOK_SECRET: secret };
  const redis = createRedis({ url: server.url, commandTimeout: 2000 });
  await redis.connect();
  t.teardown(() => redis.disconnect());
  const keys = new Keys(prefix, 4);
  const ids: string[] = [];
  const add = async (n: number) => {
    for (let i = 0; i < n; i++) {
      const id = `evt_${randomBytes(10).toString('hex')}`;
      const where = i % 5 === 4 ? keys.cases.outbox : keys.outbox(i % 4);
      await redis.xadd(where, '*', 'event', JSON.stringify({ id, type: 'account.warned', timestamp: new Date().toISOString(), data: { account: `a${i}` } }));
      ids.push(id);
    }
  };
  return { rec, env, secret, add, ids };
}

function duplicatesAgree(received: Received[]): string[] {
  const body = new Map<string, string>();
  const problems: string[] = [];
  for (const r of received) {
    const b = body.get(r.id);
    if (b !== undefined && b !== r.body) problems.push(`${r.id}: a different body under the same webhook-id`);
    body.set(r.id, r.body);
  }
  return problems;
}

t.test('a gateway killed mid-delivery (SIGKILL) delivers after restart, no event lost', async (t) => {
  const { rec, env, secret, add, ids } = await setup(t);
  let killed = false;
  let answered = 0;
  rec.answer = () => {
    if (!killed && answered >= 5) return 'hang';
    answered++;
    return 200;
  };
  await add(40);
  const first = await startProc(t, env);
  // Some delivered, the next ones are on the wire when the process dies.
  await rec.until((r) => r.received.filter((x) => x.status === 0).length >= 3);
  first.proc.kill('SIGKILL');
  await first.exited;
  killed = true;
  const hung = new Set(rec.received.filter((x) => x.status === 0).map((x) => x.id));
  t.ok(hung.size >= 3, `${hung.size} deliveries were in flight`);

  const t0 = Date.now();
  await startProc(t, env);
  const t1 = Date.now();
  await rec.until((r) => ids.every((id) => r.delivered().has(id)), 20_000);
  t.comment(`restart ${t1 - t0} ms, then all delivered in ${Date.now() - t1} ms`);
  t.pass(`all ${ids.length} events delivered`);
  t.ok([...hung].every((id) => rec.delivered().has(id)), 'those in flight at the kill were delivered after the restart');
  t.same(duplicatesAgree(rec.received), [], 'a duplicate carries the same webhook-id and body');
  t.ok(rec.received.every((r) => verify({ secrets: secret, id: r.id, timestamp: r.timestamp, signature: r.signature, body: r.body }).ok), 'all signed');
});

t.test('two gateways share one outbox: every event delivered at least once, one killed on the way', async (t) => {
  const { rec, env, add, ids } = await setup(t);
  // One event in ten fails on its first try (a retry is a duplicate for the receiver).
  rec.answer = (r, nth) => new Promise((res) => setTimeout(() => res(nth === 1 && parseInt(r.id.slice(-2), 16) % 10 === 0 ? 500 : 200), 5));
  const a = await startProc(t, env);
  await startProc(t, env);
  await add(200);
  await rec.until((r) => r.delivered().size >= 60);
  a.proc.kill('SIGKILL');
  await a.exited;
  await rec.until((r) => ids.every((id) => r.delivered().has(id)), 30_000);
  t.pass(`all ${ids.length} events delivered`);
  const counts = new Map<string, number>();
  for (const r of rec.received) counts.set(r.id, (counts.get(r.id) ?? 0) + 1);
  const dups = [...counts.values()].filter((n) => n > 1).length;
  t.ok(dups > 0, `${dups} events arrived more than once (retries, takeover)`);
  t.same(duplicatesAgree(rec.received), [], 'every duplicate carries the same webhook-id and body');
  t.ok(rec.received.every((r) => ids.includes(r.id)), 'nothing but our events');
});
