/**
 * The rate decision taken inside the message script (src/store/lua/lib/decision.lua, run by
 * recordMessage) against its reference model, src/rules/policy.ts (decide, then guard):
 * random sequences of traffic, complaints and hard bounces (some redelivered), the pool
 * switched, the clock moving by minutes to weeks, suspensions lifted — every outcome, the
 * evidence, the warnings count and the events written must be the model's, at every step.
 */
import { randomBytes } from 'node:crypto';
import t from 'tap';
import { Keys } from '../../src/store/keys.js';
import { createRedis, type RedisClient } from '../../src/store/redis.js';
import { Store } from '../../src/store/store.js';
import { decide, guard, type Outcome, type PolicyConfig, type Pool, type RateKind, type Standing } from '../../src/rules/policy.js';
import { testRedis } from '../helpers/redis.js';
import { rng } from '../helpers/rng.js';

const HOUR = 3_600_000;
const WINDOWS = [
  { name: '24h', hours: 24 },
  { name: '7d', hours: 168 },
];
const POLICY: PolicyConfig = {
  minVolume: 200,
  complaint: { shared: { warn: 0.003, suspend: 0.01 }, dedicated: { warn: 0.005, suspend: 0.02 } },
  bounce: { warn: 0.02, suspend: 0.05 },
};
const GUARDS = { cooldownMs: 6 * HOUR, warningsToSuspend: 3, warningWindowMs: 5 * 24 * HOUR };

async function connect(t: Tap.Test, url: string): Promise<RedisClient> {
  const redis = createRedis({ url, commandTimeout: 5000 });
  await redis.connect();
  t.teardown(() => redis.disconnect());
  return redis;
}

/** Sent, complaints and hard bounces added per hour; a window's figure is a plain sum. */
class Figures {
  private added = new Map<string, number>();
  add(hour: number, letter: 's' | 'c' | 'h', n: number): void {
    const k = `${hour}|${letter}`;
    this.added.set(k, (this.added.get(k) ?? 0) + n);
  }
  windows(hour: number) {
    return WINDOWS.map((w) => {
      let sent = 0;
      let complaints = 0;
      let hardBounces = 0;
      for (let b = hour - w.hours + 1; b <= hour; b++) {
        sent += this.added.get(`${b}|s`) ?? 0;
        complaints += this.added.get(`${b}|c`) ?? 0;
        hardBounces += this.added.get(`${b}|h`) ?? 0;
      }
      return { ...w, sent, complaints, hardBounces };
    });
  }
}

