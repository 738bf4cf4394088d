/** A message whose processing holds the event loop is logged with its id, never its content. */
import t from 'tap';
import { ManualClock } from '../../src/clock.js';
import { loadConfig } from '../../src/config/load.js';
import { Gateway } from '../../src/gateway.js';
import { createLogger } from '../../src/log.js';
import { TEST_TOKEN_SECRET } from '../helpers/gateway.js';
import { testRedis } from '../helpers/redis.js';
import { SmtpClient } from '../helpers/smtp.js';

async function gatewayWith(t: { teardown(fn: () => unknown): void }, redisUrl: string, blockedWarnMs: number) {
  const lines: Array<Record<string, unknown>> = [];
  const config = loadConfig({
    env: {},
    overrides: {
      smtp: { port: 0, host: '127.0.0.1', blockedWarnMs },
      http: { port: 0, host: '127.0.0.1' },
      policy: { port: 0, host: '127.0.0.1' },
      redis: { url: redisUrl, prefix: `loop${blockedWarnMs}` },
      tokens: { secret: TEST_TOKEN_SECRET },
    },
  });
  const log = createLogger('info', { write: (s: string) => void lines.push(JSON.parse(s)) });
  const gw = await Gateway.start({ config, log, clock: new ManualClock() });
  t.teardown(() => gw.stop(0));
  return { gw, lines };
}

// A report whose parse takes a few milliseconds: 3,000 header fields in the original.
const SECRET = 'secret-words-of-the-report';
const heavy = [
  'From: reporter@isp.example',
  'To: abuse@localhost',
  'Subject: spam',
  'Message-ID: <heavy@isp.example>',
  ...Array.from({ length: 3000 }, (_, i) => `X-Filler-${i}: ${SECRET} ${'y'.repeat(60)}`),
  '',
  `${SECRET} in the body too.`,
  '',
].join('\r\n');

t.test('over the threshold: one warning with the report id and no content', async (t) => {
  const redis = await testRedis(t);
  const { gw, lines } = await gatewayWith(t, redis.url, 1);
  const c = await SmtpClient.connect(gw.smtpPort);
  const r = await c.send('reporter@isp.example', ['abuse@localhost'], heavy);
  await c.quit();
  t.equal(r.code, 250);
  const warn = lines.find((l) => l.code === 'EVENT_LOOP_BLOCKED');
  t.ok(warn, 'logged');
  t.equal(warn?.level, 40, 'at warn');
  t.match(warn?.id, /^[0-9a-z]{20,}$/, 'with the report id');
  // CPU time counts every thread of the process (GC helpers too), so it can exceed the wall clock.
    t.ok(Number(warn?.cpuMs) >= 1 && Number(warn?.blockedMs) > 0, `held ${warn?.cpuMs} ms of CPU, ${warn?.blockedMs} ms of wall clock`);
  t.notMatch(JSON.stringify(warn), SECRET, 'never the content');
  const recorded = lines.find((l) => l.msg === 'message recorded');
  t.equal(warn?.id, recorded?.id, 'the same id as the record');
});

t.test('under the threshold: no warning', async (t) => {
  const redis = await testRedis(t);
  const { gw, lines } = await gatewayWith(t, redis.url, 600_000);
  const c = await SmtpClient.connect(gw.smtpPort);
  t.equal((await c.send('reporter@isp.example', ['abuse@localhost'], heavy)).code, 250);
  await c.quit();
  t.notOk(lines.some((l) => l.code === 'EVENT_LOOP_BLOCKED'));
});
