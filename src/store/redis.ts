/**
 * Redis connection and script loading. Scripts are read once from src/store/lua and
 * registered with defineCommand under versioned names, so a new gateway version never
 * runs an old script cached under the same name (BullMQ does the same).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { Redis, type RedisOptions } from 'ioredis';

const LUA_DIR = new URL('../../src/store/lua/', import.meta.url);
export const SCRIPT_VERSION = 'ag1';

export interface RedisConnectOptions {
  url: string;
  commandTimeout: number;
  /** Extra ioredis options (tests shorten reconnect back-off). */
  extra?: Partial<RedisOptions>;
}

function baseOptions(commandTimeout: number): RedisOptions {
  return {
    commandTimeout,
    // Fail fast while disconnected: the SMTP client gets a 451 now, not a hang.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    lazyConnect: true,
    retryStrategy: (attempt) => Math.min(50 * 2 ** attempt, 2000),
    connectionName: 'abusegate',
  };
}

export function createRedis({ url, commandTimeout, extra }: RedisConnectOptions): Redis {
  const opts = { ...baseOptions(commandTimeout), ...extra };
  const redis = url.startsWith('/') || url.startsWith('unix://')
    ? new Redis({ ...opts, path: url.replace(/^unix:\/\//, '') })
    : new Redis(url, opts);
  defineScripts(redis);
  return redis;
}

/** Registers every src/store/lua/<name>-<numberOfKeys>.lua as `ag1<name>`. */
export function defineScripts(redis: Redis): void {
  for (const file of readdirSync(LUA_DIR)) {
    const m = /^([A-Za-z]+)-(\d+)\.lua$/.exec(file);
    if (!m) continue;
    redis.defineCommand(SCRIPT_VERSION + m[1], {
      numberOfKeys: Number(m[2]),
      lua: readFileSync(new URL(file, LUA_DIR), 'utf8'),
    });
  }
}
