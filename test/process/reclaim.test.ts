import t from 'tap';
import { RECLAIM_BYTES, reclaimer } from '../../src/smtp/server.js';
import { startChild } from '../helpers/child.js';
import { PLATFORM_AUTH, TEST_PLATFORM_TOKEN } from '../helpers/gateway.js';
import { testRedis } from '../helpers/redis.js';
import { sendMail } from '../helpers/smtp.js';

t.test('reclaimer: one gc per `every` bytes read, none without a gc', async (t) => {
  let calls = 0;
  const read = reclaimer(100, () => calls++);
  for (let i = 0; i < 9; i++) read(10);
  t.equal(calls, 0, '90 bytes: none');
  read(10);
  t.equal(calls, 1, '100 bytes: one');
  read(250);
  t.equal(calls, 2, 'a large chunk counts once, and the count starts again');
  read(99);
  t.equal(calls, 2);
  t.doesNotThrow(() => reclaimer(100, undefined)(1_000), 'node without --expose-gc: nothing to call');
});

/** The gateway's count of major collections, from its own /metrics (prom-client's gc histogram). */
async function majors(httpPort: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`, { headers: PLATFORM_AUTH })).text();
  const m = /^abusegate_nodejs_gc_duration_seconds_count\{kind="major"\} (\d+)/m.exec(text);
  if (!/^abusegate_nodejs_gc_duration_seconds/m.test(text)) throw new Error('no gc histogram in /metrics');
  return Number(m?.[1] ?? 0);
}

t.test('bin/gateway: the large messages read are collected every RECLAIM_BYTES, not when V8 would', async (t) => {
  const redis = await testRedis(t);
  const gw = await startChild({ REDIS_URL: redis.url, ABUSEGATE_PLATFORM_TOKEN: TEST_PLATFORM_TOKEN }, undefined, { bin: true });
  t.teardown(() => gw.proc.kill('SIGKILL'));
  // Plain text lines: V8's own collections are started by its heap, which reading these
  // hardly grows, or by 64 MB of memory outside it, twice what is sent here.
  const line = 'a plain line of a large abuse report, repeated to fill a message of several MB\r\n';
  const body = Buffer.from(`From: someone@example.net\r\nSubject: large\r\n\r\n${line.repeat(Math.floor((9 << 20) / line.length))}`);
  const messages = Math.ceil((RECLAIM_BYTES * 1.1) / body.length);
  const before = await majors(gw.httpPort);
  for (let i = 0; i < messages; i++) {
    const r = await sendMail(gw.smtpPort, 'someone@example.net', ['abuse@localhost'], body);
    t.equal(r.code, 250, `message ${i + 1}: ${r.code} ${r.text}`);
  }
  // prom-client sees a collection once its PerformanceObserver entry is delivered.
  await new Promise((r) => setTimeout(r, 100));
  t.ok((await majors(gw.httpPort)) > before, `a major collection while ${messages} × ${(body.length / 2 ** 20).toFixed(1)} MB were read`);
});
