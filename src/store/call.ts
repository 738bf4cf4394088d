/**
 * The one way every store module calls Redis: Redis being away (unreachable, busy, out of
 * memory or disk) becomes a catalogue error the edges answer with a temporary failure
 * (451 / 452 / 503) and counts in abusegate_redis_errors_total; anything else is a bug and
 * becomes INTERNAL_FAULT, logged with its stack by the edges.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { ERRORS, GatewayError } from '../errors.js';
import { redisErrors } from '../metrics.js';
import { storeErrorCode } from './health.js';
import { type RedisClient, SCRIPT_VERSION, redisUnavailable } from './redis.js';

export async function storeCall<T>(what: string, op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    storeFailed(what, err);
  }
}

/**
 * What storeCall turns a failed call into, for a caller that keeps its success path free
 * of an async wrapper (`promise.then(ok, (err) => storeFailed(what, err))`).
 */
export function storeFailed(what: string, err: unknown): never {
  if (err instanceof GatewayError) throw err;
  if (!redisUnavailable(err)) throw new GatewayError('INTERNAL_FAULT', `${ERRORS.INTERNAL_FAULT.message} (${what})`, { cause: err });
  redisErrors.inc({ op: what });
  throw new GatewayError(storeErrorCode(err), undefined, { cause: err });
}

/** The keys written inside the current writesOf() call, if any. */
const written = new AsyncLocalStorage<Set<string>>();

/** Notes a key written by the code running now (inside writesOf(); elsewhere nothing). */
export function noteWrite(key: string): void {
  written.getStore()?.add(key);
}

/** Runs `fn` and returns, with its result, a key of each write it made (one per script call). */
export async function writesOf<T>(fn: () => Promise<T>): Promise<{ result: T; keys: Set<string> }> {
  const keys = new Set<string>();
  const result = await written.run(keys, fn);
  return { result, keys };
}

export type Script = (...args: Array<string | number>) => Promise<unknown>;

/**
 * A script registered from src/store/lua (defineScripts), by its name without the key count.
 * Each call notes its first key (every key of a script shares its slot): a write made inside
 * writesOf() (Replication.durably) is confirmed on that slot's master before it is acknowledged.
 */
export function scriptOf(redis: RedisClient, name: string): Script {
  const fn = (redis as unknown as Record<string, Script>)[SCRIPT_VERSION + name];
  return (...args) => {
    // A script of a variable number of keys (`<name>-<N>+.lua`) takes their count first.
    noteWrite(String(typeof args[0] === 'number' ? args[1] : args[0]));
    return fn.apply(redis, args);
  };
}
