/**
 * The recent SMS sends index: bounded per number, expiring, and its memory per indexed send
 * measured (Redis INFO used_memory and MEMORY USAGE) — the figure docs/integration.md states.
 */
import t from 'tap';
import { Redis } from 'ioredis';
import { Keys } from '../../src/store/keys.js';
import { defineScripts } from '../../src/store/redis.js';
import { SmsIndex, decodeSend, encodeSend } from '../../src/store/sms.js';
import { testRedis } from '../helpers/redis.js';

const DAY = 86_400_000;

t.test('entries round-trip', async (t) => {
  const s = { account: 'acct-1', campaign: 'black.friday', sender: '+447700900000', at: Date.parse('2026-11-27T09:00:00Z') };
  t.same(decodeSend(encodeSend(s)), s);
  t.same(decodeSend(encodeSend({ ...s, campaign: null, sender: null })), { ...s, campaign: null, sender: null });
  t.equal(decodeSend('garbage'), null);
});

t.test('the sends index', async (t) => {
  const server = await testRedis(t);
  const redis = new Redis({ path: server.url });
  defineScripts(redis);
  t.teardown(() => redis.disconnect());
  const keys = new Keys('smsT', 16);
  const index = new SmsIndex(redis, keys, { traceMs: 30 * DAY, perNumber: 20 });
  const now = Date.parse('2026-11-27T09:00:00Z');

  t.test('bounded per number, newest first, with a TTL of the window', async (t) => {
    const n = '+447700900123';
    await index.record(Array.from({ length: 30 }, (_, i) => ({ recipient: n, account: `a${i}`, campaign: 'c', sender: 'S', at: now - (30 - i) * 1000 })), now);
    const got = await index.lookup(n, now);
    t.equal(got.length, 20);
    t.equal(got[0].account, 'a29', 'newest first');
    t.equal(got[19].account, 'a10', 'the oldest dropped');
    const ttl = await redis.pttl(keys.smsSends(n));
    t.ok(ttl > 29 * DAY && ttl <= 30 * DAY, `ttl ${ttl}`);
    await index.record([{ recipient: '+447700900124', account: 'old', campaign: null, sender: null, at: now - 31 * DAY }], now);
    t.equal(await redis.exists(keys.smsSends('+447700900124')), 0, 'a send older than the window is not indexed');
    t.same(await index.lookup(n, now + 31 * DAY), [], 'nothing older than the window is returned');
  });

  t.test('memory per indexed send', async (t) => {
    // The platform's typical shape: most numbers texted once or twice in a month by one
    // account. N sends to N/2 numbers (two each), ids of realistic length.
    const N = Number(process.env.SMS_INDEX_SENDS ?? 100_000);
    await redis.flushall();
    await redis.call('MEMORY', 'PURGE').catch(() => null);
    const before = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1]);
    const batch = 10_000;
    for (let i = 0; i < N; i += batch) {
      const sends = Array.from({ length: Math.min(batch, N - i) }, (_, j) => {
        const k = i + j;
        return { recipient: `+44770${String(Math.floor(k / 2)).padStart(7, '0')}`, account: `account-${k % 997}`, campaign: `campaign-2026-11-${k % 31}`, sender: 'ACMEDEALS', at: now - (k % 1000) * 1000 };
      });
      await index.record(sends, now);
    }
    const after = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1]);
    const perSend = (after - before) / N;
    const sample = Number(await redis.call('MEMORY', 'USAGE', keys.smsSends('+447700000000'), 'SAMPLES', '0'));
    const mbPerMillion = (perSend * 1e6) / 1024 / 1024;
    t.comment(`${N} sends to ${N / 2} numbers: ${(after - before) / 1024 / 1024} MB used_memory, ${perSend.toFixed(1)} B per send (MEMORY USAGE of one two-send key: ${sample} B); 1,000,000 sends ≈ ${mbPerMillion.toFixed(0)} MB`);
    // docs/integration.md states: under 200 bytes per send at this shape (≈ 165 MB per million).
    t.ok(perSend < 200, `${perSend.toFixed(1)} bytes per indexed send`);
    t.ok(sample < 400, `one number with two sends: ${sample} bytes`);
  });
});
