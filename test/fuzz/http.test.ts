/** Every JSON route answers bad input with a 4xx and an error body — never a 5xx or a hang. */
import t from 'tap';
import { rng } from '../helpers/rng.js';
import { startGateway } from '../helpers/gateway.js';
import { testRedis } from '../helpers/redis.js';

function value(r: () => number, depth = 0): unknown {
  const k = Math.floor(r() * (depth > 3 ? 6 : 9));
  switch (k) {
    case 0: return null;
    case 1: return r() < 0.5;
    case 2: return Math.floor(r() * 2e9) - 1e9;
    case 3: return r() * 1e300;
    case 4: return ['', 'sent', 'email', 'sms', 'acme', '+61400000000', 'a@b.example', '../../etc', 'x'.repeat(70), '\u0000\uffff'][Math.floor(r() * 10)];
    case 5: return 'x'.repeat(Math.floor(r() * 500));
    case 6: return Array.from({ length: Math.floor(r() * 5) }, () => value(r, depth + 1));
    default: {
      const keys = ['type', 'account', 'campaign', 'events', 'addresses', 'address', 'reason', 'channel', 'count', 'at', 'recipient', 'headers', 'phone', 'status', 'note', 'pool', 'ip', 'signedUpAt', '__proto__', 'constructor'];
      const o: Record<string, unknown> = {};
      for (let i = 0; i < r() * 6; i++) o[keys[Math.floor(r() * keys.length)]] = value(r, depth + 1);
      return o;
    }
  }
}

t.test('random and malformed bodies', async (t) => {
  const redis = await testRedis(t);
  const gw = await startGateway(t, { redisUrl: redis.url, overrides: { admin: { token: 'fuzz-admin-token-padded-to-32-chars-xxxxxxx' }, form: { ratePerMinute: 0 } } });
  const base = `http://127.0.0.1:${gw.httpPort}`;
  const routes: Array<[string, string]> = [
    ['POST', '/v1/events'],
    ['POST', '/v1/suppressions/check'],
    ['POST', '/v1/suppressions'],
    ['POST', '/v1/abuse-reports'],
    ['POST', '/v1/consents'],
    ['PATCH', '/v1/accounts/acme'],
    ['POST', '/v1/accounts/acme/reinstate'],
    ['PATCH', '/v1/cases/case_00000000000000000000000000'],
    ['POST', '/u/1aAAAA'],
  ];
  const r = rng(7);
  const seen5xx: string[] = [];
  let n = 0;
  const send = async (method: string, path: string, body: string, type = 'application/json') => {
    const res = await fetch(base + path, { method, headers: { 'content-type': type, authorization: 'Bearer fuzz-admin-token-padded-to-32-chars-xxxxxxx' }, body });
    n++;
    if (res.status >= 500) seen5xx.push(`${method} ${path} ${res.status} ${body.slice(0, 80)}`);
    if (res.status >= 400 && (res.headers.get('content-type') ?? '').includes('json')) {
      const j = await res.json();
      if (typeof j?.error?.code !== 'string') seen5xx.push(`${method} ${path}: error body without a code`);
    } else await res.arrayBuffer();
  };
  for (const [method, path] of routes) {
    for (const raw of ['', '{', '[]', 'null', '"x"', '{"events": [', '\u0000', '{"a":'.repeat(5000), JSON.stringify({ a: 'x'.repeat(2 * 1024 * 1024) })]) await send(method, path, raw);
    await send(method, path, 'a=b&c', 'application/x-www-form-urlencoded');
    await send(method, path, '<xml/>', 'application/xml');
    for (let i = 0; i < 40; i++) await send(method, path, JSON.stringify(value(r)));
  }
  t.same(seen5xx, [], `${n} requests, no 5xx, every JSON error has a code`);
  const health = await fetch(`${base}/healthz`);
  t.equal(health.status, 200, 'still serving');
});
