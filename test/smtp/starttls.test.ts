import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { connect as tlsConnect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { startGateway } from '../helpers/gateway.js';
import { testRedis } from '../helpers/redis.js';
import { SmtpClient } from '../helpers/smtp.js';

t.test('STARTTLS is offered when a certificate is configured, and works', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ag-tls-'));
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=abusegate.test'], { stdio: 'ignore' });
  const redis = await testRedis(t);
  const plain = await startGateway(t, { redisUrl: redis.url });
  const c0 = await SmtpClient.connect(plain.smtpPort);
  t.notMatch((await c0.cmd('EHLO x')).text, /STARTTLS/, 'not offered without a certificate');
  await c0.quit();

  const gw = await startGateway(t, { redisUrl: redis.url, overrides: { smtp: { tlsKey: key, tlsCert: cert } } });
  const c = await SmtpClient.connect(gw.smtpPort);
  t.match((await c.cmd('EHLO x')).text, /STARTTLS/, 'offered');
  t.equal((await c.cmd('STARTTLS')).code, 220);
  const sock = (c as unknown as { sock: import('node:net').Socket }).sock;
  sock.removeAllListeners('data');
  const secure = tlsConnect({ socket: sock, rejectUnauthorized: false, servername: 'abusegate.test' });
  await new Promise<void>((res, rej) => {
    secure.once('secureConnect', () => res());
    secure.once('error', rej);
  });
  t.equal(secure.getPeerCertificate().subject.CN, 'abusegate.test');
  const reply = (line: string) =>
    new Promise<string>((res) => {
      let buf = '';
      const on = (d: Buffer) => {
        buf += d.toString();
        if (/^\d{3} [^\n]*\r\n$/m.test(buf.split('\r\n').slice(-2).join('\r\n'))) {
          secure.off('data', on);
          res(buf);
        }
      };
      secure.on('data', on);
      secure.write(line + '\r\n');
    });
  t.match(await reply('EHLO x'), /^250/m, 'EHLO again over TLS');
  t.match(await reply('MAIL FROM:<a@example.net>'), /^250/);
  t.match(await reply('RCPT TO:<fbl@localhost>'), /^250/);
  t.match(await reply('DATA'), /^354/);
  t.match(await reply('Subject: over tls\r\n\r\nhello\r\n.'), /^250 2\.0\.0 Accepted </);
  secure.end('QUIT\r\n');
});
