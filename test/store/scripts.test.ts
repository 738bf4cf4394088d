/**
 * How a script is called (src/store/redis.ts defineScripts): EVALSHA, and the text by EVAL
 * only when Redis answers NOSCRIPT (its script cache emptied: a restart, a node new to the
 * cluster). A script's own error is not a reason to send the text again.
 */
import t from 'tap';
import { scriptOf } from '../../src/store/call.js';
import { createRedis } from '../../src/store/redis.js';
import { testRedis } from '../helpers/redis.js';

function calls(info: string, cmd: string): number {
  return Number(new RegExp(`^cmdstat_${cmd}:calls=(\\d+)`, 'm').exec(info)?.[1] ?? 0);
}

t.test('EVALSHA; after SCRIPT FLUSH one EVAL reloads the script, then EVALSHA again', async (t) => {
  const server = await testRedis(t);
  const redis = createRedis({ url: server.url, commandTimeout: 5000 });
  await redis.connect();
  t.teardown(() => redis.disconnect());
  const hit = scriptOf(redis, 'hit');

  t.equal(await hit('k', 60_000, 2), 2, 'first call: counted');
  await redis.config('RESETSTAT');
  t.equal(await hit('k', 60_000, 3), 5, 'cached: counted');
  let info = await redis.info('commandstats');
  t.equal(calls(info, 'evalsha'), 1, 'one EVALSHA');
  t.equal(calls(info, 'eval'), 0, 'no EVAL while the script is cached');

  await redis.script('FLUSH');
  await redis.config('RESETSTAT');
  t.equal(await hit('k', 60_000, 1), 6, 'after the flush: counted once');
  t.equal(await hit('k', 60_000, 1), 7, 'and the next call too');
  info = await redis.info('commandstats');
  t.equal(calls(info, 'eval'), 1, 'one EVAL reloaded it');
  t.equal(calls(info, 'evalsha'), 2, 'both calls tried EVALSHA first');
  t.equal(Number(await redis.get('k')), 7, 'no call ran twice');
});

t.test("a script's own error is not retried as an EVAL", async (t) => {
  const server = await testRedis(t);
  const redis = createRedis({ url: server.url, commandTimeout: 5000 });
  await redis.connect();
  t.teardown(() => redis.disconnect());
  const hit = scriptOf(redis, 'hit');
  await hit('k', 60_000, 1);
  await redis.config('RESETSTAT');
  // hit takes 2 arguments: its argument check refuses a third.
  await t.rejects(hit('k', 60_000, 1, 'extra'), /ERR hit: wants 1 keys and 2 arguments/);
  const info = await redis.info('commandstats');
  t.equal(calls(info, 'eval'), 0, 'no EVAL');
  t.equal(Number(await redis.get('k')), 1, 'nothing counted');
});
