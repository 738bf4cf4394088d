/**
 * `abusegate webhooks replay|verify`.
 *
 * replay puts dead letters back into their partition's retry set, due now, with a fresh
 * retry schedule: the running gateways send them (signed, retried, dead again if the
 * receiver still fails). Re-queueing first and deleting the dead letter second is at least
 * once, like everything else here.
 *
 * verify checks one delivery's signature the way a receiver should: exit 0 and `valid`,
 * or exit 1 and `invalid: <reason>`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_TOLERANCE_SECONDS, SecretError, verify } from '../webhook/sign.js';
import type { DeadLetter, RetryMember } from '../webhook/worker.js';
import { WEBHOOKS_USAGE } from './help.js';

export interface WebhooksIo {
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
  stdin: NodeJS.ReadableStream;
  env: NodeJS.ProcessEnv;
}

class Usage extends Error {}

export async function runWebhooks(args: string[], io: WebhooksIo): Promise<number> {
  const [sub, ...rest] = args;
  try {
    switch (sub) {
      case 'replay':
        return await replay(rest, io);
      case 'verify':
        return await verifyCmd(rest, io);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        io.out.write(WEBHOOKS_USAGE + '\n');
        return sub ? 0 : 2;
      default:
        throw new Usage(`unknown webhooks command: ${sub}`);
    }
  } catch (err) {
    const e = err as Error & { code?: string };
    if (e instanceof Usage || (typeof e.code === 'string' && e.code.startsWith('ERR_PARSE_ARGS'))) {
      io.err.write(`abusegate: ${e.message}\n${WEBHOOKS_USAGE}\n`);
      return 2;
    }
    if (e instanceof SecretError) {
      io.err.write(`abusegate: ${e.message}\n`);
      return 1;
    }
    throw err;
  }
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks);
}

async function verifyCmd(args: string[], io: WebhooksIo): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      secret: { type: 'string' },
      id: { type: 'string' },
      timestamp: { type: 'string' },
      signature: { type: 'string' },
      'body-file': { type: 'string' },
      tolerance: { type: 'string' },
    },
  });
  for (const k of ['secret', 'id', 'timestamp', 'signature'] as const) {
    if (!values[k]) throw new Usage(`verify needs --${k}`);
  }
  const tolerance = values.tolerance === undefined ? DEFAULT_TOLERANCE_SECONDS : Number(values.tolerance);
  if (!Number.isInteger(tolerance) || tolerance < 0) throw new Usage('--tolerance must be whole seconds (0: no time check)');
  const body = values['body-file'] ? readFileSync(values['body-file']) : await readAll(io.stdin);
  const r = verify({
    secrets: values.secret!,
    id: values.id!,
    timestamp: values.timestamp!,
    signature: values.signature!,
    body,
    tolerance,
  });
  io.out.write(r.ok ? 'valid\n' : `invalid: ${r.reason}\n`);
  return r.ok ? 0 : 1;
}

async function replay(args: string[], io: WebhooksIo): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { type: { type: 'string' }, since: { type: 'string' }, 'dry-run': { type: 'boolean' } },
  });
  let start = '-';
  if (values.since !== undefined) {
    const ms = Date.parse(values.since);
    if (!Number.isFinite(ms)) throw new Usage(`--since: not a date: ${values.since}`);
    start = String(ms);
  }
  // Only replay needs the configuration and Redis: verify and help stay light.
  const [{ loadConfig }, { Keys }, { createRedis }, { retryKeyOf }] = await Promise.all([
    import('../config/load.js'),
    import('../store/keys.js'),
    import('../store/redis.js'),
    import('../webhook/worker.js'),
  ]);
  const config = loadConfig({ env: io.env });
  const url = config.redis.url ?? localSocket(config.redis.local.dir);
  if (!url && config.redis.cluster.length === 0) {
    io.err.write('abusegate: replay needs Redis: set REDIS_URL (or run it next to `npm start`, which starts a local one)\n');
    return 1;
  }
  const keys = new Keys(config.redis.prefix, config.redis.partitions);
  const redis = createRedis({ url, cluster: config.redis.cluster, commandTimeout: Math.max(config.redis.commandTimeout, 5000) });
  try {
    await redis.connect();
    const dead = keys.deadLetters();
    let queued = 0;
    let skipped = 0;
    let cursor = start;
    for (;;) {
      const batch = (await redis.xrange(dead, cursor, '+', 'COUNT', 500)) as Array<[string, string[]]>;
      if (batch.length === 0) break;
      for (const [id, fields] of batch) {
        const f: Partial<DeadLetter> = {};
        for (let i = 0; i < fields.length; i += 2) (f as Record<string, string>)[fields[i]] = fields[i + 1];
        const event = parseEvent(f.event);
        if (values.type && event?.type !== values.type) continue;
        const retry = f.partition !== undefined ? retryKeyOf(keys, f.partition) : null;
        if (!event || !f.group || !retry) {
          skipped++;
          continue;
        }
        if (!values['dry-run']) {
          const member: RetryMember = { g: f.group, a: 1, e: f.event!, t: Date.parse(event.timestamp ?? '') || idMs(id) };
          await redis.zadd(retry, Date.now(), JSON.stringify(member));
          await redis.xdel(dead, id);
        }
        queued++;
      }
      cursor = '(' + batch[batch.length - 1][0];
    }
    const verb = values['dry-run'] ? 'would queue' : 'queued';
    io.out.write(`${verb} ${queued} dead letter${queued === 1 ? '' : 's'} for delivery${skipped ? ` (${skipped} unreadable, left in place)` : ''}\n`);
    return 0;
  } finally {
    redis.disconnect();
  }
}

function localSocket(dir: string): string | null {
  const sock = resolve(dir, 'redis.sock');
  return existsSync(sock) ? sock : null;
}

function idMs(id: string): number {
  return Number(id.slice(0, id.indexOf('-')));
}

function parseEvent(raw: string | undefined): { type?: string; timestamp?: string } | null {
  if (!raw) return null;
  try {
    const v = JSON.parse(raw) as unknown;
    return v && typeof v === 'object' ? (v as { type?: string; timestamp?: string }) : null;
  } catch {
    return null;
  }
}
