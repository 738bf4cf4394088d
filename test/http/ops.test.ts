import t from 'tap';
import { PLATFORM_AUTH, startGateway } from '../helpers/gateway.js';
import { testRedis } from '../helpers/redis.js';
import { sendMail } from '../helpers/smtp.js';

t.test('health, readiness and metrics', async (t) => {
  const redis = await testRedis(t);
  const gw = await startGateway(t, { redisUrl: redis.url });
  const base = `http://127.0.0.1:${gw.httpPort}`;

  t.test('/healthz', async (t) => {
    const r = await fetch(`${base}/healthz`);
    t.equal(r.status, 200);
    t.same(await r.json(), { status: 'ok' });
  });

  t.test('/readyz follows Redis', async (t) => {
    const up = await fetch(`${base}/readyz`);
    t.equal(up.status, 200);
    t.same((await up.json()).checks, { redis: true, smtp: true, policy: true });
    await redis.stop();
    const down = await fetch(`${base}/readyz`);
    t.equal(down.status, 503);
    t.same((await down.json()).checks, { redis: false, smtp: true, policy: true });
    await redis.start();
    const deadline = Date.now() + 10_000;
    let status = 503;
    while (Date.now() < deadline && status !== 200) {
      status = (await fetch(`${base}/readyz`)).status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    t.equal(status, 200, 'ready again once Redis is back');
  });

  t.test('/metrics', async (t) => {
    const r = await sendMail(gw.smtpPort, 'x@example.net', ['abuse@localhost'], 'Subject: hi\n\nhello\n');
    t.equal(r.code, 250);
    t.equal((await fetch(`${base}/metrics`)).status, 401, 'the public listener serves metrics to the platform token only');
    const res = await fetch(`${base}/metrics`, { headers: PLATFORM_AUTH });
    t.equal(res.status, 200);
    t.match(res.headers.get('content-type'), /text\/plain/);
    const text = await res.text();
    t.match(text, /abusegate_smtp_messages_total\{mailbox="abuse",result="accepted"\} [1-9]/);
    t.match(text, /abusegate_smtp_message_size_bytes_bucket\{le="1024"\} [1-9]/);
    t.match(text, /abusegate_parse_duration_seconds_count\{kind="abuse"\} [1-9]/);
    t.match(text, /# TYPE abusegate_redis_errors_total counter/);
    t.match(text, /abusegate_process_resident_memory_bytes/);
  });

  t.test('/openapi.json is generated from the route schemas', async (t) => {
    const r = await fetch(`${base}/openapi.json`);
    t.equal(r.status, 200);
    const doc = await r.json();
    t.equal(doc.openapi, '3.1.0');
    t.equal(doc.info.title, 'abusegate');
    for (const [path, method] of [
      ['/v1/events', 'post'],
      ['/v1/suppressions/check', 'post'],
      ['/v1/suppressions/{account}/{address}', 'get'],
      ['/v1/suppressions/{account}/{address}', 'delete'],
      ['/v1/accounts/{account}/reinstate', 'post'],
      ['/v1/abuse-reports', 'post'],
      ['/v1/cases/{id}', 'patch'],
      ['/v1/campaigns/preflight', 'post'],
      ['/u/{token}', 'post'],
    ]) {
      t.ok(doc.paths[path]?.[method], `${method.toUpperCase()} ${path}`);
      t.ok(doc.paths[path][method].responses, 'with responses');
    }
    // The schemas are the ones the routes validate with: e.g. the events batch limit.
    t.equal(doc.paths['/v1/events'].post.requestBody.content['application/json'].schema.properties.events.maxItems, 10000);
    t.notOk(doc.paths['/openapi.json'], 'the document itself is hidden');
  });

  t.test('errors are JSON with a catalogue code', async (t) => {
    const r = await fetch(`${base}/no/such/route`);
    t.equal(r.status, 404);
    const body = await r.json();
    t.equal(body.error.code, 'NOT_FOUND');
    t.type(body.error.message, 'string');
  });
});
