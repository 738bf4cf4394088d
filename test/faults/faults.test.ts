/** Faults with real processes: Redis killed mid-burst, the gateway killed mid-DATA. */
import t from 'tap';
import { createTokenCodec, parseTokenSecrets } from '../../src/token/token.js';
import { startChild } from '../helpers/child.js';
import { startGateway, TEST_TOKEN_SECRET } from '../helpers/gateway.js';
import { arfReport } from '../helpers/mail.js';
import { testRedis } from '../helpers/redis.js';
import { SmtpClient } from '../helpers/smtp.js';

const codec = createTokenCodec(parseTokenSecrets(TEST_TOKEN_SECRET));

function complaint(account: string, i: number): string {
  const recipient = `r${i}@example.org`;
  return arfReport({
    rcptTo: [recipient],
    original: { From: 'news@customer.example', To: recipient, Subject: 'news', 'Message-ID': `<m${i}@mta.example>`, 'X-Abuse-Token': codec.mintLong({ account, campaign: 'c1', recipient }) },
  });
}

t.test('Redis SIGKILLed during a burst: every 250 is recorded, the rest got a 4xx, service recovers', async (t) => {
  // appendfsync always: the guarantee under test is that a 250 survives a crash.
  const redis = await testRedis(t, { appendfsync: 'always' });
  const gw = await startGateway(t, { redisUrl: redis.url });
  const N = 300;
  const outcomes: Array<{ i: number; code: number; id?: string }> = [];
  const worker = async (w: number) => {
    const c = await SmtpClient.connect(gw.smtpPort);
    for (let i = w; i < N; i += 10) {
      const r = await c.send('fbl@isp.example', ['fbl@localhost'], complaint('burst', i));
      outcomes.push({ i, code: r.code, id: /<([0-9a-z]{26})>/.exec(r.text)?.[1] });
      if (r.code === 0) break;
    }
    await c.quit().catch(() => {});
  };
  const burst = Promise.all(Array.from({ length: 10 }, (_, w) => worker(w)));
  while (outcomes.length < 40) await new Promise((r) => setTimeout(r, 5));
  await redis.kill();
  // Down until the burst has met it (a few refusals), however slow this machine is.
  const deadline = Date.now() + 10_000;
  while (!outcomes.some((o) => o.code !== 250) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  await redis.start();
  await burst;
  const accepted = outcomes.filter((o) => o.code === 250);
  const refused = outcomes.filter((o) => o.code !== 250);
  t.ok(accepted.length >= 60, `${accepted.length} accepted`);
  t.ok(refused.length > 0, `${refused.length} refused while Redis was down`);
  t.ok(refused.every((o) => o.code >= 400 && o.code < 500), 'every refusal is temporary (4xx)');
  for (const o of accepted) {
    const rec = await gw.store.getReport(o.id!);
    if (!rec) t.fail(`message ${o.i} got a 250 but its record is gone`);
    const s = await gw.store.getSuppression('burst', 'email', `r${o.i}@example.org`);
    if (!s) t.fail(`message ${o.i} got a 250 but its suppression is gone`);
  }
  // The senders retry what was refused; the gateway serves them without a restart.
  const c = await SmtpClient.connect(gw.smtpPort);
  for (const o of refused) {
    let r = await c.send('fbl@isp.example', ['fbl@localhost'], complaint('burst', o.i));
    for (let k = 0; k < 50 && r.code !== 250; k++) {
      await new Promise((res) => setTimeout(res, 100));
      r = await c.send('fbl@isp.example', ['fbl@localhost'], complaint('burst', o.i));
    }
    t.equal(r.code, 250, `retry of ${o.i}`);
  }
  await c.quit();
  const acct = await gw.store.readAccount('burst', 'email', Date.now());
  t.ok(acct.meta.createdAt !== undefined);
  const suppressed = await gw.store.checkSuppressions('burst', 'email', Array.from({ length: N }, (_, i) => `r${i}@example.org`));
  t.equal(suppressed.filter(Boolean).length, N, 'every recipient suppressed once all retries are in');
});

t.test('the gateway SIGKILLed mid-DATA: no 250, and the retry counts once', async (t) => {
  const redis = await testRedis(t);
  const env = { REDIS_URL: redis.url, ABUSEGATE_TOKEN_SECRET: TEST_TOKEN_SECRET, ABUSEGATE_ADMIN_TOKEN: 'fault-admin-token-padded-to-32-chars-xxxxxxx', ABUSEGATE_TRUSTED_REPORTERS: '127.0.0.0/8' };
  const first = await startChild(env);
  const msg = complaint('killed', 1).replace(/\n/g, '\r\n');
  const c = await SmtpClient.connect(first.smtpPort);
  await c.cmd('EHLO client.test');
  await c.cmd('MAIL FROM:<fbl@isp.example>');
  await c.cmd('RCPT TO:<fbl@localhost>');
  t.equal((await c.cmd('DATA')).code, 354);
  c.write(msg.slice(0, Math.floor(msg.length / 2)));
  await new Promise((r) => setTimeout(r, 100));
  first.proc.kill('SIGKILL');
  const reply = await c.read();
  t.not(reply.code, 250, `the client saw no 250 (${reply.code} ${reply.text})`);
  c.destroy();
  await first.exited;

  const second = await startChild(env);
  t.teardown(() => second.proc.kill('SIGKILL'));
  for (let k = 0; k < 2; k++) {
    // The sender retries; a second retry (a lost 250) must not count twice either.
    const c2 = await SmtpClient.connect(second.smtpPort);
    t.equal((await c2.send('fbl@isp.example', ['fbl@localhost'], complaint('killed', 1))).code, 250);
    await c2.quit();
  }
  const res = await fetch(`http://127.0.0.1:${second.httpPort}/v1/accounts/killed`, { headers: { authorization: 'Bearer fault-admin-token-padded-to-32-chars-xxxxxxx' } });
  const acct = await res.json();
  t.equal(acct.windows[0].complaints, 1, 'counted once');
});
