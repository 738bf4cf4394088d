/**
 * A real Postfix (the Debian package) asks our policy service at RCPT TO, as deployed:
 * `check_policy_service inet:127.0.0.1:<port>` in smtpd_recipient_restrictions. Postfix runs
 * from a private config directory with its own queue, on loopback ports, and is stopped
 * afterwards. Skipped only when Postfix is not installed (`apt-get install -y postfix`).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { createLogger } from '../../src/log.js';
import { createPolicyServer } from '../../src/policy/server.js';
import { createTokenCodec } from '../../src/token/token.js';
import { SmtpClient } from '../helpers/smtp.js';

const POSTFIX = ['/usr/sbin/postfix', '/usr/lib/postfix/sbin/master'];

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((res) => s.listen(0, '127.0.0.1', res));
  const port = (s.address() as { port: number }).port;
  await new Promise((res) => s.close(res));
  return port;
}

async function until<T>(what: string, ms: number, fn: () => Promise<T | null>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => null);
    if (v !== null) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** main.cf and master.cf of a Postfix that accepts mail for test.example and discards it. */
function writeConfig(dir: string, smtpPort: number, policyPort: number): void {
  writeFileSync(
    join(dir, 'etc', 'main.cf'),
    [
      'compatibility_level = 3.6',
      `queue_directory = ${dir}/queue`,
      `data_directory = ${dir}/data`,
      // Postfix starts only as root and runs its daemons as mail_owner.
      'mail_owner = postfix',
      'myhostname = postfix-test.localdomain',
      'mydomain = localdomain',
      'mydestination =',
      'inet_interfaces = loopback-only',
      'inet_protocols = ipv4',
      'mynetworks = 127.0.0.0/8',
      // Mail for test.example is relayed to nowhere: the discard transport accepts and drops it.
      'relay_domains = test.example',
      'relay_transport = discard:',
      'default_transport = discard:',
      'smtpd_peername_lookup = no',
      'smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination',
      `smtpd_recipient_restrictions = check_policy_service inet:127.0.0.1:${policyPort}, permit`,
      // Give up quickly if the policy service misbehaves, rather than hang the test.
      'smtpd_policy_service_timeout = 10s',
      `maillog_file_prefixes = ${dir}`,
      `maillog_file = ${dir}/maillog`,
      '',
    ].join('\n'),
  );
  const row = (svc: string, type: string, priv: string, wakeup: string, limit: string, cmd: string): string =>
    `${svc} ${type} ${priv} - n ${wakeup} ${limit} ${cmd}`;
  writeFileSync(
    join(dir, 'etc', 'master.cf'),
    [
      row(`127.0.0.1:${smtpPort}`, 'inet', 'n', '-', '-', 'smtpd'),
      row('pickup', 'unix', 'n', '60', '1', 'pickup'),
      row('cleanup', 'unix', 'n', '-', '0', 'cleanup'),
      row('qmgr', 'unix', 'n', '300', '1', 'qmgr'),
      row('rewrite', 'unix', '-', '-', '-', 'trivial-rewrite'),
      row('bounce', 'unix', '-', '-', '0', 'bounce'),
      row('defer', 'unix', '-', '-', '0', 'bounce'),
      row('trace', 'unix', '-', '-', '0', 'bounce'),
      row('verify', 'unix', '-', '-', '1', 'verify'),
      row('flush', 'unix', 'n', '1000?', '0', 'flush'),
      row('proxymap', 'unix', '-', '-', '-', 'proxymap'),
      row('showq', 'unix', 'n', '-', '-', 'showq'),
      row('error', 'unix', '-', '-', '-', 'error'),
      row('retry', 'unix', '-', '-', '-', 'error'),
      row('discard', 'unix', '-', '-', '-', 'discard'),
      row('anvil', 'unix', '-', '-', '1', 'anvil'),
      row('scache', 'unix', '-', '-', '1', 'scache'),
      row('postlog', 'unix-dgram', 'n', '-', '1', 'postlogd'),
      '',
    ].join('\n'),
  );
}

const missing = POSTFIX.find((p) => !existsSync(p));

