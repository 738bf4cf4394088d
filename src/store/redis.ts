/**
 * Redis connection and script loading. Scripts are read once from src/store/lua and called
 * by the SHA1 of their text, so gateways of two versions sharing a Redis never run each
 * other's scripts; the `ag2` prefix keeps their names on the client clear of ioredis's own
 * methods. Code shared by
 * several scripts lives in src/store/lua/lib and is pasted in where a script says
 * `--- @include "<name>"` (BullMQ's convention too): Redis runs one self-contained text.
 */
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { Cluster, Redis, type RedisOptions } from 'ioredis';

/** A single Redis or a Redis Cluster: the store speaks to both the same way. */
export type RedisClient = Redis | Cluster;

const LUA_DIR = new URL('../../src/store/lua/', import.meta.url);
const LIB_DIR = new URL('lib/', LUA_DIR);
export const SCRIPT_VERSION = 'ag2';

export interface RedisConnectOptions {
  url: string | null;
  /** Redis Cluster seed nodes, "host:port"; when given, `url` is not used. */
  cluster?: readonly string[];
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
    enableAutoPipelining: true,
  };
}

export function createRedis({ url, cluster, commandTimeout, extra }: RedisConnectOptions): RedisClient {
  const opts = { ...baseOptions(commandTimeout), ...extra };
  let redis: RedisClient;
  if (cluster && cluster.length > 0) {
    const { enableOfflineQueue, lazyConnect, retryStrategy, ...redisOptions } = opts;
    redis = new Cluster(
      cluster.map((hp) => {
        const i = hp.lastIndexOf(':');
        return { host: hp.slice(0, i), port: Number(hp.slice(i + 1)) };
      }),
      {
        redisOptions,
        enableOfflineQueue,
        lazyConnect,
        clusterRetryStrategy: retryStrategy as (times: number) => number,
        // During a failover the slots move: look again soon, and retry a command that met a
        // MOVED/TRYAGAIN a few times before it fails (and SMTP answers 451).
        slotsRefreshTimeout: 1000,
        retryDelayOnFailover: 100,
        retryDelayOnClusterDown: 100,
        retryDelayOnTryAgain: 100,
        maxRedirections: 6,
      },
    );
  } else if (url && (url.startsWith('/') || url.startsWith('unix://'))) {
    redis = new Redis({ ...opts, path: url.replace(/^unix:\/\//, '') });
  } else {
    redis = new Redis(url ?? 'redis://127.0.0.1:6379', opts);
  }
  defineScripts(redis);
  return redis;
}

/**
 * A script's text with each `--- @include "<name>"` line replaced by src/store/lua/lib/<name>.lua
 * (itself expanded). A library is pasted once per script; a missing one is an error at start.
 */
export function expandIncludes(lua: string, seen: Set<string> = new Set()): string {
  return lua.replace(/^--- @include "([\w-]+)"[ \t]*$/gm, (_, name: string) => {
    if (seen.has(name)) return `-- (${name} included above)`;
    seen.add(name);
    return expandIncludes(readFileSync(new URL(`${name}.lua`, LIB_DIR), 'utf8'), seen).trimEnd();
  });
}

/**
 * A script's text ready to load: includes expanded, and an argument check put in front.
 * The file name gives the key count (`N+`: at least N, the caller passes the count first);
 * a script that names a KEYS[i] beyond N fails here, at start (a key added without
 * renaming the file). `--! argv N` (or `N+`: at least N) in the header makes the script
 * refuse a call with another ARGV count: a key passed in excess would otherwise shift
 * every ARGV silently.
 */
export function scriptText(name: string, numberOfKeys: number, source: string, moreKeys = false): string {
  const lua = expandIncludes(source);
  let highest = 0;
  for (const m of lua.matchAll(/KEYS\[(\d+)\]/g)) highest = Math.max(highest, Number(m[1]));
  if (highest > numberOfKeys) throw new Error(`${name}.lua uses KEYS[${highest}] but its file name says ${numberOfKeys} keys`);
  const argv = /^--! argv (\d+)(\+?)$/m.exec(lua);
  if (!argv) return lua;
  const want = Number(argv[1]);
  const bad = argv[2] ? `#ARGV < ${want}` : `#ARGV ~= ${want}`;
  const keys = moreKeys ? `#KEYS < ${numberOfKeys}` : `#KEYS ~= ${numberOfKeys}`;
  const said = (atLeast: boolean) => (atLeast ? 'at least ' : '');
  return `if ${keys} or ${bad} then return redis.error_reply('ERR ${name}: wants ${said(moreKeys)}${numberOfKeys} keys and ${said(!!argv[2])}${want} arguments, got ' .. #KEYS .. ' and ' .. #ARGV) end\n${lua}`;
}

/**
 * Registers every src/store/lua/<name>-<numberOfKeys>.lua as `ag2<name>` (lib/ holds
 * includes); a `<name>-<N>+.lua` takes a variable number of keys, the count first.
 *
 * A call is an EVALSHA, and an EVAL of the text when Redis answers NOSCRIPT (its script
 * cache is empty after a restart, or on a node new to the cluster; the script did not run,
 * and the EVAL caches it). Not ioredis's defineCommand: every auto-pipelined batch is a
 * Pipeline, which copies each defined command onto itself, two properties per script, and
 * with ~25 scripts that was ~30 µs per batch, about one batch per report (issue 16).
 */
export function defineScripts(redis: RedisClient): void {
  for (const file of readdirSync(LUA_DIR)) {
    const m = /^([A-Za-z]+)-(\d+)(\+?)\.lua$/.exec(file);
    if (!m) continue;
    const lua = scriptText(m[1], Number(m[2]), readFileSync(new URL(file, LUA_DIR), 'utf8'), m[3] === '+');
    const sha = createHash('sha1').update(lua).digest('hex');
    const fixedKeys = m[3] ? null : Number(m[2]);
    const call = (...args: Array<string | number>): Promise<unknown> => {
      const a = fixedKeys === null ? args : [fixedKeys, ...args];
      return (redis.evalsha as (...x: Array<string | number>) => Promise<unknown>)(sha, ...a).catch((err: Error) => {
        if (!err.message?.startsWith('NOSCRIPT')) throw err;
        return (redis.eval as (...x: Array<string | number>) => Promise<unknown>)(lua, ...a);
      });
    };
    Object.defineProperty(redis, SCRIPT_VERSION + m[1], { value: call, configurable: true });
  }
}

/**
 * Whether an error means Redis could not be reached or could not take the write now
 * (connection refused or lost, a timeout, a failover or cluster reshuffle, out of memory,
 * a busy script, too few replicas): the peer should try again. Anything else (a script
 * error, a TypeError) is a bug and must not pass for an outage.
 */
export function redisUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && /^(ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENOENT|ECONNABORTED)$/.test(code)) return true;
  if (err.name === 'MaxRetriesPerRequestError' || err.name === 'ClusterAllFailedError') return true;
  const m = err.message;
  return (
    m === 'Command timed out' ||
    m === 'Connection is closed.' ||
    m.startsWith("Stream isn't writeable") ||
    m.startsWith('Failed to refresh slots cache') ||
    m.startsWith('None of startup nodes is available') ||
    m.startsWith('Too many Cluster redirections') ||
    m.startsWith('Cluster isn') ||
    // Redis replies that mean "not now" (failover, loading, memory, a full disk, a long script, WAIT).
    /^(CLUSTERDOWN|TRYAGAIN|LOADING|MASTERDOWN|READONLY|OOM|MISCONF|BUSY|NOREPLICAS|MOVED|ASK) /.test(m) ||
    m.startsWith('NOT_ENOUGH_REPLICAS')
  );
}
