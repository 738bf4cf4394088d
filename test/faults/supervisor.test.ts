/**
 * The embedded redis-server supervised: killed, it is logged and restarted and mail flows
 * again by itself; on a full filesystem it dies on the AOF write, and once space is freed
 * the gateway serves again without a restart. No acknowledged report is lost either way.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { ManualClock } from '../../src/clock.js';
import { loadConfig } from '../../src/config/load.js';
import { Gateway } from '../../src/gateway.js';
import { createLogger } from '../../src/log.js';
import { registry } from '../../src/metrics.js';
import { alive } from '../../src/store/local.js';
import { TEST_TOKEN_SECRET } from '../helpers/gateway.js';
import { SmtpClient } from '../helpers/smtp.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Logged {
  level: number;
  code?: string;
  [k: string]: unknown;
}

/** An in-process gateway on its own embedded Redis in `dir`, its log lines kept. */
async function embeddedGateway(t: { teardown(fn: () => unknown): void }, dir: string, local: Record<string, unknown> = {}) {
  const lines: Logged[] = [];
  const log = createLogger('info', { write: (s: string) => void lines.push(JSON.parse(s) as Logged) });
  const config = loadConfig({
    env: {},
    overrides: {
      smtp: { port: 0, host: '127.0.0.1' },
      http: { port: 0, host: '127.0.0.1' },
      policy: { port: 0, host: '127.0.0.1' },
      redis: { url: null, commandTimeout: 1000, local: { dir, restartMinMs: 300, restartMaxMs: 2000, ...local } },
      tokens: { secret: TEST_TOKEN_SECRET },
      shutdown: { graceMs: 1000 },
    },
  });
  const gw = await Gateway.start({ config, log, clock: new ManualClock(), redisOptions: { retryStrategy: () => 50 } });
  t.teardown(() => gw.stop(0));
  return { gw, lines };
}

function abuseMail(i: number, pad = 0): string {
  return [
    'From: reporter@isp.example',
    'To: abuse@localhost',
    `Subject: spam report ${i}`,
    `Message-ID: <report-${i}@isp.example>`,
    '',
    `I received spam, report number ${i}.`,
    'x'.repeat(pad),
    '',
  ].join('\r\n');
}

async function send(port: number, i: number, pad = 0): Promise<{ code: number; id?: string }> {
  const c = await SmtpClient.connect(port);
  try {
    const r = await c.send('reporter@isp.example', ['abuse@localhost'], abuseMail(i, pad));
    return { code: r.code, id: /<([0-9a-z_]+)>/.exec(r.text)?.[1] };
  } finally {
    await c.quit().catch(() => {});
  }
}

async function metric(name: string): Promise<number> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
  return Number(m?.values[0]?.value ?? 0);
}

/** The report id in an abuse@ reply is the case id; the case names its reports. */
async function reportIdsOf(gw: Gateway, caseOrReport: string): Promise<string[]> {
  const rec = await gw.store.getReport(caseOrReport);
  if (rec) return [caseOrReport];
  const kase = await gw.store.getCase(caseOrReport);
  return kase ? kase.reports.map((r) => r.reportId) : [];
}

t.test('embedded Redis SIGKILLed: 451 while down, restarted with its data, the death logged', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ag-sup-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const { gw, lines } = await embeddedGateway(t, dir, { restartMinMs: 1500 });
  const base = `http://127.0.0.1:${gw.httpPort}`;

  const acked: string[] = [];
  for (let i = 0; i < 5; i++) {
    const r = await send(gw.smtpPort, i);
    t.equal(r.code, 250, `message ${i} before`);
    acked.push(r.id!);
  }
  const restartsBefore = await metric('abusegate_redis_restarts_total');
  const pid = Number(readFileSync(join(dir, 'redis.pid'), 'utf8'));
  process.kill(pid, 'SIGKILL');
  while (alive(pid)) await sleep(10);
  const killedAt = Date.now();

  // Down: not ready, saying why, and no message acknowledged.
  let ready = await fetch(`${base}/readyz`);
  for (let k = 0; k < 50 && ready.status === 200; k++) ready = (await sleep(20), await fetch(`${base}/readyz`));
  t.equal(ready.status, 503, '/readyz 503 while down');
  const body = await ready.json();
  t.equal(body.checks.redis, false);
  t.match(body.reasons.redis, /embedded redis-server exited \(SIGKILL\); restarting/);
  const during = await send(gw.smtpPort, 100);
  t.equal(during.code, 451, '451 while Redis is down');

  // Taken again within seconds, without restarting the gateway.
  let after = await send(gw.smtpPort, 101);
  while (after.code !== 250 && Date.now() - killedAt < 15_000) {
    await sleep(100);
    after = await send(gw.smtpPort, 101);
  }
  t.equal(after.code, 250, `accepted again ${Date.now() - killedAt} ms after the kill`);
  t.ok(Date.now() - killedAt < 10_000, 'within seconds');
  t.equal((await fetch(`${base}/readyz`)).status, 200, 'ready again');

  for (const id of acked) t.ok((await reportIdsOf(gw, id)).length > 0, `acknowledged ${id} still there`);
  t.equal(await metric('abusegate_redis_restarts_total'), restartsBefore + 1, 'restart counted');

  const death = lines.find((l) => l.code === 'LOCAL_REDIS_EXITED');
  t.ok(death, 'the exit is logged');
  t.equal(death?.level, 50, 'at error');
  t.equal(death?.signal, 'SIGKILL');
  t.ok(Array.isArray(death?.stderr), 'with the last lines it wrote');
  t.ok(lines.some((l) => l.code === 'LOCAL_REDIS_RESTARTED'), 'the restart is logged');
});

