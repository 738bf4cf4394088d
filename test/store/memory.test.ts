/**
 * The memory budget (docs/operations.md, "Memory budget"): 100,000 report records, 100,000
 * suppressions, 100 active accounts and 2,000 cases written through the store's own
 * scripts and writes, and Redis's used_memory after each against a budget per item. A change that
 * makes an item larger (a report record pushed out of listpack encoding, a field added to
 * every suppression) fails here and says by how much.
 */
import t from 'tap';
import { Keys } from '../../src/store/keys.js';
import { createRedis, type RedisClient } from '../../src/store/redis.js';
import { parseInfo } from '../../src/store/health.js';
import { type CaseRecord, REPORT_VALUE_BYTES, type ReceivedReport, reportFields, reportFromFields, Store } from '../../src/store/store.js';
import { newId } from '../../src/ids.js';
import { testRedis } from '../helpers/redis.js';

/** Bytes of used_memory per item; the measured figures are in docs/operations.md. */
const BUDGET = { report: 800, suppression: 280, account: 16_000, kase: 2_500 };

const NOW = Date.parse('2026-03-10T12:00:00Z');
const HOUR = 3_600_000;
const BATCH = 2_000;

async function usedMemory(redis: RedisClient): Promise<number> {
  return Number(parseInfo(String(await redis.info('memory'))).get('used_memory'));
}

/** Runs `make(i)` for i in [0, n), BATCH calls in flight at a time (ioredis pipelines them). */
async function batched(n: number, make: (i: number) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < n; i += BATCH) await Promise.all(Array.from({ length: Math.min(BATCH, n - i) }, (_, j) => make(i + j)));
}

/** A feedback-loop report as ingest.ts records it, with the reporter's authentication. */
function report(i: number): ReceivedReport {
  return {
    id: newId(NOW + i),
    mailbox: 'fbl',
    kind: 'complaint',
    size: 3_000 + (i % 500),
    clientIp: `198.51.100.${i % 250}`,
    helo: 'mx-out-7.feedback.isp.example',
    mailFrom: 'fbl-reports@feedback.isp.example',
    rcptTo: ['fbl@abuse.sender.example'],
    arrivedAt: NOW + i,
    fingerprint: 'm' + newId(NOW + i).slice(0, 26),
    outcome: 'parsed',
    account: `acct-${i % 1000}`,
    campaign: `spring-sale-${i % 20}`,
    reporterAuth: { verdict: 'trusted', basis: 'dkim:feedback.isp.example', dkimPass: ['feedback.isp.example'], spf: 'pass', dmarc: 'pass', fromDomain: 'feedback.isp.example' },
  };
}

t.test('a report record reads back as written; long values are cut at a character boundary', async (t) => {
  const r = report(1);
  const fields = reportFields(r);
  const h: Record<string, string> = {};
  for (let i = 0; i < fields.length; i += 2) h[fields[i]] = fields[i + 1];
  t.same(reportFromFields(h), r, 'the same report, authentication included');
  t.notOk(fields.some((v) => Buffer.byteLength(v) > REPORT_VALUE_BYTES), 'no value over 64 bytes');
  const long = reportFields({ ...r, helo: 'é'.repeat(40), rcptTo: ['bounces+' + 'x'.repeat(80) + '@example.org'] });
  const helo = long[long.indexOf('helo') + 1];
  t.equal(helo, 'é'.repeat(32), 'a 2-byte character is not cut in half');
  t.equal(Buffer.byteLength(long[long.indexOf('rcptTo') + 1]), 64);
});

t.test('memory per report, suppression, active account and case', async (t) => {
  const server = await testRedis(t);
  const redis = createRedis({ url: server.url, commandTimeout: 30_000 });
  await redis.connect();
  t.teardown(() => redis.disconnect());
  const windows = [
    { name: '24h', hours: 24 },
    { name: '7d', hours: 168 },
  ];
  const store = new Store(redis, new Keys('mem', 64), { retentionMs: 30 * 86_400_000, quarantineKeep: 10, windows, dedupMs: 30 * 86_400_000, warningWindowMs: 30 * 86_400_000, engagedMs: 180 * 86_400_000 });
  const measured: Record<string, number> = {};
  const per = async (name: keyof typeof BUDGET, n: number, write: (i: number) => Promise<unknown>) => {
    const before = await usedMemory(redis);
    const started = Date.now();
    await batched(n, write);
    const bytes = Math.round(((await usedMemory(redis)) - before) / n);
    measured[name] = bytes;
    t.comment(`${name}: ${bytes} bytes each (${n} written in ${Date.now() - started} ms)`);
    t.ok(bytes <= BUDGET[name], `${name}: ${bytes} bytes each, budget ${BUDGET[name]}`);
  };

  let sample = '';
  await per('report', 100_000, (i) => {
    const r = report(i);
    sample ||= r.id;
    return store.recordReport(r);
  });
  t.equal(await redis.object('ENCODING', store.keys.report(sample)), 'listpack', 'a report record is a listpack');

  // 100 accounts' lists of 1,000 recipients each, with the record effects.ts writes for a
  // hard bounce. Through the bulk import (HSETNX of the same field and JSON as
  // recordMessage's, pipelined a thousand at a time): the same bytes, a tenth of the time.
  const at = new Date(NOW).toISOString();
  await per('suppression', 100_000, async (i) => {
    if (i % 1000 !== 0) return;
    const rows = Array.from({ length: 1000 }, (_, j) => ({
      address: `recipient.${i + j}@example${(i + j) % 7}.org`,
      rec: { reason: 'hard-bounce', source: 'bounce', at, reportId: newId(NOW + i + j), campaign: 'spring-sale', status: '5.1.1' },
    }));
    await store.importSuppressions(`acct-${i / 1000}`, 'email', rows, 'memory-test', at);
  });

  // An active account: a week of hourly sent counts (one campaign), 20 complaints (each a
  // dedup marker and a sample), its meta and window totals.
  await per('account', 100, async (i) => {
    const account = `active-${i}`;
    await store.count(account, Array.from({ length: 168 }, (_, h) => ({ channel: 'email' as const, at: NOW - h * HOUR, campaign: 'spring-sale', counter: 's' as const, n: 500 })), null, NOW);
    for (let c = 0; c < 20; c++) {
      await store.recordMessage({ record: null, account, channel: 'email', campaign: 'spring-sale', sample: newId(NOW + c), recipients: [{ address: null, counter: 'c', suppression: null, event: null, fingerprint: `fp-${i}-${c}` }], decision: null, now: NOW });
    }
  });

  // Cases as the desk opens them: one abuse@ report each, with the headers it names.
  await per('kase', 2_000, (i) => {
    const id = 'case_' + newId(NOW + i);
    const at = new Date(NOW).toISOString();
    const r = { reportId: newId(NOW + i), at, channel: 'email' as const, reporter: 'abuse-team@isp.example', tokenState: 'valid', headers: { from: 'news@customer.example', subject: 'Our spring sale: 40% off everything', date: 'Tue, 10 Mar 2026 11:58:01 +0000', messageId: `<${i}.spring@mta.example>` }, recipient: 'someone@example.org' };
    const c: CaseRecord = { id, status: 'open', channel: 'email', reporter: r.reporter, account: `acct-${i}`, campaign: 'spring-sale', createdAt: at, updatedAt: at, reportCount: 1, suspicious: [], reports: [r], notes: [], history: [] };
    return store.saveCase(c, r, `case-fp-${i}`, 'evt_' + newId(NOW + i), NOW, 100);
  });
  t.comment(`measured: ${JSON.stringify(measured)}`);
});