t.test('a real Postfix refuses a suppressed recipient at RCPT', { skip: missing ? `Postfix is not installed (${missing} missing): apt-get install -y postfix` : false }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ag-postfix-'));
  // Postfix daemons drop to mail_owner and must reach the queue inside this folder.
  chmodSync(dir, 0o755);
  for (const sub of ['etc', 'queue', 'data']) mkdirSync(join(dir, sub));
  chownSync(join(dir, 'data'), Number(execFileSync('id', ['-u', 'postfix'], { encoding: 'utf8' })), -1);
  const maillog = (): string => (existsSync(join(dir, 'maillog')) ? readFileSync(join(dir, 'maillog'), 'utf8') : '(no maillog)');

  const codec = createTokenCodec({ current: 'a', keys: { a: 'test-secret-0123456789abcdef-0123456789' } });
  const suppressed = new Map([['acme\0blocked@test.example', 'complaint']]);
  const asked: Array<{ account: string; address: string }> = [];
  const policy = createPolicyServer(
    { port: 0, host: '127.0.0.1', accountFrom: 'verp', verpPrefix: 'bounces', idleTimeoutMs: 600_000, maxRequestBytes: 65536 },
    {
      log: createLogger('silent'),
      accountFromToken: (token) => {
        const c = codec.verify(token);
        return c?.form === 'short' ? c.account : null;
      },
      lookup: async (account, address) => {
        asked.push({ account, address });
        if (address.startsWith('redis-down@')) throw new Error('Command timed out');
        const reason = suppressed.get(`${account}\0${address}`);
        return reason ? { reason } : null;
      },
    },
  );
  const policyPort = await policy.listen();
  const smtpPort = await freePort();
  writeConfig(dir, smtpPort, policyPort);

  // start-fg keeps master under a shell that is our child, so its processes are reaped.
  const postfix: ChildProcess = spawn('/usr/sbin/postfix', ['-c', join(dir, 'etc'), 'start-fg'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  postfix.stdout!.on('data', (d: Buffer) => (output += d));
  postfix.stderr!.on('data', (d: Buffer) => (output += d));
  const exited = new Promise<void>((res) => postfix.once('exit', () => res()));
  t.teardown(async () => {
    try {
      execFileSync('/usr/sbin/postfix', ['-c', join(dir, 'etc'), 'stop'], { stdio: 'ignore' });
    } catch {
      // Not running (failed to start): nothing to stop.
    }
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    if (postfix.exitCode === null) postfix.kill('SIGKILL');
    await policy.stop(100);
    rmSync(dir, { recursive: true, force: true });
  });

  const c = await until('Postfix to greet on port ' + smtpPort, 15_000, async () => {
    if (postfix.exitCode !== null) throw new Error(`postfix exited ${postfix.exitCode}: ${output}\n${maillog()}`);
    return SmtpClient.connect(smtpPort);
  }).catch((err: Error) => {
    throw new Error(`${err.message}\npostfix output: ${output}\nmaillog:\n${maillog()}`);
  });
  t.teardown(() => c.destroy());

  t.equal((await c.cmd('EHLO client.test')).code, 250);
  const sender = `bounces+${codec.mintShort({ account: 'acme', campaign: 'spring' })}@bounce.example`;
  t.equal((await c.cmd(`MAIL FROM:<${sender}>`)).code, 250);

  const refused = await c.cmd('RCPT TO:<blocked@test.example>');
  t.equal(refused.code, 554, `suppressed recipient refused: ${refused.code} ${refused.text}`);
  t.match(refused.text, /^5\.7\.1 <blocked@test\.example>: Recipient address rejected: Recipient suppressed \(complaint\)$/);

  const accepted = await c.cmd('RCPT TO:<welcome@test.example>');
  t.equal(accepted.code, 250, `another recipient accepted: ${accepted.code} ${accepted.text}`);

  const deferred = await c.cmd('RCPT TO:<redis-down@test.example>');
  t.equal(deferred.code, 450, `a failed lookup tempfails the recipient: ${deferred.code} ${deferred.text}`);
  t.match(deferred.text, /^4\.3\.0 /);

  const data = await c.data('From: a@bounce.example\nTo: welcome@test.example\nSubject: hi\n\nhello\n');
  t.equal(data.code, 250, `the message is queued for the accepted recipient: ${data.text}`);
  await c.quit();

  t.same(asked, [
    { account: 'acme', address: 'blocked@test.example' },
    { account: 'acme', address: 'welcome@test.example' },
    { account: 'acme', address: 'redis-down@test.example' },
  ], 'Postfix asked once per RCPT, the account taken from the VERP token');
  // The discard transport finishes the accepted message; its log line shows it went through.
  await until('Postfix to discard the message', 10_000, async () => (/to=<welcome@test\.example>.*status=sent/.test(maillog()) ? true : null));
  t.match(maillog(), /NOQUEUE: reject: RCPT from [^\n]*554 5\.7\.1 <blocked@test\.example>/, 'the refusal is in the mail log');
});
