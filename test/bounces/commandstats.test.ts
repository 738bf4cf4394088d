/**
 * What one bounce costs Redis (issue 16, "exactly once, bounded"): a DSN naming k
 * recipients, sent over real SMTP, is one EVALSHA of the record script whatever k, and
 * nothing writes outside a script. Counted by Redis itself (INFO commandstats after CONFIG
 * RESETSTAT); MONITOR tells which script each EVALSHA ran and who sent each command.
 *
 * The per-client message counter (smtp/server.ts) is added on a 200 ms timer by the hit
 * script, the only script that runs INCRBY: its EVALSHAs are the INCRBY count.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import t from 'tap';
import { ManualClock } from '../../src/clock.js';
import { scriptText } from '../../src/store/redis.js';
import { startGateway } from '../helpers/gateway.js';
import { testRedis } from '../helpers/redis.js';
import { SmtpClient } from '../helpers/smtp.js';
import { dsn } from '../helpers/mail.js';

const LUA = new URL('../../src/store/lua/', import.meta.url);
const sha1 = (s: string) => createHash('sha1').update(s).digest('hex');
/** The SHA Redis knows a script by: its text as defineScripts loads it. */
const shaOf = (file: string) => {
  const m = /^([A-Za-z]+)-(\d+)(\+?)\.lua$/.exec(file)!;
  return sha1(scriptText(m[1], Number(m[2]), readFileSync(new URL(file, LUA), 'utf8'), m[3] === '+'));
};

function commandstats(info: string): Map<string, number> {
  const calls = new Map<string, number>();
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls.set(m[1], Number(m[2]));
  return calls;
}

t.test('a DSN naming 3 recipients: one EVALSHA of recordMessage, no write outside a script', async (t) => {
  const { only: hitSha, record: recordSha } = { only: shaOf('hit-1.lua'), record: shaOf('recordMessage-10+.lua') };
  t.same(
    readdirSync(LUA).filter((f) => f.endsWith('.lua') && /'INCRBY'/.test(readFileSync(new URL(f, LUA), 'utf8'))),
    ['hit-1.lua'],
    'only the hit script runs INCRBY: its calls are the INCRBY count',
  );

  const redis = await testRedis(t);
  const gw = await startGateway(t, { redisUrl: redis.url, clock: new ManualClock(Date.parse('2026-05-01T08:00:00Z')) });
  const conn = () => (redis.url.startsWith('unix://') ? new Redis({ path: redis.url.slice('unix://'.length) }) : new Redis(redis.url));
  const admin = conn();
  t.teardown(() => admin.disconnect());
  const stats = async () => commandstats(String(await admin.info('commandstats')));
  const smtp = await SmtpClient.connect(gw.smtpPort);
  t.teardown(() => smtp.quit().catch(() => {}));

  // The VERP address speaks for the first recipient (rules/evidence.ts: the others are
  // named, parsed and ignored, never suppressed on this token's word).
  const verp = (recipient: string) => `bounces+${gw.codec!.mintShort({ account: 'acme', campaign: 'c1', recipient })}@localhost`;
  // Steady state: a first bounce loads the scripts (ioredis sends EVALSHA, and on NOSCRIPT
  // once EVAL); what one bounce costs is measured on the next.
  const warm = ['warm-1@example.org', 'warm-2@example.org', 'warm-3@example.org'];
  t.equal((await smtp.send('', [verp(warm[0])], dsn({ recipient: warm[0], also: warm.slice(1), status: '5.1.1' }))).code, 250);
  const recipients = ['gone-1@example.org', 'gone-2@example.org', 'gone-3@example.org'];
  // Quiet before MONITOR starts: the warm-up's message counter is flushed (within 200 ms).
  const flushed = Date.now() + 5_000;
  while ((await admin.keys(`${gw.store.keys.prefix}:*smtp-msg*`)).length === 0) {
    if (Date.now() > flushed) throw new Error("the warm-up's message counter was never flushed");
    await new Promise((r) => setTimeout(r, 20));
  }

  // monitor() opens a connection of its own beside the one it is called on.
  const base = conn();
  t.teardown(() => base.disconnect());
  const monitor = await base.monitor();
  const seen: Array<{ args: string[]; source: string }> = [];
  monitor.on('monitor', (_time: string, args: string[], source: string) => seen.push({ args, source }));
  t.teardown(() => monitor.disconnect());
  await admin.config('RESETSTAT');

  const r = await smtp.send('', [verp(recipients[0])], dsn({ recipient: recipients[0], also: recipients.slice(1), status: '5.1.1' }));
  t.equal(r.code, 250, r.text);
  // The message counter is flushed within 200 ms of the MAIL: wait for it, so it is
  // accounted for rather than falling after the measurement.
  const deadline = Date.now() + 5_000;
  while (!seen.some((c) => c.source !== 'lua' && c.args[0].toLowerCase() === 'evalsha' && c.args[1] === hitSha)) {
    if (Date.now() > deadline) throw new Error('the message counter was never flushed');
    await new Promise((r) => setTimeout(r, 20));
  }
  const calls = await stats();
  monitor.disconnect();

  const hits = calls.get('incrby') ?? 0;
  t.equal((calls.get('evalsha') ?? 0) - hits, 1, `one EVALSHA besides the counter's ${hits}: ${JSON.stringify(Object.fromEntries(calls))}`);
  t.notOk(calls.get('eval'), 'no EVAL (every script is loaded, called by its SHA)');

  // Who sent what: MONITOR shows a script's commands with the source "lua".
  const fromClients = seen.filter((c) => c.source !== 'lua');
  const evalshas = fromClients.filter((c) => c.args[0].toLowerCase() === 'evalsha').map((c) => c.args[1]);
  t.equal(evalshas.filter((s) => s === recordSha).length, 1, 'recordMessage ran once');
  t.same(
    evalshas.filter((s) => s !== recordSha),
    evalshas.filter((s) => s === hitSha),
    'every other EVALSHA is the counter (hit)',
  );
  const names = [...new Set(fromClients.map((c) => c.args[0].toLowerCase()))];
  const writes: string[] = [];
  for (const name of names) {
    const [info] = (await admin.command('INFO', name)) as Array<[string, number, string[]] | null>;
    if (info?.[2].includes('write')) writes.push(name);
  }
  t.same(writes, [], `no write command sent outside a script (sent: ${fromClients.map((c) => c.args.slice(0, 2).join(' ')).join(', ')})`);

  t.equal((await gw.store.getSuppression('acme', 'email', recipients[0]))?.reason, 'hard-bounce', 'the bounce did its work');
  t.equal(await gw.store.getSuppression('acme', 'email', recipients[1]), null);
});
