/**
 * The running window totals (src/store/lua/lib/windows.lua) against a plain model: whatever
 * sequence of reports and traffic batches, with the clock jumping ahead, backdated items and
 * an instance whose clock is an hour behind, the figures must equal the sum of what was
 * added in each window's hours — exactly, at every step.
 */
import { randomBytes } from 'node:crypto';
import t from 'tap';
import { ManualClock } from '../../src/clock.js';
import { Keys } from '../../src/store/keys.js';
import { createRedis, expandIncludes, type RedisClient } from '../../src/store/redis.js';
import { type Counter, Store } from '../../src/store/store.js';
import { testRedis } from '../helpers/redis.js';
import { rng } from '../helpers/rng.js';

const HOUR = 3_600_000;
const WINDOWS = [
  { name: '24h', hours: 24 },
  { name: '7d', hours: 168 },
];
const MAX = 168;
const TTL = (MAX + 24) * HOUR; // Store's bucket TTL
const TOTALLED = ['s', 'c', 'h', 'u'] as const;
type Letter = (typeof TOTALLED)[number];
type Sums = Record<Letter, number>;
const CHANNELS = ['email', 'sms'] as const;
type Ch = (typeof CHANNELS)[number];

/** What was added, per channel and hour; a window's figure is a plain sum over its hours. */
class Model {
  private added = new Map<string, number>();
  add(ch: Ch, hour: number, letter: string, n: number): void {
    const k = `${ch}|${hour}|${letter}`;
    this.added.set(k, (this.added.get(k) ?? 0) + n);
  }
  sums(ch: Ch, hour: number, hours: number): Sums {
    const out: Sums = { s: 0, c: 0, h: 0, u: 0 };
    for (let b = hour - hours + 1; b <= hour; b++) for (const l of TOTALLED) out[l] += this.added.get(`${ch}|${b}|${l}`) ?? 0;
    return out;
  }
  reset(): void {
    this.added.clear();
  }
}

function makeStore(redis: RedisClient, prefix: string, windows = WINDOWS): Store {
  return new Store(redis, new Keys(prefix, 4), { retentionMs: 86_400_000, quarantineKeep: 10, windows, dedupMs: 30 * 86_400_000, warningWindowMs: 30 * 86_400_000, engagedMs: 180 * 86_400_000 });
}

/**
 * One report's effect on an account (Store.recordMessage, one recipient), and the figures
 * right after it, read as the decision in that script reads them (the running totals).
 */
async function effect(store: Store, e: { account: string; channel: Ch; campaign: string | null; address: string; counter: Counter | null; fingerprint: string | null; now: number }) {
  const m = await store.recordMessage({ record: null, account: e.account, channel: e.channel, campaign: e.campaign, sample: null, recipients: [{ address: e.address, counter: e.counter, suppression: null, event: null, fingerprint: e.fingerprint }], decision: null, now: e.now });
  return { duplicate: m.recipients[0].duplicate, windows: (await store.readAccount(e.account, e.channel, e.now)).windows };
}

async function connect(t: Tap.Test, url: string): Promise<RedisClient> {
  const redis = createRedis({ url, commandTimeout: 5000 });
  await redis.connect();
  t.teardown(() => redis.disconnect());
  return redis;
}

t.test('the include mechanism pastes lib/<name>.lua once and refuses an unknown one', async (t) => {
  const out = expandIncludes('--- @include "windows"\n--- @include "windows"\nreturn 1\n');
  t.match(out, /function W\.roll/);
  t.equal(out.split('function W.roll').length, 2, 'pasted once');
  t.throws(() => expandIncludes('--- @include "nope"\n'));
});

