// Issue 15, part 5: the evidence of a report to abuse@ (attachments with their hashes, the
// reported message's link domains) reaches the stored case, through the real SMTP listener.
import { createHash } from 'node:crypto';
import t from 'tap';
import { startGateway } from '../helpers/gateway.js';
import { testRedis } from '../helpers/redis.js';
import { sendMail } from '../helpers/smtp.js';

const ADMIN = 'desk-admin-token-padded-to-32-chars-xxxxxxx';
const SCREENSHOT = Buffer.from('89504e470d0a1a0a0000000d4948445200000001', 'hex');

t.test('abuse@ with a screenshot and a forwarded phish: the case keeps the attachments and link domains', async (t) => {
  const redis = await testRedis(t);
  const gw = await startGateway(t, { redisUrl: redis.url, overrides: { admin: { token: ADMIN } } });
  const original = ['From: Bank <support@phish.example>', 'To: person@recipient.example', 'Subject: Verify', 'Message-ID: <ph-1@phish.example>', 'Content-Type: text/html', '', '<a href="https://Login.Phish.Example/x">log in</a> or https://second.example/'].join('\r\n');
  const msg = [
    'From: Person <person@recipient.example>',
    'To: abuse@localhost',
    'Subject: Phishing',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="b1"',
    '',
    '--b1',
    'Content-Type: text/plain',
    '',
    'This phish came today; screenshot attached.',
    '--b1',
    'Content-Type: image/png; name="shot.png"',
    'Content-Disposition: attachment; filename="shot.png"',
    'Content-Transfer-Encoding: base64',
    '',
    SCREENSHOT.toString('base64'),
    '--b1',
    'Content-Type: message/rfc822',
    '',
    original,
    '--b1--',
    '',
  ].join('\r\n');
  const reply = await sendMail(gw.smtpPort, 'person@recipient.example', ['abuse@localhost'], msg);
  t.equal(reply.code, 250);
  const id = /<(case_[0-9a-z]{26})>/.exec(reply.text)?.[1];
  t.ok(id, `the reply names the case: ${reply.text}`);
  const res = await fetch(`http://127.0.0.1:${gw.httpPort}/v1/cases/${id}`, { headers: { authorization: `Bearer ${ADMIN}` } });
  t.equal(res.status, 200);
  const c = (await res.json()) as { reports: Array<Record<string, unknown>> };
  const eml = Buffer.from(original);
  t.same(c.reports[0].attachments, [
    { name: 'shot.png', type: 'image/png', size: SCREENSHOT.length, sha256: createHash('sha256').update(SCREENSHOT).digest('hex') },
    { name: null, type: 'message/rfc822', size: eml.length, sha256: createHash('sha256').update(eml).digest('hex') },
  ]);
  t.same(c.reports[0].linkDomains, ['login.phish.example', 'second.example']);
});
