import t from 'tap';
import { parseProxyV2, V2_SIGNATURE } from '../../src/smtp/proxy.js';
import { startGateway } from '../helpers/gateway.js';
import { testRedis } from '../helpers/redis.js';
import { SmtpClient, sendMail } from '../helpers/smtp.js';

const MSG = 'From: a@example.net\nSubject: hi\nMessage-ID: <x@example.net>\n\nhello\n';

function v2(family: 'inet' | 'inet6' | 'local', src: string, port: number): Buffer {
  if (family === 'local') return Buffer.concat([V2_SIGNATURE, Buffer.from([0x20, 0x00, 0x00, 0x00])]);
  const addr = family === 'inet' ? Buffer.from(src.split('.').map(Number)) : expand6(src);
  const dst = family === 'inet' ? Buffer.from([192, 0, 2, 1]) : Buffer.alloc(16);
  const ports = Buffer.alloc(4);
  ports.writeUInt16BE(port, 0);
  ports.writeUInt16BE(25, 2);
  const body = Buffer.concat([addr, dst, ports]);
  const len = Buffer.alloc(2);
  len.writeUInt16BE(body.length);
  return Buffer.concat([V2_SIGNATURE, Buffer.from([0x21, family === 'inet' ? 0x11 : 0x21]), len, body]);
}

function expand6(a: string): Buffer {
  const [head, tail = ''] = a.split('::');
  const h = head ? head.split(':') : [];
  const tl = tail ? tail.split(':') : [];
  const groups = [...h, ...Array(8 - h.length - tl.length).fill('0'), ...tl];
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => b.writeUInt16BE(parseInt(g, 16), i * 2));
  return b;
}

