import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { type AddressInfo, connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { alive } from '../../src/store/local.js';
import { MAIN, startChild } from '../helpers/child.js';
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

/** The embedded redis-server's pid, once the gateway in `cwd` has written it. */
async function redisPid(cwd: string, ms = 20_000): Promise<number> {
  const file = join(cwd, 'var/redis/redis.pid');
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (existsSync(file)) {
      const pid = Number(readFileSync(file, 'utf8'));
      if (pid > 0) return pid;
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error('no redis.pid');
}

async function gone(pid: number, ms = 10_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  return !alive(pid);
}

/** Processes whose command line names `text` (here: a gateway's redis socket path). */
function processesNaming(text: string): number[] {
  const out: number[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(text)) out.push(Number(pid));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

t.test('a start that fails after the embedded Redis is up leaves no redis-server behind', async (t) => {
  const cwd = mkdtempSync(join(tmpdir(), 'ag-start-fail-'));
  const busy = createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    busy.close();
    rmSync(cwd, { recursive: true, force: true });
  });
  const port = (busy.address() as AddressInfo).port;
  const proc = spawn(process.execPath, [MAIN], {
    cwd,
    env: { PATH: process.env.PATH, ABUSEGATE_SMTP_HOST: '127.0.0.1', ABUSEGATE_SMTP_PORT: String(port), ABUSEGATE_HTTP_PORT: '0', ABUSEGATE_POLICY_PORT: '0' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  proc.stderr!.on('data', (d) => (err += d));
  const code = await new Promise<number | null>((r) => proc.once('exit', r));
  t.equal(code, 1, 'exit 1');
  t.match(err, /address in use/, `one line for the operator: ${err.trim()}`);
  const sock = join(cwd, 'var/redis/redis.sock');
  const deadline = Date.now() + 10_000;
  while (processesNaming(sock).length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const left = processesNaming(sock);
  t.same(left, [], 'no redis-server of its own is left running');
  for (const pid of left) process.kill(pid, 'SIGKILL');
});

t.test('SIGTERM while the gateway is starting: it stops, and its redis-server with it', async (t) => {
  const cwd = mkdtempSync(join(tmpdir(), 'ag-start-term-'));
  t.teardown(() => rmSync(cwd, { recursive: true, force: true }));
  const proc = spawn(process.execPath, [MAIN], {
    cwd,
    env: { PATH: process.env.PATH, ABUSEGATE_SMTP_PORT: '0', ABUSEGATE_HTTP_PORT: '0', ABUSEGATE_POLICY_PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => proc.once('exit', r));
  // As soon as the embedded Redis is there: the gateway is still connecting and opening its listeners.
  const pid = await redisPid(cwd);
  const startedFirst = out.includes('"STARTED"');
  proc.kill('SIGTERM');
  t.equal(await exited, 0, 'exit 0, as for a SIGTERM after the start');
  t.comment(startedFirst ? 'the start had finished before the signal' : 'the signal came during the start');
  t.ok(await gone(pid), `its redis-server (pid ${pid}) stopped with it`);
  if (alive(pid)) process.kill(pid, 'SIGKILL');
});