/** Mounts a tmpfs of `size` at a new directory; null (with why) when this is not possible here. */
function mountTmpfs(size: string): { dir: string; umount(): void } | string {
  if (process.getuid?.() !== 0) return 'not root: cannot mount a tmpfs';
  const dir = mkdtempSync(join(tmpdir(), 'ag-full-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    return `mount -t tmpfs not permitted here: ${String((err as { stderr?: Buffer }).stderr ?? err).trim()}`;
  }
  return {
    dir,
    umount() {
      execFileSync('umount', ['-l', dir]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Writes zeros to `path` until the filesystem is full. */
function fill(path: string): void {
  const fd = openSync(path, 'w');
  const chunk = Buffer.alloc(4096);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
}

t.test('embedded Redis on a full filesystem: 4xx, the cause logged; space freed → serves again by itself', async (t) => {
  const fs = mountTmpfs('4m');
  if (typeof fs === 'string') return t.skip(fs);
  t.teardown(() => fs.umount());
  const dir = join(fs.dir, 'redis');
  mkdirSync(dir);
  const { gw, lines } = await embeddedGateway(t, dir, { minFreeBytes: 1024 * 1024 });
  const base = `http://127.0.0.1:${gw.httpPort}`;

  const acked: string[] = [];
  for (let i = 0; i < 5; i++) {
    const r = await send(gw.smtpPort, i, 2000);
    t.equal(r.code, 250);
    acked.push(r.id!);
  }
  fill(join(fs.dir, 'filler'));
  const warned = await (await fetch(`${base}/readyz`)).json();
  t.match(warned.warnings?.disk, /bytes free where the embedded Redis writes its AOF.*below redis\.local\.minFreeBytes/, '/readyz warns of the disk');

  // Nothing acknowledged while the AOF cannot be written.
  const outcomes: number[] = [];
  for (let i = 10; i < 40; i++) {
    const r = await send(gw.smtpPort, i, 2000);
    outcomes.push(r.code);
    if (r.code === 250) acked.push(r.id!);
  }
  t.ok(outcomes.filter((c) => c !== 250).length >= 20, `refused while full: ${outcomes.join(' ')}`);
  t.ok(outcomes.every((c) => c === 250 || (c >= 400 && c < 500)), 'every refusal temporary');
  const death = lines.find((l) => l.code === 'LOCAL_REDIS_EXITED');
  t.ok(death, 'the exit is logged');
  t.match((death?.stderr as string[]).join('\n'), /AOF/, `its cause in the last lines: ${JSON.stringify(death?.stderr)}`);

  rmSync(join(fs.dir, 'filler'));
  const freedAt = Date.now();
  let r = await send(gw.smtpPort, 50, 2000);
  while (r.code !== 250 && Date.now() - freedAt < 20_000) {
    await sleep(200);
    r = await send(gw.smtpPort, 50, 2000);
  }
  t.equal(r.code, 250, `serving again ${Date.now() - freedAt} ms after space was freed, no gateway restart`);
  acked.push(r.id!);
  for (const id of acked) t.ok((await reportIdsOf(gw, id)).length > 0, `acknowledged ${id} still there`);
  t.notOk((await (await fetch(`${base}/readyz`)).json()).warnings?.disk, 'no disk warning once freed');
});