for (const seed of [1, 2, 3, 4]) {
  t.test(`random reports and traffic (seed ${seed}): figures equal the sums of the buckets`, async (t) => {
    const server = await testRedis(t);
    const redis = await connect(t, server.url);
    const store = makeStore(redis, 't' + randomBytes(4).toString('hex'));
    const r = rng(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
    const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
    const account = 'acct';
    const key = store.keys.account(account).windows;
    const model = new Model();
    const clock = new ManualClock(Date.parse('2026-05-01T00:00:00Z'));
    let lastWrite = -Infinity;
    let fingerprints = 0;
    let checked = 0;
    let slow = 0;
    let expired = 0;

    const same = (got: Partial<Sums>, want: Sums, what: string) => {
      checked++;
      for (const l of Object.keys(got) as Letter[]) {
        if (got[l] !== want[l]) {
          t.fail(`${what}: ${l} is ${got[l]}, the buckets sum to ${want[l]}`);
          return false;
        }
      }
      return true;
    };

    for (let step = 0; step < 350; step++) {
      // Time moves forward: mostly within the hour, sometimes by a window or past the TTL.
      const move = r();
      if (move < 0.4) clock.advance(int(0, 60_000));
      else if (move < 0.7) clock.advance(HOUR);
      else if (move < 0.82) clock.advance(int(2, 6) * HOUR);
      else if (move < 0.9) clock.advance(int(20, 30) * HOUR);
      else if (move < 0.96) clock.advance(int(160, 175) * HOUR);
      else clock.advance(int(190, 400) * HOUR);
      // Redis would have let the hash expire (its TTL counts from the last write).
      if (clock.now() - lastWrite > TTL && (await redis.exists(key))) {
        await redis.del(key);
        model.reset();
        expired++;
      }
      // Now and then this caller's clock is an hour behind another instance's.
      const behind = r() < 0.1;
      const now = clock.now() - (behind ? HOUR : 0);
      const hour = Math.floor(now / HOUR);

      if (r() < 0.5) {
        // A report: complaint, unverified complaint, hard or soft bounce, auth failure, or a
        // report that counts nothing; sometimes a redelivery (counted once).
        const ch = pick(CHANNELS);
        const counter = pick<Counter | null>(['c', 'c', 'h', 'h', 'u', 'f', 'a', null]);
        const again = fingerprints > 0 && r() < 0.15;
        const fingerprint = `fp${again ? int(0, fingerprints - 1) : fingerprints++}`;
        const f = await effect(store, { account, channel: ch, campaign: 'c1', address: `x${step}@example.org`, counter, fingerprint, now });
        t.equal(f.duplicate, again, `step ${step}: duplicate`);
        if (!again && counter) {
          model.add(ch, hour, counter, 1);
          lastWrite = clock.now();
        }
        if (hour < (Number(await redis.hget(key, `${ch}|r`)) || 0)) slow++;
        f.windows.forEach((w, i) => {
          const want = model.sums(ch, hour, WINDOWS[i].hours);
          same({ s: w.sent, c: w.complaints, h: w.hardBounces }, want, `step ${step}: recordMessage ${ch} ${w.name}${behind ? ' (clock behind)' : ''}`);
        });
      } else {
        // A traffic batch: sent counts mostly, some backdated (a few past every window, some
        // right at a window's edge).
        const items = Array.from({ length: int(1, 6) }, () => {
          const age = pick([0, 0, 0, int(1, 30), int(1, 30), int(150, 200), pick([23, 24, 25, 167, 168, 169])]);
          return { channel: pick(CHANNELS), at: now - age * HOUR - int(0, HOUR - 1), campaign: pick(['c1', null]), counter: pick<Counter>(['s', 's', 's', 'd', 'e', 'c', 'h', 'u']), n: int(1, 1000) };
        }).map((it) => ({ ...it, at: Math.min(it.at, now) }));
        t.equal(await store.count(account, items, null, now), true);
        for (const it of items) model.add(it.channel, Math.floor(it.at / HOUR), it.counter, it.n);
        lastWrite = clock.now();
      }

      // readAccount (admin reads, never writing), both channels, at this hour and from a
      // clock an hour behind.
      for (const ch of CHANNELS) {
        for (const h of new Set([Math.floor(clock.now() / HOUR), Math.floor(clock.now() / HOUR) - 1, hour])) {
          const a = await store.readAccount(account, ch, h * HOUR + 1234);
          a.windows.forEach((w, i) => {
            same({ s: w.sent, c: w.complaints, h: w.hardBounces, u: w.unverifiedComplaints }, model.sums(ch, h, WINDOWS[i].hours), `step ${step}: readAccount ${ch} ${w.name} at hour ${h}`);
          });
        }
      }

      // What is stored: totals exact at r, no bucket kept past every window, a TTL always.
      const all = await redis.hgetall(key);
      const pttl = await redis.pttl(key);
      if (pttl === -1) t.fail(`step ${step}: the hash has no TTL`);
      for (const ch of CHANNELS) {
        const rolled = all[`${ch}|r`];
        const buckets = Object.keys(all).filter((f) => new RegExp(`^${ch}\\|\\d+\\|`).test(f));
        if (rolled === undefined) {
          if (buckets.length > 0) t.fail(`step ${step}: ${ch} buckets without totals`);
          continue;
        }
        const at = Number(rolled);
        WINDOWS.forEach((w) => {
          const stored: Sums = { s: 0, c: 0, h: 0, u: 0 };
          for (const l of TOTALLED) stored[l] = Number(all[`${ch}|w${w.hours}|${l}`] ?? 0);
          same(stored, model.sums(ch as Ch, at, w.hours), `step ${step}: stored ${ch} totals of ${w.name} at r`);
        });
        const old = buckets.filter((f) => Number(f.split('|')[1]) <= at - MAX - 1);
        if (old.length > 0) t.fail(`step ${step}: ${ch} keeps buckets past every window: ${old.slice(0, 3).join(' ')}`);
      }
    }
    t.ok(checked > 4000, `${checked} figures compared`);
    t.ok(expired > 0, `the hash expired ${expired} times`);
    t.ok(slow > 0, `${slow} reports from a clock behind the totals`);
  });
}

t.test('old data (buckets, no totals) gives the same figures, and gets its totals on the next write', async (t) => {
  const server = await testRedis(t);
  const redis = await connect(t, server.url);
  const store = makeStore(redis, 't' + randomBytes(4).toString('hex'));
  const key = store.keys.account('old').windows;
  const model = new Model();
  const r = rng(11);
  let now = Date.parse('2026-05-10T10:30:00Z');
  const hour = Math.floor(now / HOUR);
  // What the previous version left: buckets of every letter over the last 8 days, a TTL.
  const fields: Array<string | number> = [];
  for (let back = 0; back < 200; back++) {
    for (const l of ['s', 'd', 'c', 'h', 'u', 'f']) {
      if (r() < 0.6) continue;
      const n = 1 + Math.floor(r() * 500);
      fields.push(`email|${hour - back}|${l}`, n);
      model.add('email', hour - back, l, n);
    }
  }
  await redis.hset(key, ...fields);
  await redis.pexpire(key, TTL);

  const check = async (what: string, f: Array<{ sent: number; complaints: number; hardBounces: number; unverifiedComplaints?: number }>, h: number) => {
    f.forEach((w, i) => {
      const want = model.sums('email', h, WINDOWS[i].hours);
      t.same({ s: w.sent, c: w.complaints, h: w.hardBounces, ...(w.unverifiedComplaints === undefined ? {} : { u: w.unverifiedComplaints }) }, w.unverifiedComplaints === undefined ? { s: want.s, c: want.c, h: want.h } : want, `${what}, ${WINDOWS[i].name}`);
    });
  };
  await check('readAccount before any write', (await store.readAccount('old', 'email', now)).windows, hour);
  t.equal(await redis.hget(key, 'email|r'), null, 'a read writes nothing');
  const f = await effect(store, { account: 'old', channel: 'email', campaign: null, address: 'a@example.org', counter: 'c', fingerprint: 'm1', now });
  model.add('email', hour, 'c', 1);
  await check('recordMessage on old data', f.windows, hour);
  t.equal(await redis.hget(key, 'email|r'), String(hour), 'totals built and rolled to this hour');
  t.ok((await redis.pttl(key)) > 0, 'the TTL stays');
  for (let i = 0; i < 30; i++) {
    now += Math.floor(r() * 3) * HOUR;
    const h = Math.floor(now / HOUR);
    const g = await effect(store, { account: 'old', channel: 'email', campaign: null, address: `a${i}@example.org`, counter: 'h', fingerprint: `m${i + 2}`, now });
    model.add('email', h, 'h', 1);
    await check(`recordMessage ${i}`, g.windows, h);
    await check(`readAccount ${i}`, (await store.readAccount('old', 'email', now)).windows, h);
  }
});

t.test('other windows configured: the totals are rebuilt for them, not trusted', async (t) => {
  const server = await testRedis(t);
  const redis = await connect(t, server.url);
  const prefix = 't' + randomBytes(4).toString('hex');
  const a = makeStore(redis, prefix);
  const b = makeStore(redis, prefix, [{ name: '3d', hours: 72 }, { name: '7d', hours: 168 }]);
  const model = new Model();
  let now = Date.parse('2026-05-10T10:30:00Z');
  for (let i = 0; i < 40; i++) {
    now += (i % 3) * HOUR;
    const store = i % 7 < 4 ? a : b;
    await store.count('acct', [{ channel: 'email', at: now - (i % 5) * HOUR, campaign: null, counter: 's', n: 100 + i }], null, now);
    model.add('email', Math.floor((now - (i % 5) * HOUR) / HOUR), 's', 100 + i);
    const f = await effect(store, { account: 'acct', channel: 'email', campaign: null, address: `a${i}@example.org`, counter: 'c', fingerprint: `f${i}`, now });
    model.add('email', Math.floor(now / HOUR), 'c', 1);
    const hours = store === a ? [24, 168] : [72, 168];
    t.same(
      f.windows.map((w) => [w.sent, w.complaints]),
      hours.map((h) => {
        const s = model.sums('email', Math.floor(now / HOUR), h);
        return [s.s, s.c];
      }),
      `step ${i} (${store === a ? '24h,7d' : '3d,7d'})`,
    );
  }
});

t.test('a report that counts nothing, for an account without counts, creates no hash', async (t) => {
  const server = await testRedis(t);
  const redis = await connect(t, server.url);
  const store = makeStore(redis, 't' + randomBytes(4).toString('hex'));
  const now = Date.parse('2026-05-10T10:30:00Z');
  const f = await effect(store, { account: 'quiet', channel: 'email', campaign: null, address: 'a@example.org', counter: null, fingerprint: null, now });
  t.same(f.windows.map((w) => [w.sent, w.complaints, w.hardBounces]), [[0, 0, 0], [0, 0, 0]]);
  await store.readAccount('quiet', 'sms', now);
  // A traffic item older than every window is never read: nothing to keep either.
  await store.count('quiet', [{ channel: 'email', at: now - 200 * HOUR, campaign: null, counter: 's', n: 5 }], null, now);
  t.equal(await redis.exists(store.keys.account('quiet').windows), 0);
  await store.count('quiet', [{ channel: 'sms', at: now, campaign: null, counter: 's', n: 5 }], null, now);
  const all = await redis.hgetall(store.keys.account('quiet').windows);
  t.same(all, { [`sms|${Math.floor(now / HOUR)}|s`]: '5', 'sms|r': String(Math.floor(now / HOUR)), 'sms|ws': '24,168', 'sms|w24|s': '5', 'sms|w168|s': '5' });
  t.ok((await redis.pttl(store.keys.account('quiet').windows)) > 0);
});

t.test('only the counts someone reads are written: no delivered, engaged, soft-bounce or auth-failure buckets, campaigns count complaints and hard bounces', async (t) => {
  const server = await testRedis(t);
  const redis = await connect(t, server.url);
  const store = makeStore(redis, 't' + randomBytes(4).toString('hex'));
  const now = Date.parse('2026-05-10T10:30:00Z');
  const items = (['s', 'd', 'e', 'c', 'h', 'u'] as Counter[]).map((counter) => ({ channel: 'email' as const, at: now, campaign: 'c1', counter, n: 3 }));
  await store.count('acct', items, null, now);
  for (const counter of ['f', 'a', 'c', 'h'] as Counter[]) await effect(store, { account: 'acct', channel: 'email', campaign: 'c1', address: `${counter}@example.org`, counter, fingerprint: counter, now });
  const k = store.keys.account('acct');
  const letters = (fields: string[]) => [...new Set(fields.filter((f) => /\|\d+\|/.test(f)).map((f) => f.slice(f.lastIndexOf('|') + 1)))].sort();
  t.same(letters(Object.keys(await redis.hgetall(k.windows))), ['c', 'h', 's', 'u']);
  t.same(letters(Object.keys(await redis.hgetall(k.campaigns))), ['c', 'h']);
  const hour = Math.floor(now / HOUR);
  t.equal(await redis.hget(k.campaigns, `email|${hour}|c1|c`), '4', 'three from traffic, one from a report');
});
