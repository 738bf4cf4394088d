import t from 'tap';
import { startGateway } from '../helpers/gateway.js';
import { testRedis } from '../helpers/redis.js';
import { SmtpClient, sendMail } from '../helpers/smtp.js';

const PLAIN = 'From: someone@example.net\nTo: abuse@localhost\nSubject: spam from you\nMessage-ID: <m1@example.net>\n\nYou sent me spam.\n';

t.test('SMTP listener', async (t) => {
  const redis = await testRedis(t);
  const gw = await startGateway(t, { redisUrl: redis.url, overrides: { smtp: { maxSize: 4096, maxRecipients: 3, domains: ['localhost', 'a.test', 'b.test', 'c.test'] } } });

  t.test('routes our mailboxes and refuses others at RCPT', async (t) => {
    const c = await SmtpClient.connect(gw.smtpPort);
    t.teardown(() => c.quit());
    await c.cmd('EHLO client.test');
    t.equal((await c.cmd('MAIL FROM:<isp@example.net>')).code, 250);
    for (const ok of ['fbl@localhost', 'FBL@LocalHost']) {
      t.equal((await c.cmd(`RCPT TO:<${ok}>`)).code, 250, ok);
    }
    await c.cmd('RSET');
    await c.cmd('MAIL FROM:<>');
    t.equal((await c.cmd('RCPT TO:<bounces+abc123@localhost>')).code, 250, 'VERP bounce address');
    await c.cmd('RSET');
    await c.cmd('MAIL FROM:<>');
    t.equal((await c.cmd('RCPT TO:<unsubscribe+xyz@localhost>')).code, 250, 'VERP unsubscribe address');
    for (const bad of ['postmaster@localhost', 'fbl@example.com', 'bounces@localhost', 'bounces+@localhost', 'fbl+x@localhost', 'nobody@localhost']) {
      const r = await c.cmd(`RCPT TO:<${bad}>`);
      t.equal(r.code, 550, `${bad} refused`);
      t.match(r.text, /^5\.1\.1 /, `${bad}: enhanced status 5.1.1`);
    }
  });

  t.test('one mailbox per transaction, and a recipient limit', async (t) => {
    const c = await SmtpClient.connect(gw.smtpPort);
    t.teardown(() => c.quit());
    await c.cmd('EHLO client.test');
    await c.cmd('MAIL FROM:<x@example.net>');
    t.equal((await c.cmd('RCPT TO:<abuse@localhost>')).code, 250);
    const other = await c.cmd('RCPT TO:<fbl@localhost>');
    t.equal(other.code, 452, 'a second mailbox is deferred');
    t.match(other.text, /^4\.5\.3 /);
    t.equal((await c.cmd('RCPT TO:<ABUSE@a.test>')).code, 250, 'same mailbox at another domain is fine');
    t.equal((await c.cmd('RCPT TO:<abuse@b.test>')).code, 250);
    t.equal((await c.cmd('RCPT TO:<abuse@c.test>')).code, 452, 'the fourth recipient is over the limit of 3');
  });

  t.test('SIZE is advertised and enforced', async (t) => {
    const c = await SmtpClient.connect(gw.smtpPort);
    t.teardown(() => c.quit());
    const ehlo = await c.cmd('EHLO client.test');
    t.match(ehlo.text, /SIZE 4096/);
    const declared = await c.cmd('MAIL FROM:<x@example.net> SIZE=100000');
    t.equal(declared.code, 552, 'declared size over the limit is refused at MAIL');
    await c.cmd('MAIL FROM:<x@example.net>');
    await c.cmd('RCPT TO:<abuse@localhost>');
    const big = PLAIN + 'x'.repeat(70).concat('\n').repeat(100);
    const r = await c.data(big);
    t.equal(r.code, 552);
    t.match(r.text, /^5\.3\.4 /);
    t.equal((await c.send('x@example.net', ['abuse@localhost'], PLAIN)).code, 250, 'the connection still works afterwards');
  });

  t.test('250 only once the record is in Redis, with its id', async (t) => {
    const r = await sendMail(gw.smtpPort, 'reporter@example.net', ['fbl@localhost'], PLAIN);
    t.equal(r.code, 250);
    const m = /^2\.0\.0 Accepted <([0-9a-z]{26})>/.exec(r.text);
    t.ok(m, `reply names the id: ${r.text}`);
    const rec = await gw.store.getReport(m![1]);
    t.ok(rec, 'the record exists');
    t.equal(rec!.mailbox, 'fbl');
    t.equal(rec!.mailFrom, 'reporter@example.net');
    t.equal(rec!.clientIp, '127.0.0.1');
    t.equal(rec!.helo, 'client.test');
    t.equal(rec!.outcome, 'parsed');
    t.equal(Number(rec!.size), Buffer.byteLength(PLAIN.replace(/\n/g, '\r\n')));
    t.same(rec!.rcptTo, ['fbl@localhost']);
  });

  t.test('abuse@ replies with the case id', async (t) => {
    const r = await sendMail(gw.smtpPort, 'reporter@example.net', ['abuse@localhost'], PLAIN);
    t.equal(r.code, 250);
    const id = /^2\.0\.0 Accepted <(case_[0-9a-z]{26})>/.exec(r.text)?.[1];
    t.ok(id, r.text);
    t.equal((await gw.store.getCase(id!))?.reportCount, 1);
  });

  t.test('unparseable mail: 250 and a quarantine entry with the reason', async (t) => {
    // MIME nested deeper than any real report: the parser gives up with a reason.
    let body = 'deep\n';
    for (let i = 0; i < 40; i++) body = `Content-Type: multipart/mixed; boundary="b${i}"\n\n--b${i}\n${body}\n--b${i}--\n`;
    const msg = 'From: a@example.net\nSubject: nested\n' + body;
    const r = await sendMail(gw.smtpPort, 'a@example.net', ['fbl@localhost'], msg);
    t.equal(r.code, 250, 'accepted so the ISP does not retry it forever');
    const id = /<([0-9a-z]{26})>/.exec(r.text)![1];
    const q = await gw.store.listQuarantine(10);
    const entry = q.find((e) => e.id === id);
    t.ok(entry, 'quarantined');
    t.match(entry!.reason, /nest|deep|depth/i);
    t.match(entry!.head, /Subject: nested/);
    t.equal((await gw.store.getReport(id))!.outcome, 'quarantined');
  });

  t.test('451 when Redis is slower than the command timeout (500 ms here)', async (t) => {
    const { Redis } = await import('ioredis');
    const blocker = new Redis({ path: redis.url });
    // A busy script holds Redis for 3 s: every other command waits behind it.
    const busy = blocker.eval("local s = redis.call('TIME'); local t0 = s[1] * 1e6 + s[2]; repeat local n = redis.call('TIME') until n[1] * 1e6 + n[2] - t0 > 3000000; return 1", 0);
    await new Promise((r) => setTimeout(r, 300));
    const started = Date.now();
    const slow = await sendMail(gw.smtpPort, 'x@example.net', ['fbl@localhost'], PLAIN);
    t.equal(slow.code, 451);
    t.ok(Date.now() - started < 2500, 'answered before Redis came back');
    await busy;
    blocker.disconnect();
    t.equal((await sendMail(gw.smtpPort, 'x@example.net', ['fbl@localhost'], PLAIN)).code, 250, 'and fine afterwards');
  });

  t.test('451 while Redis is down, normal service once it is back', async (t) => {
    await redis.stop();
    const down = await sendMail(gw.smtpPort, 'x@example.net', ['abuse@localhost'], PLAIN);
    t.equal(down.code, 451);
    t.match(down.text, /^4\.3\.0 /);
    await redis.start();
    const deadline = Date.now() + 10_000;
    let up = down;
    while (Date.now() < deadline) {
      up = await sendMail(gw.smtpPort, 'x@example.net', ['fbl@localhost'], PLAIN);
      if (up.code === 250) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    t.equal(up.code, 250, 'recovers by itself');
    const id = /<([0-9a-z]{26})>/.exec(up.text)![1];
    t.ok(await gw.store.getReport(id), 'and records again');
  });
});
