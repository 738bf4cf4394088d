/**
 * A large NDJSON list is streamed, not held twice: the server runs in this process, so the
 * test measures the live heap (after a forced GC) at every lookup chunk while 300,000
 * addresses stream in, and compares the peak growth with what one copy of the list costs
 * here — a Set of the same 300,000 addresses, measured the same way. A server that
 * buffered the body, or kept an array of the lines beside the Set, would hold a second
 * copy and exceed the bound.
 */
import { spawn } from 'node:child_process';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import t from 'tap';
import { TEST_PLATFORM_TOKEN } from '../helpers/gateway.js';
import { testRedis } from '../helpers/redis.js';
import { startPreflightApp } from './app.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const live = () => {
  gc();
  // Buffers live outside the JS heap: a body buffered whole would show there.
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
};

const N = 300_000;
const address = (i: number) => `subscriber.${i}@domain${i % 500}.example`;

/** Streams the list with backpressure from another process; resolves with the answer. */
function postFromChild(base: string, n: number): Promise<{ status: number; body: any }> {
  const client = `
    const http = require('node:http');
    const [base, n] = process.argv.slice(1);
    const req = http.request(base + '/v1/campaigns/preflight', { method: 'POST', headers: { 'content-type': 'application/x-ndjson', authorization: 'Bearer ${TEST_PLATFORM_TOKEN}' } }, (res) => {
      const parts = [];
      res.on('data', (c) => parts.push(c));
      res.on('end', () => process.stdout.write(JSON.stringify({ status: res.statusCode, body: JSON.parse(Buffer.concat(parts)) })));
    });
    let i = -1;
    (function write() {
      while (i < Number(n)) {
        let chunk = '';
        for (let k = 0; k < 1000 && i < Number(n); k++, i++) chunk += (i < 0 ? JSON.stringify({ account: 'big', campaign: 'c' }) : JSON.stringify('subscriber.' + i + '@domain' + (i % 500) + '.example')) + '\\n';
        if (!req.write(chunk)) return req.once('drain', write);
      }
      req.end();
    })();`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', client, base, String(n)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`client exited ${code}`))));
  });
}

t.test('300,000 addresses over NDJSON, under a memory bound', async (t) => {
  const redis = await testRedis(t);
  const app = await startPreflightApp(t, redis.url);
  const suppressed = Array.from({ length: N / 20 }, (_, i) => address(i * 20 + 3)); // 5 %
  await app.suppress('big', suppressed, { reason: 'unsubscribe', source: 'one-click' });

  // One copy of the list, as the server holds it: a Set of the addresses.
  const before = live();
  const one = new Set<string>();
  for (let i = 0; i < N; i++) one.add(Buffer.from(address(i)).toString());
  const oneCopy = live() - before;
  t.equal(one.size, N); // keeps it alive until measured
  one.clear();

  // The server's live heap at each lookup chunk (the Set only grows while the list streams in).
  const base = live();
  let peak = 0;
  let chunks = 0;
  const lookup = app.store.lookupSuppressions.bind(app.store);
  app.store.lookupSuppressions = async (...args) => {
    // Every third chunk and the last ones: a full GC each time is slow.
    if (chunks++ % 3 === 0 || chunks > N / 5000 - 2) peak = Math.max(peak, live() - base);
    return lookup(...args);
  };
  // The client runs in a child process, so that only the server's memory is measured here.
  const r = await postFromChild(app.base, N);
  t.equal(r.status, 200);
  t.match(r.body.stats, { size: N, unique: N, duplicates: 0, domains: { distinct: 500 } });
  t.equal(r.body.suppressed.count, N / 20);
  t.equal(r.body.suppressed.items, null, 'beyond inlineSuppressedLimit: a cursor');
  t.equal(chunks, N / 5000, 'one lookup (two HMGETs) per 5,000 addresses');

  const mb = (x: number) => `${(x / 1048576).toFixed(1)} MB`;
  t.comment(`one copy of the list: ${mb(oneCopy)}; peak live growth while streaming: ${mb(peak)}`);
  t.ok(oneCopy > 10 * 1048576, `the list is big enough to measure (${mb(oneCopy)})`);
  t.ok(peak < oneCopy * 1.5, `peak growth ${mb(peak)} stays under 1.5 copies (${mb(oneCopy * 1.5)})`);
});
