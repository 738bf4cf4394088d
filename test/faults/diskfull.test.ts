/**
 * An external Redis that refuses writes for lack of room — MISCONF (its AOF cannot be
 * written: a full disk under appendfsync everysec) and OOM (maxmemory reached) — gets its own
 * error codes and metrics; nothing is acknowledged meanwhile, and service resumes by itself.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import t from 'tap';
import { registry } from '../../src/metrics.js';
import { startLocalRedis } from '../../src/store/local.js';
import { startGateway } from '../helpers/gateway.js';
import { testRedis } from '../helpers/redis.js';
import { SmtpClient } from '../helpers/smtp.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function abuseMail(i: number): string {
  return ['From: reporter@isp.example', 'To: abuse@localhost', `Subject: spam ${i}`, `Message-ID: <full-${i}@isp.example>`, '', `Report ${i}: ${'x'.repeat(2000)}`, ''].join('\r\n');
}

async function send(port: number, i: number) {
  const c = await SmtpClient.connect(port);
  try {
    return await c.send('reporter@isp.example', ['abuse@localhost'], abuseMail(i));
  } finally {
    await c.quit().catch(() => {});
  }
}

async function refusals(reason: string): Promise<number> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === 'abusegate_redis_refusals_total');
  return Number(m?.values.find((v) => v.labels.reason === reason)?.value ?? 0);
}

t.test('OOM: 452 4.3.1 STORE_OUT_OF_MEMORY, counted; 250 again once there is room', async (t) => {
  const redis = await testRedis(t);
  const gw = await startGateway(t, { redisUrl: redis.url });
  t.equal((await send(gw.smtpPort, 1)).code, 250);
  const admin = new Redis({ path: redis.url });
  t.teardown(() => admin.disconnect());
  const before = await refusals('oom');
  await admin.config('SET', 'maxmemory', '1');
  const r = await send(gw.smtpPort, 2);
  t.equal(r.code, 452, r.text);
  t.match(r.text, /^4\.3\.1 Report could not be recorded: the store is out of memory/);
  t.ok((await refusals('oom')) > before, 'counted as oom');
  await admin.config('SET', 'maxmemory', '0');
  t.equal((await send(gw.smtpPort, 3)).code, 250, 'accepted once there is room');
});

t.test('MISCONF on a full disk (appendfsync everysec): 452 STORE_NOT_PERSISTING; space freed → 250, nothing lost', async (t) => {
  if (process.getuid?.() !== 0) return t.skip('not root: cannot mount a tmpfs');
  const mnt = mkdtempSync(join(tmpdir(), 'ag-misconf-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mnt], { stdio: 'pipe' });
  } catch (err) {
    rmSync(mnt, { recursive: true, force: true });
    return t.skip(`mount -t tmpfs not permitted here: ${String((err as { stderr?: Buffer }).stderr ?? err).trim()}`);
  }
  t.teardown(() => {
    execFileSync('umount', ['-l', mnt]);
    rmSync(mnt, { recursive: true, force: true });
  });
  mkdirSync(join(mnt, 'redis'));
  // An external Redis as many run it: AOF with everysec. On a failed write it stays up and
  // refuses writes (MISCONF) until a write succeeds again.
  const server = await startLocalRedis({ dir: join(mnt, 'redis'), appendfsync: 'everysec' });
  t.teardown(() => server.stop());
  const gw = await startGateway(t, { redisUrl: server.url });

  const acked: string[] = [];
  for (let i = 0; i < 3; i++) {
    const r = await send(gw.smtpPort, i);
    t.equal(r.code, 250);
    acked.push(/<([0-9a-z_]+)>/.exec(r.text)![1]);
  }
  const fd = openSync(join(mnt, 'filler'), 'w');
  try {
    for (;;) writeSync(fd, Buffer.alloc(4096));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
  const before = await refusals('misconf');
  const codes: number[] = [];
  let r = await send(gw.smtpPort, 10);
  for (let i = 11; r.code !== 452 && i < 200; i++) {
    codes.push(r.code);
    if (r.code === 250) acked.push(/<([0-9a-z_]+)>/.exec(r.text)![1]);
    r = await send(gw.smtpPort, i);
  }
  t.equal(r.code, 452, `refused with 452 once the AOF write failed (before: ${codes.join(' ')})`);
  t.match(r.text, /^4\.3\.1 Report could not be recorded: the store cannot write to disk/);
  t.ok((await refusals('misconf')) > before, 'counted as misconf');

  rmSync(join(mnt, 'filler'));
  const freedAt = Date.now();
  r = await send(gw.smtpPort, 300);
  while (r.code !== 250 && Date.now() - freedAt < 15_000) {
    await sleep(200);
    r = await send(gw.smtpPort, 300);
  }
  t.equal(r.code, 250, `accepted again ${Date.now() - freedAt} ms after space was freed`);
  acked.push(/<([0-9a-z_]+)>/.exec(r.text)![1]);
  for (const id of acked) t.ok(await gw.store.getCase(id), `acknowledged ${id} still there`);
});