for (const seed of [1, 2, 3, 4, 5, 6]) {
  t.test(`random reports (seed ${seed}): the script decides as rules/policy.ts does`, async (t) => {
    const server = await testRedis(t);
    const redis = await connect(t, server.url);
    const store = new Store(redis, new Keys('t' + randomBytes(4).toString('hex'), 4), { retentionMs: 86_400_000, quarantineKeep: 10, windows: WINDOWS, dedupMs: 30 * 86_400_000, warningWindowMs: GUARDS.warningWindowMs, engagedMs: 180 * 86_400_000 });
    const r = rng(seed);
    const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
    const account = 'acct';
    const figures = new Figures();
    let standing: Standing = { suspended: false, lastWarnAt: 0, warnings: [] };
    let pool: Pool = 'shared';
    let now = Date.parse('2026-05-01T00:00:00Z');
    let fingerprints = 0;
    let events = 0;
    const seen: Record<string, number> = {};

    for (let step = 0; step < 600; step++) {
      const move = r();
      if (move < 0.5) now += int(0, 20 * 60_000);
      else if (move < 0.8) now += int(1, 4) * HOUR;
      else if (move < 0.95) now += int(5, 30) * HOUR;
      else now += int(2, 9) * 24 * HOUR;
      const hour = Math.floor(now / HOUR);

      const what = r();
      if (what < 0.25) {
        // Multiples of 50: sums land on minVolume and rates on the thresholds (the edges of > and >=).
        const n = 50 * int(1, 8);
        await store.count(account, [{ channel: 'email', at: now, campaign: 'c1', counter: 's', n }], null, now);
        figures.add(hour, 's', n);
        continue;
      }
      if (what < 0.28) {
        pool = pool === 'shared' ? 'dedicated' : 'shared';
        await store.setAccountMeta(account, { pool });
        continue;
      }
      if (what < 0.33 && standing.suspended) {
        await store.reinstate(account, { id: `evt_r${step}`, type: 'account.reinstated', timestamp: new Date(now).toISOString(), data: { account } });
        standing = { suspended: false, lastWarnAt: 0, warnings: [] };
        events++;
        continue;
      }
      // A complaint or a hard bounce; now and then one delivered again (counted once, decides nothing).
      const kind: RateKind = r() < 0.6 ? 'complaint' : 'bounce';
      const letter = kind === 'complaint' ? 'c' : 'h';
      const again = fingerprints > 0 && r() < 0.1;
      const fp = `fp${again ? int(0, fingerprints - 1) : fingerprints++}`;
      const m = await store.recordMessage({
        record: null,
        account,
        channel: 'email',
        campaign: `c${int(1, 3)}`,
        sample: `r${step}`,
        recipients: [{ address: `x${step}@example.org`, counter: letter, suppression: null, event: null, fingerprint: fp }],
        decision: { kind, policy: POLICY, cooldownMs: GUARDS.cooldownMs, suspendAfter: GUARDS.warningsToSuspend, warnEventId: `evt_w${step}`, suspendEventId: `evt_s${step}`, data: { account, channel: 'email', rule: `${kind}-rate` } },
        now,
      });
      t.equal(m.recipients[0].duplicate, again, `step ${step}: duplicate`);
      // The model: nothing is decided for a duplicate or a suspended account.
      let want: { outcome: Outcome; evidence?: ReturnType<typeof decide> } | null = null;
      if (!again) figures.add(hour, letter, 1);
      if (!again && !standing.suspended) {
        const d = decide(kind, pool, figures.windows(hour), POLICY);
        const g = guard(standing, d, now, GUARDS);
        if (g.outcome === 'warned') events++;
        if (g.outcome === 'suspended') events += standing.suspended || d.action === 'suspend' ? 1 : 2;
        standing = g.standing;
        want = { outcome: g.outcome, evidence: d };
      }
      const got = m.decision;
      if ((got === null) !== (want === null) || (got && want && got.outcome !== want.outcome)) {
        t.fail(`step ${step} (${kind}, ${pool}): the script says ${got?.outcome ?? 'no decision'}, the model ${want?.outcome ?? 'no decision'}`, { figures: figures.windows(hour), standing });
        break;
      }
      if (got && want) {
        seen[got.outcome] = (seen[got.outcome] ?? 0) + 1;
        const d = want.evidence!;
        if (d.action !== 'none' && got.outcome !== 'cooldown') {
          const e = got.evidence!;
          t.match(e, { kind, window: d.evidence.window, sent: d.evidence.sent, count: d.evidence.count, threshold: d.evidence.threshold }, `step ${step}: evidence`);
          t.ok(Math.abs(e.rate - d.evidence.rate) < 1e-12, `step ${step}: rate ${e.rate} ≈ ${d.evidence.rate}`);
        }
        if (got.outcome === 'warned' || got.outcome === 'suspended') {
          t.equal(got.warnings, standing.warnings.length, `step ${step}: warnings`);
        }
      }
      t.equal(await redis.xlen(store.keys.account(account).outbox), events, `step ${step}: events written`);
    }
    // The sequences reach every outcome, or the comparison proves little.
    for (const o of ['none', 'cooldown', 'warned', 'suspended']) t.ok((seen[o] ?? 0) > 0, `${o}: ${seen[o] ?? 0} times`);
  });
}

t.test('a complaint during a cooldown reads no campaign counts', async (t) => {
  const server = await testRedis(t);
  const redis = await connect(t, server.url);
  const store = new Store(redis, new Keys('t' + randomBytes(4).toString('hex'), 4), { retentionMs: 86_400_000, quarantineKeep: 10, windows: WINDOWS, dedupMs: 30 * 86_400_000, warningWindowMs: GUARDS.warningWindowMs, engagedMs: 180 * 86_400_000 });
  const now = Date.parse('2026-05-01T10:00:00Z');
  await store.count('a', [{ channel: 'email', at: now, campaign: 'c1', counter: 's', n: 1000 }], null, now);
  const complaint = (i: number) =>
    store.recordMessage({
      record: null,
      account: 'a',
      channel: 'email',
      campaign: 'c1',
      sample: `r${i}`,
      recipients: [{ address: `x${i}@example.org`, counter: 'c', suppression: null, event: null, fingerprint: `f${i}` }],
      decision: { kind: 'complaint', policy: POLICY, cooldownMs: GUARDS.cooldownMs, suspendAfter: 10, warnEventId: `w${i}`, suspendEventId: `s${i}`, data: { account: 'a' } },
      now: now + i,
    });
  for (let i = 0; i < 3; i++) t.equal((await complaint(i)).decision?.outcome, 'none');
  t.equal((await complaint(3)).decision?.outcome, 'warned', '4 in 1000: a warning');
  await redis.config('RESETSTAT');
  t.equal((await complaint(4)).decision?.outcome, 'cooldown');
  const stats = (await redis.info('commandstats')) as string;
  t.notMatch(stats, /cmdstat_hgetall:/, 'no HGETALL of the campaign counts');
  t.notMatch(stats, /cmdstat_zremrangebyscore:/, 'no trimming of the warnings');
});
