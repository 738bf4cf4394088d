/**
 * The TTLs of what a message counts in (recordMessage): set when a field is new — an hour's
 * first count in the windows and campaign hashes, a day's first count in the daily hash, a
 * new samples list — rather than on every message. A new key always has one; a counted key
 * has it renewed at least hourly (daily: at each day's first count).
 */
import t from 'tap';
import { DAILY_KEEP_DAYS } from '../../src/store/accounts.js';
import { Keys } from '../../src/store/keys.js';
import { createRedis } from '../../src/store/redis.js';
import { type Counter, Store } from '../../src/store/store.js';
import { testRedis } from '../helpers/redis.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const BUCKET_TTL = (168 + 24) * HOUR; // the longest window + a day (Store's bucket TTL)
const DAILY_TTL = DAILY_KEEP_DAYS * DAY;
const SHORT = 60_000;

t.test('a TTL on every key a message counts in: set when new, renewed at the next hour (daily: day), not rewritten in between', async (t) => {
  const server = await testRedis(t);
  const redis = createRedis({ url: server.url, commandTimeout: 5000 });
  await redis.connect();
  t.teardown(() => redis.disconnect());
  const store = new Store(redis, new Keys('ttl', 4), {
    retentionMs: DAY,
    quarantineKeep: 10,
    windows: [
      { name: '24h', hours: 24 },
      { name: '7d', hours: 168 },
    ],
    dedupMs: 30 * DAY,
    warningWindowMs: 30 * DAY,
    engagedMs: 180 * DAY,
  });
  let n = 0;
  const record = (account: string, counter: Counter | null, now: number) =>
    store.recordMessage({
      record: null,
      account,
      channel: 'email',
      campaign: 'spring',
      sample: `r${++n}`,
      recipients: [{ address: `x${n}@example.org`, counter, suppression: null, event: null, fingerprint: `f${n}` }],
      decision: null,
      now,
    });
  const k = store.keys.account('acme');
  const hourly = { windows: k.windows, campaigns: k.campaigns, samples: k.samples };
  const ttl = async (key: string) => redis.pttl(key);
  const near = (v: number, want: number) => v > want - SHORT && v <= want;

  // 01:00 UTC on some day: the next hour is the same day.
  const t0 = Math.floor(Date.UTC(2026, 10, 30) / DAY) * DAY + HOUR + 1000;
  await record('acme', 'c', t0);
  for (const [name, key] of Object.entries(hourly)) t.ok(near(await ttl(key), BUCKET_TTL), `${name}: a new key gets its TTL`);
  t.ok(near(await ttl(k.daily), DAILY_TTL), 'daily: a new key gets its TTL');

  // Shortened by hand: a later message of the same hour does not write them again.
  for (const key of [...Object.values(hourly), k.daily]) await redis.pexpire(key, HOUR);
  await record('acme', 'c', t0 + 60_000);
  for (const [name, key] of Object.entries({ ...hourly, daily: k.daily })) t.ok((await ttl(key)) <= HOUR, `${name}: not rewritten within the hour`);

  // The next hour's first count renews the hourly keys; the daily one waits for the next day.
  await record('acme', 'c', t0 + HOUR);
  for (const [name, key] of Object.entries(hourly)) t.ok(near(await ttl(key), BUCKET_TTL), `${name}: renewed at the next hour's first count`);
  t.ok((await ttl(k.daily)) <= HOUR, 'daily: not renewed within the day');
  await record('acme', 'c', t0 + DAY);
  t.ok(near(await ttl(k.daily), DAILY_TTL), "daily: renewed at the next day's first count");

  // A message that counts nothing still pushes its sample: a new list gets its TTL.
  await record('quiet', null, t0);
  t.ok(near(await ttl(store.keys.account('quiet').samples), BUCKET_TTL), 'samples: a new list gets its TTL without a count');
});
