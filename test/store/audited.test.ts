/**
 * Audited and announced: an admin's suppression add (an account's or the global list's) and
 * every removal write their event and their audit entry in the same script as the change.
 */
import t from 'tap';
import { startGateway } from '../helpers/gateway.js';
import { testRedis } from '../helpers/redis.js';
import { apiClient } from '../helpers/http.js';

const ADMIN = 'audit-admin-token-0123456789abcdefghijklmnop';

t.test('global adds and all removals are announced and audited', async (t) => {
  const redis = await testRedis(t);
  const gw = await startGateway(t, { redisUrl: redis.url, overrides: { admin: { token: ADMIN } } });
  const call = apiClient(`http://127.0.0.1:${gw.httpPort}`, ADMIN);
  const events = async (stream: string) => (await gw.store.redis.xrange(stream, '-', '+')).map(([, f]) => ({ a: f[f.indexOf('a') + 1], e: JSON.parse(f[f.indexOf('event') + 1]) }));
  const k = gw.store.keys;

  t.equal((await call('POST', '/v1/suppressions', { account: '*', address: 'trap@spamtrap.example', reason: 'spamtrap' })).status, 201);
  t.equal((await call('POST', '/v1/suppressions', { account: '*', address: 'trap@spamtrap.example', reason: 'spamtrap' })).status, 200, 'already there');
  t.equal((await call('DELETE', '/v1/suppressions/*/trap@spamtrap.example?note=not%20a%20trap')).status, 200);
  t.equal((await call('DELETE', '/v1/suppressions/*/trap@spamtrap.example')).status, 404);
  const global = await events(k.global.outbox);
  t.same(global.map((x) => [x.a, x.e.type, x.e.seq]), [['global', 'recipient.suppressed', 1], ['global', 'recipient.unsuppressed', 2]], 'one event per change, none for no change');
  t.match(global[0].e.data, { account: null, scope: 'global', address: 'trap@spamtrap.example', reason: 'spamtrap' });
  t.match(global[1].e.data, { scope: 'global', note: 'not a trap' });

  t.equal((await call('POST', '/v1/suppressions', { account: 'acme', address: 'jo@example.org', reason: 'manual' })).status, 201);
  t.equal((await call('DELETE', '/v1/suppressions/acme/jo@example.org')).status, 200);
  const acme = (await events(k.account('acme').outbox)).filter((x) => x.a === 'acme');
  t.same(acme.map((x) => [x.e.type, x.e.seq]), [['recipient.suppressed', 1], ['recipient.unsuppressed', 2]]);

  const audit = await gw.store.readAudit(10);
  t.same(
    audit.map((a) => [a.action, a.account, a.result]),
    [
      ['suppression.remove', 'acme', 'removed'],
      ['suppression.add', 'acme', 'added'],
      ['suppression.remove', '*', 'absent'],
      ['suppression.remove', '*', 'removed'],
      ['suppression.add', '*', 'exists'],
      ['suppression.add', '*', 'added'],
    ],
    'every attempt audited, newest first, across the slots',
  );
  t.equal(await gw.store.redis.xlen(k.account('acme').audit), 2, 'in the account partition');
  t.equal(await gw.store.redis.xlen(k.global.audit), 4, "in the global list's slot");
});