t.test('PROXY v2 parser', async (t) => {
  const h = v2('inet', '203.0.113.7', 40000);
  t.same(parseProxyV2(h), { length: h.length, remoteAddress: '203.0.113.7', remotePort: 40000 });
  const h6 = v2('inet6', '2001:db8::42', 1234);
  t.same(parseProxyV2(h6), { length: h6.length, remoteAddress: '2001:db8::42', remotePort: 1234 });
  t.same(parseProxyV2(v2('local', '', 0)), { length: 16, remoteAddress: null, remotePort: null }, 'LOCAL: the balancer itself');
  t.equal(parseProxyV2(h.subarray(0, 20)), 'incomplete');
  t.equal(parseProxyV2(h.subarray(0, 5)), 'incomplete');
  t.type(parseProxyV2(Buffer.from('EHLO x\r\n')), Error);
  t.type(parseProxyV2(Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n')), Error, 'v1 is not v2');
  const bad = Buffer.from(h);
  bad[12] = 0x31;
  t.match(String(parseProxyV2(bad)), /version/);
  const long = Buffer.from(h);
  long.writeUInt16BE(5000, 14);
  t.match(String(parseProxyV2(long)), /too long/);
});

t.test('limits and PROXY over SMTP', async (t) => {
  const redis = await testRedis(t);

  t.test('per-IP connection and message rates, shared in Redis', async (t) => {
    const gw = await startGateway(t, { redisUrl: redis.url, overrides: { smtp: { connectionsPerMinute: 3, messagesPerMinute: 2 } } });
    const c = await SmtpClient.connect(gw.smtpPort);
    t.equal((await c.send('a@example.net', ['fbl@localhost'], MSG)).code, 250);
    t.equal((await c.send('a@example.net', ['fbl@localhost'], MSG)).code, 250);
    const third = await c.cmd('MAIL FROM:<a@example.net>');
    t.equal(third.code, 450);
    t.match(third.text, /^4\.7\.1 /);
    await c.quit();
    await (await SmtpClient.connect(gw.smtpPort)).quit();
    await (await SmtpClient.connect(gw.smtpPort)).quit().catch(() => {});
    const refused = await SmtpClient.connect(gw.smtpPort).then(
      () => 'greeted',
      (e: Error) => e.message,
    );
    t.match(refused, /^greeting 421 4\.7\.0 /, 'the 4th connection in a minute gets 421');
  });

  t.test('the message counter reaches Redis in one INCRBY per client and interval, not one write per message', async (t) => {
    const gw = await startGateway(t, { redisUrl: redis.url, overrides: { smtp: { messagesPerMinute: 100 } } });
    const clients = await Promise.all(Array.from({ length: 6 }, () => SmtpClient.connect(gw.smtpPort)));
    await gw.redis.config('RESETSTAT');
    // Six clients, four messages each: 24 MAILs. Counted here and flushed every 200 ms,
    // they cost one INCRBY per interval they fall in, however slow the machine is; one
    // write per message would be 24.
    const started = Date.now();
    const codes = await Promise.all(
      clients.map(async (c, i) => {
        const out = [];
        for (let j = 0; j < 4; j++) out.push((await c.send('a@example.net', ['fbl@localhost'], MSG.replace('<x@', `<x${i}.${j}@`))).code);
        return out;
      }),
    );
    const span = Date.now() - started;
    t.same(codes.flat(), Array(24).fill(250));
    await Promise.all(clients.map((c) => c.quit()));
    // The gateway's clock (a test clock) names the minute.
    const counted = async () => {
      const [key] = await gw.redis.keys(`${gw.store.keys.prefix}:{rl}:smtp-msg:*`);
      return key ? await gw.redis.get(key) : null;
    };
    const deadline = Date.now() + 5000;
    while ((await counted()) !== '24' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    t.equal(await counted(), '24', 'all 24 counted');
    const calls = Number(/cmdstat_incrby:calls=(\d+)/.exec((await gw.redis.info('commandstats')) as string)?.[1] ?? 0);
    t.ok(calls >= 1 && calls <= Math.ceil(span / 200) + 1 && calls < 24, `${calls} INCRBY for 24 messages sent over ${span} ms`);
  });

  t.test('a slow DATA is cut; a huge header block is quarantined', async (t) => {
    const gw = await startGateway(t, { redisUrl: redis.url, overrides: { smtp: { dataTimeout: 1000, maxHeaderBytes: 2048 } } });
    const c = await SmtpClient.connect(gw.smtpPort);
    await c.cmd('EHLO x');
    await c.cmd('MAIL FROM:<a@example.net>');
    await c.cmd('RCPT TO:<fbl@localhost>');
    t.equal((await c.cmd('DATA')).code, 354);
    c.write('Subject: slow\r\n');
    const started = Date.now();
    const r = await c.read();
    t.not(r.code, 250, `no 250 for a trickling client (${r.code} ${r.text})`);
    t.ok(Date.now() - started < 5000, 'within the data timeout, not the idle timeout');
    c.destroy();

    const big = 'From: a@example.net\n' + Array.from({ length: 100 }, (_, i) => `X-Filler-${i}: ${'y'.repeat(60)}`).join('\n') + '\n\nbody\n';
    const q = await sendMail(gw.smtpPort, 'a@example.net', ['fbl@localhost'], big);
    t.equal(q.code, 250);
    const id = /<([0-9a-z]{26})>/.exec(q.text)![1];
    const entry = (await gw.store.listQuarantine(5)).find((e) => e.id === id);
    t.match(entry?.reason, /header block larger than 2048 bytes/);
  });

  t.test('PROXY v1 and v2 from a configured balancer give the real client address', async (t) => {
    const gw = await startGateway(t, { redisUrl: redis.url, overrides: { smtp: { proxyFrom: ['127.0.0.1'] } } });
    const cases: Array<[string, Buffer, string]> = [
      ['v1', Buffer.from('PROXY TCP4 198.51.100.20 192.0.2.1 40000 25\r\n'), '198.51.100.20'],
      ['v2 IPv4', v2('inet', '203.0.113.9', 40001), '203.0.113.9'],
      ['v2 IPv6', v2('inet6', '2001:db8::7', 40002), '2001:db8::7'],
    ];
    for (const [name, header, ip] of cases) {
      const c = await SmtpClient.connect(gw.smtpPort, header);
      const r = await c.send('a@example.net', ['fbl@localhost'], MSG);
      await c.quit();
      t.equal(r.code, 250, name);
      const rec = await gw.store.getReport(/<([0-9a-z]{26})>/.exec(r.text)![1]);
      t.equal(rec?.clientIp, ip, `${name}: ${ip}`);
    }
    const noHeader = await SmtpClient.connect(gw.smtpPort, Buffer.from('EHLO sneaky\r\n')).then(
      () => 'greeted',
      (e: Error) => e.message,
    );
    t.not(noHeader, 'greeted', 'a connection without the header is not served');
  });
});

t.test('dataConcurrency: a message waits for a slot; a trickling DATA gives its slot back', async (t) => {
  const redis = await testRedis(t);
  const gw = await startGateway(t, { redisUrl: redis.url, overrides: { smtp: { dataConcurrency: 1 } } });
  // The trickler takes the only slot: DATA begun, a few bytes, then nothing.
  const slow = await SmtpClient.connect(gw.smtpPort);
  t.equal((await slow.cmd('EHLO slow.test')).code, 250);
  t.equal((await slow.cmd('MAIL FROM:<a@example.net>')).code, 250);
  t.equal((await slow.cmd('RCPT TO:<abuse@localhost>')).code, 250);
  t.equal((await slow.cmd('DATA')).code, 354);
  slow.write('From: a@example.net\r\nSubject: slow\r\n');
  // The fast message is answered once the trickler has been quiet for a second, long
  // before the trickler's dataTimeout (5 minutes).
  const t0 = Date.now();
  const fast = await sendMail(gw.smtpPort, 'b@example.net', ['abuse@localhost'], MSG);
  const waited = Date.now() - t0;
  t.equal(fast.code, 250, 'the fast message is accepted');
  t.ok(waited >= 700, `it waited for the slot (${waited} ms)`);
  t.ok(waited < 10_000, 'not for the trickler to finish');
  slow.write('\r\nbody\r\n.\r\n');
  t.equal((await slow.read()).code, 250, 'the trickler is served too');
  await slow.quit();
});
