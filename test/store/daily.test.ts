/**
 * The daily counters behind the desk's 30-day chart (src/store/lua/lib/daily.lua): traffic
 * batches (count) and reports (recordMessage) add to the day they happened, the figures read
 * back for 30 days while the hour buckets are long gone, and days older than the kept ones
 * are dropped and never written.
 */
import { randomBytes } from 'node:crypto';
import t from 'tap';
import { Keys } from '../../src/store/keys.js';
import { createRedis } from '../../src/store/redis.js';
import { DAILY_KEEP_DAYS, Store } from '../../src/store/store.js';
import { testRedis } from '../helpers/redis.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

t.test('daily counters: 30 days of sent, complaints and hard bounces', async (t) => {
  const r = await testRedis(t);
  const redis = createRedis({ url: r.url, commandTimeout: 5000 });
  await redis.connect();
  t.teardown(() => redis.disconnect());
  const store = new Store(redis, new Keys('d' + randomBytes(4).toString('hex'), 4), {
    retentionMs: DAY,
    quarantineKeep: 10,
    windows: [{ name: '24h', hours: 24 }, { name: '7d', hours: 168 }],
    dedupMs: DAY,
    warningWindowMs: DAY,
    engagedMs: DAY,
  });
  const start = Date.parse('2026-06-01T10:00:00Z');
  const effect = (now: number, counter: 'c' | 'h' | 'f') =>
    store.recordMessage({ record: null, account: 'acme', channel: 'email', campaign: 'c1', sample: null, recipients: [{ address: null, counter, suppression: null, event: null, fingerprint: null }], decision: null, now });

  // 40 days of traffic: day i sends 1000 + i, with i complaints and 2 i hard bounces.
  for (let i = 0; i < 40; i++) {
    const now = start + i * DAY;
    await store.count('acme', [{ channel: 'email', at: now, campaign: 'c1', counter: 's', n: 1000 + i }], null, now);
    for (let k = 0; k < i % 4; k++) await effect(now, 'c');
    for (let k = 0; k < (i % 3) * 2; k++) await effect(now, 'h');
    await effect(now, 'f'); // soft bounces are not charted
  }
  const now = start + 39 * DAY;
  // A batch with an item backdated by a day lands on that day.
  await store.count('acme', [{ channel: 'email', at: now - DAY, campaign: null, counter: 's', n: 5 }], null, now);
  const days = await store.dailyFigures('acme', 'email', now, 30);
  t.equal(days.length, 30);
  t.equal(days[29].day, '2026-07-10');
  t.equal(days[0].day, '2026-06-11');
  for (let j = 0; j < 30; j++) {
    const i = j + 10;
    t.same(days[j], { day: days[j].day, sent: 1000 + i + (i === 38 ? 5 : 0), complaints: i % 4, hardBounces: (i % 3) * 2 }, `day ${days[j].day}`);
  }
  t.same(await store.dailyFigures('acme', 'sms', now, 30).then((d) => d.filter((x) => x.sent)), [], 'channels apart');

  const key = store.keys.account('acme').daily;
  const fields = Object.keys(await redis.hgetall(key));
  const kept = new Set(fields.filter((f) => f !== 'email|dr').map((f) => Number(f.split('|')[1])));
  const today = Math.floor(now / DAY);
  t.ok([...kept].every((d) => d > today - DAILY_KEEP_DAYS && d <= today), 'only the kept days are in the hash');
  t.equal(kept.size, DAILY_KEEP_DAYS, 'every kept day is there');
  t.notOk(fields.some((f) => /\|f$/.test(f)), 'soft bounces are not kept');
  const ttl = await redis.pttl(key);
  t.ok(ttl > (DAILY_KEEP_DAYS - 1) * DAY && ttl <= DAILY_KEEP_DAYS * DAY, 'expires when the account stops sending');

  // A batch backdated past the kept days writes nothing there.
  await store.count('acme', [{ channel: 'email', at: now - 35 * DAY, campaign: null, counter: 's', n: 7 }], null, now);
  t.equal(await redis.hget(key, `email|${today - 35}|s`), null);
});
