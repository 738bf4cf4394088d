/**
 * `abusegate operators add|remove|list`: the desk console's operators, in Redis.
 *
 * The password is read from stdin (--password-stdin), never from an argument: arguments
 * are visible to every user of the machine in the process list and stay in shell history.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { OPERATORS_USAGE } from './help.js';
import { loadConfig } from '../config/load.js';
import { Keys } from '../store/keys.js';
import { OPERATOR_NAME, Operators, PasswordError } from '../store/operators.js';
import { createRedis } from '../store/redis.js';

export interface OperatorsIo {
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
  stdin: NodeJS.ReadableStream;
  env: NodeJS.ProcessEnv;
}

class Usage extends Error {}

async function firstLine(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of stream) {
    const b = typeof c === 'string' ? Buffer.from(c) : (c as Buffer);
    chunks.push(b);
    size += b.length;
    if (size > 8192) break;
  }
  return Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0];
}

export async function runOperators(args: string[], io: OperatorsIo): Promise<number> {
  try {
    const { positionals, values } = parseArgs({ args, allowPositionals: true, options: { 'password-stdin': { type: 'boolean' } } });
    const [sub, name, ...extra] = positionals;
    if (!sub || sub === 'help') {
      io.out.write(OPERATORS_USAGE + '\n');
      return sub ? 0 : 2;
    }
    if (extra.length) throw new Usage(`unexpected argument: ${extra[0]}`);
    if (sub !== 'list' && !name) throw new Usage(`operators ${sub} needs a NAME`);
    if (name && !OPERATOR_NAME.test(name)) throw new Usage('NAME is 1-64 characters of A-Z a-z 0-9 . _ -');
    if (sub === 'add' && !values['password-stdin']) throw new Usage('operators add reads the password from stdin: pass --password-stdin');
    if (!['add', 'remove', 'list'].includes(sub)) throw new Usage(`unknown operators command: ${sub}`);
    const password = sub === 'add' ? await firstLine(io.stdin) : '';

    const config = loadConfig({ env: io.env });
    const sock = resolve(config.redis.local.dir, 'redis.sock');
    const url = config.redis.url ?? (existsSync(sock) ? sock : null);
    if (!url && config.redis.cluster.length === 0) {
      io.err.write('abusegate: operators needs Redis: set REDIS_URL (or run it next to `npm start`, which starts a local one)\n');
      return 1;
    }
    const redis = createRedis({ url, cluster: config.redis.cluster, commandTimeout: Math.max(config.redis.commandTimeout, 5000) });
    try {
      await redis.connect();
      const ops = new Operators(redis, new Keys(config.redis.prefix, config.redis.partitions));
      switch (sub) {
        case 'add': {
          const created = await ops.set(name, password, Date.now());
          io.out.write(`${created ? 'added' : 'password changed for'} ${name}\n`);
          return 0;
        }
        case 'remove': {
          if (!(await ops.remove(name))) {
            io.err.write(`abusegate: no operator ${name}\n`);
            return 1;
          }
          io.out.write(`removed ${name}\n`);
          return 0;
        }
        default: {
          for (const o of await ops.list()) io.out.write(`${o.name}\t${o.createdAt}\n`);
          return 0;
        }
      }
    } finally {
      redis.disconnect();
    }
  } catch (err) {
    const e = err as Error & { code?: string };
    if (e instanceof Usage || (typeof e.code === 'string' && e.code.startsWith('ERR_PARSE_ARGS'))) {
      io.err.write(`abusegate: ${e.message}\n${OPERATORS_USAGE}\n`);
      return 2;
    }
    if (e instanceof PasswordError) {
      io.err.write(`abusegate: ${e.message}\n`);
      return 1;
    }
    throw err;
  }
}
