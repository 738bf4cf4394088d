/**
 * Cases are bounded (docs/operations.md, "Keys and their bounds"): a case resolved or
 * dismissed and left alone for cases.archiveAfterDays leaves the list of cases and the
 * desk's assignments, and its record expires that long again later; open cases, and closed
 * ones changed since, stay.
 */
import t from 'tap';
import { newId } from '../../src/ids.js';
import { Keys } from '../../src/store/keys.js';
import { createRedis } from '../../src/store/redis.js';
import { type CaseRecord, Store } from '../../src/store/store.js';
import { testRedis } from '../helpers/redis.js';

const DAY = 86_400_000;
const T0 = Date.parse('2026-01-05T09:00:00Z');

t.test('closed cases are archived after the configured time', async (t) => {
  const server = await testRedis(t);
  const redis = createRedis({ url: server.url, commandTimeout: 5000 });
  await redis.connect();
  t.teardown(() => redis.disconnect());
  const store = new Store(redis, new Keys('arch', 8), { retentionMs: DAY, quarantineKeep: 10, windows: [{ name: '24h', hours: 24 }], dedupMs: DAY, warningWindowMs: DAY, engagedMs: DAY });

  const open = async (name: string, at: number) => {
    const iso = new Date(at).toISOString();
    const r = { reportId: newId(at), at: iso, channel: 'email' as const, reporter: 'x@isp.example', tokenState: 'valid' };
    const c: CaseRecord = { id: 'case_' + newId(at), status: 'open', channel: 'email', reporter: r.reporter, account: name, campaign: 'c1', createdAt: iso, updatedAt: iso, reportCount: 1, suspicious: [], reports: [r], notes: [], history: [] };
    return (await store.saveCase(c, r, `fp-${name}`, 'evt_' + newId(at), at, 100)).caseId;
  };
  const close = (id: string, account: string, status: string, at: number) => store.updateCase(id, account, 'c1', status, null, 'desk', 'evt_' + newId(at), at);

  const resolved = await open('resolved-long-ago', T0);
  await close(resolved, 'resolved-long-ago', 'resolved', T0 + DAY);
  const dismissed = await open('dismissed-long-ago', T0 + 1000);
  await close(dismissed, 'dismissed-long-ago', 'dismissed', T0 + 2 * DAY);
  const stillOpen = await open('still-open', T0 + 2000);
  const recent = await open('closed-lately', T0 + 3000);
  await close(recent, 'closed-lately', 'resolved', T0 + 80 * DAY);
  const young = await open('young', T0 + 60 * DAY);
  await close(young, 'young', 'resolved', T0 + 61 * DAY);
  await redis.hset(store.keys.desk.assignees, resolved, 'ana', stillOpen, 'ben');

  const now = T0 + 100 * DAY;
  t.equal(await store.archiveCases(now, 90 * DAY), 2, 'two closed cases untouched for 90 days');
  const listed = (await store.listCases(null, 100)).map((c) => c.id).sort();
  t.same(listed, [stillOpen, recent, young].sort(), 'they left the list; open and recently closed cases stay');
  t.equal((await store.getCase(resolved))?.status, 'resolved', 'an archived case still opens by its id');
  const ttl = await redis.pttl(store.keys.cases.record(resolved));
  t.ok(ttl > 89 * DAY && ttl <= 90 * DAY, `and expires archiveAfterDays later (${Math.round(ttl / DAY)} days)`);
  t.equal(await redis.pttl(store.keys.cases.record(stillOpen)), -1, 'an open case never expires');
  t.same(await redis.hgetall(store.keys.desk.assignees), { [stillOpen]: 'ben' }, 'the archived case left the assignments');
  t.equal(await store.archiveCases(now, 90 * DAY), 0, 'a second sweep finds nothing');

  // The record gone (expired), its id is dropped from the list too.
  await redis.del(store.keys.cases.record(recent));
  t.equal(await store.archiveCases(T0 + 200 * DAY, 90 * DAY), 2, 'the expired record and the case closed lately');
  t.same((await store.listCases(null, 100)).map((c) => c.id), [stillOpen], 'only the open case is left');
});
