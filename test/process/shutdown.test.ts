import { connect } from 'node:net';
import t from 'tap';
import { startChild } from '../helpers/child.js';
import { testRedis } from '../helpers/redis.js';
import { SmtpClient } from '../helpers/smtp.js';

t.test('SIGTERM: stop accepting, finish DATA in flight, exit 0', async (t) => {
  const redis = await testRedis(t);
  const gw = await startChild({ REDIS_URL: redis.url, ABUSEGATE_LOG_LEVEL: 'info' });
  t.teardown(() => gw.proc.kill('SIGKILL'));

  const c = await SmtpClient.connect(gw.smtpPort);
  await c.cmd('EHLO client.test');
  await c.cmd('MAIL FROM:<isp@example.net>');
  await c.cmd('RCPT TO:<abuse@localhost>');
  t.equal((await c.cmd('DATA')).code, 354);
  c.write('Subject: in flight\r\n\r\nfirst half\r\n');

  gw.proc.kill('SIGTERM');
  // New connections are refused once the listener has closed.
  const deadline = Date.now() + 5000;
  let refused = false;
  while (!refused && Date.now() < deadline) {
    refused = await new Promise<boolean>((r) => {
      const s = connect({ port: gw.smtpPort, host: '127.0.0.1' });
      s.once('connect', () => {
        s.destroy();
        r(false);
      });
      s.once('error', () => r(true));
    });
    if (!refused) await new Promise((r) => setTimeout(r, 50));
  }
  t.ok(refused, 'no new connections after SIGTERM');

  c.write('second half\r\n.\r\n');
  const reply = await c.read();
  t.equal(reply.code, 250, `the message in flight is accepted: ${reply.code} ${reply.text}`);
  c.destroy();
  t.equal(await gw.exited, 0, 'exit code 0');
});
