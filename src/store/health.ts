/**
 * Redis settings that decide whether an acknowledged report can be lost, checked at start
 * and every `redis.checkEveryMs`, and the memory and disk figures that warn before it is.
 *
 * - `maxmemory-policy` other than `noeviction`: Redis deletes keys when it is full —
 *   suppressions, dedup markers, window totals — and says nothing. Refused at start.
 * - No persistence (`appendonly no` and no `save` points): a restart forgets every
 *   suppression. Refused at start unless `redis.allowVolatile`.
 * - `appendfsync` other than `always`: a power cut loses what was acknowledged in the last
 *   second (or more). One warning.
 *
 * Managed services often refuse CONFIG; then INFO (which they allow) gives the policy and
 * whether AOF is on, and `redis.stated` says what INFO cannot.
 * https://redis.io/docs/latest/operate/oss_and_stack/management/persistence/
 * https://redis.io/docs/latest/develop/reference/eviction/
 */
import { readdirSync, statSync } from 'node:fs';
import { statfs } from 'node:fs/promises';
import { join } from 'node:path';
import type { Cluster, Redis } from 'ioredis';
import type { Config } from '../config/schema.js';
import type { ErrorCode } from '../errors.js';
import type { Logger } from '../log.js';
import { localRedisAofBytes, localRedisDiskFree, redisMaxMemory, redisRefusals, redisSettingsProblems, redisUsedMemory } from '../metrics.js';
import type { LocalRedis } from './local.js';
import type { RedisClient } from './redis.js';

/** What one Redis node says about itself; null: unknown (CONFIG refused, nothing stated). */
export interface RedisSettings {
  maxmemoryPolicy: string | null;
  /** AOF on. */
  appendonly: boolean | null;
  /** RDB snapshot points ("" when none). */
  save: string | null;
  appendfsync: string | null;
  /** Where the values came from: `config` (CONFIG GET), or `info` and `stated` when CONFIG is refused. */
  source: 'config' | 'info';
}

export interface Judgement {
  /** Why the gateway must not run on this Redis; null when it may. */
  refuse: string | null;
  /** One line each, logged at warn. */
  warnings: string[];
}

export interface SettingsRules {
  allowEviction: boolean;
  allowVolatile: boolean;
}

/** Pure: what the settings mean for the reports we acknowledge. */
export function judgeSettings(s: RedisSettings, rules: SettingsRules): Judgement {
  const warnings: string[] = [];
  const refusals: string[] = [];
  if (s.source === 'info') warnings.push('Redis refuses CONFIG GET: settings read from INFO and redis.stated (state maxmemoryPolicy, persistence and appendfsync there)');
  if (s.maxmemoryPolicy === null) {
    warnings.push('Redis maxmemory-policy unknown: cannot check that keys are never evicted (state it in redis.stated.maxmemoryPolicy)');
  } else if (s.maxmemoryPolicy !== 'noeviction') {
    const text = `Redis maxmemory-policy is ${s.maxmemoryPolicy}: when full it silently deletes suppressions, dedup markers and window totals; set it to noeviction (CONFIG SET maxmemory-policy noeviction)`;
    if (rules.allowEviction) warnings.push(`${text} (allowed by redis.allowEviction)`);
    else refusals.push(`${text}, or set redis.allowEviction: true to accept that`);
  }
  const aof = s.appendonly;
  const rdb = s.save === null ? null : s.save.trim() !== '';
  if (aof === false && rdb === false) {
    const text = 'Redis has no persistence (appendonly no, no save points): a restart forgets every suppression; turn on appendonly yes';
    if (rules.allowVolatile) warnings.push(`${text} (allowed by redis.allowVolatile)`);
    else refusals.push(`${text}, or set redis.allowVolatile: true to accept that`);
  } else if (aof === null && rdb !== true) {
    warnings.push('Redis persistence unknown: cannot check that a restart keeps the data (state it in redis.stated.persistence)');
  } else if (aof === false) {
    warnings.push('Redis persists by RDB snapshots only: a crash loses every report acknowledged since the last snapshot (appendonly yes with appendfsync always keeps them)');
  } else if (aof === true && s.appendfsync !== 'always') {
    warnings.push(
      s.appendfsync === null
        ? 'Redis appendfsync unknown: with anything but always, a crash can lose acknowledged reports (state it in redis.stated.appendfsync)'
        : `Redis appendfsync is ${s.appendfsync}: a crash or power cut can lose the reports acknowledged in the last ${s.appendfsync === 'everysec' ? 'second' : '30 seconds or so (the kernel decides)'} (appendfsync always keeps them)`,
    );
  }
  return { refuse: refusals.length ? refusals.join('; ') : null, warnings };
}

/** INFO text → field map (`key:value` lines; `#` sections). */
export function parseInfo(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) m.set(line.slice(0, i), line.slice(i + 1).trim());
  }
  return m;
}

/** CONFIG GET's reply, an array [name, value] (RESP2) or a map (RESP3). */
function configValue(reply: unknown, name: string): string | null {
  if (Array.isArray(reply)) return reply.length >= 2 ? String(reply[1]) : null;
  if (reply instanceof Map) return reply.has(name) ? String(reply.get(name)) : null;
  if (reply && typeof reply === 'object' && name in reply) return String((reply as Record<string, unknown>)[name]);
  return null;
}

type Stated = Config['redis']['stated'];

export async function readSettings(node: Redis, stated: Stated): Promise<RedisSettings> {
  const get = async (name: string) => configValue(await node.call('CONFIG', 'GET', name), name);
  try {
    const [policy, appendonly, save, appendfsync] = await Promise.all([get('maxmemory-policy'), get('appendonly'), get('save'), get('appendfsync')]);
    return { maxmemoryPolicy: policy, appendonly: appendonly === null ? null : appendonly === 'yes', save, appendfsync, source: 'config' };
  } catch (err) {
    // Only a refusal (a managed service renames or forbids CONFIG) falls back; a dead
    // connection is not a refusal.
    if (!/unknown command|NOPERM|not allowed|disabled/i.test((err as Error).message.slice(0, 200))) throw err;
  }
  const mem = parseInfo(String(await node.info('memory')));
  const pers = parseInfo(String(await node.info('persistence')));
  const aofInfo = pers.get('aof_enabled');
  const persistence = stated.persistence;
  return {
    maxmemoryPolicy: mem.get('maxmemory_policy') ?? stated.maxmemoryPolicy,
    appendonly: aofInfo !== undefined ? aofInfo === '1' : persistence === null ? null : persistence.includes('aof'),
    save: persistence === null ? null : persistence.includes('rdb') ? 'stated' : '',
    appendfsync: stated.appendfsync,
    source: 'info',
  };
}

/** The masters to check: each node of a cluster, or the one Redis. */
function masters(redis: RedisClient): Redis[] {
  return (redis as Cluster).isCluster ? (redis as Cluster).nodes('master') : [redis as Redis];
}

export class RedisSettingsError extends Error {
  readonly code = 'REDIS_SETTINGS';
}

/** A Redis error that says it refused a write for lack of room: its own catalogue code. */
export function storeErrorCode(err: unknown): ErrorCode {
  const msg = err instanceof Error ? err.message : '';
  if (msg.startsWith('MISCONF')) {
    redisRefusals.inc({ reason: 'misconf' });
    return 'STORE_NOT_PERSISTING';
  }
  if (msg.startsWith('OOM')) {
    redisRefusals.inc({ reason: 'oom' });
    return 'STORE_OUT_OF_MEMORY';
  }
  return 'STORE_UNAVAILABLE';
}

export interface HealthDeps {
  redis: RedisClient;
  config: Config['redis'];
  log: Logger;
  local: LocalRedis | null;
}

/** Size of the embedded Redis's AOF: appendonlydir/* (Redis 7) or appendonly.aof (before). */
function aofBytes(dir: string): number {
  let total = 0;
  try {
    for (const f of readdirSync(join(dir, 'appendonlydir'))) total += statSync(join(dir, 'appendonlydir', f)).size;
  } catch {
    try {
      total = statSync(join(dir, 'appendonly.aof')).size;
    } catch {
      // no AOF yet
    }
  }
  return total;
}

/** How often memory and disk figures are sampled: often enough for an alert's `for:`. */
const SAMPLE_MS = 15_000;

export class RedisHealth {
  private timers: NodeJS.Timeout[] = [];
  private logged = new Set<string>();
  private problems: string[] = [];
  private diskFree: number | null = null;

  constructor(private readonly deps: HealthDeps) {}

  /** Checks every master; throws RedisSettingsError when a setting can lose data. Unreachable: logged, checked later. */
  async checkAtStart(): Promise<void> {
    const refuse = await this.check().catch((err: Error) => {
      this.deps.log.warn({ code: 'REDIS_SETTINGS_UNCHECKED', err: err.message }, 'redis settings not checked yet (unreachable)');
      return null;
    });
    if (refuse) throw new RedisSettingsError(refuse);
  }

  /** Periodic checks and samples, and a check after every reconnect (it may be another Redis now). */
  start(): void {
    const every = (ms: number, fn: () => Promise<unknown>) => {
      const t = setInterval(() => void fn().catch(() => {}), ms);
      t.unref();
      this.timers.push(t);
    };
    every(this.deps.config.checkEveryMs, () => this.checkLogged());
    every(SAMPLE_MS, () => this.sample());
    void this.sample().catch(() => {});
    this.deps.redis.on('ready', this.onReady);
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.deps.redis.off('ready', this.onReady);
  }

  private onReady = () => void this.checkLogged().catch(() => {});

  /** A running gateway does not stop on a bad setting: it says so loudly (log, metric, /readyz). */
  private async checkLogged(): Promise<void> {
    const refuse = await this.check();
    if (refuse && !this.logged.has(refuse)) {
      this.logged.add(refuse);
      this.deps.log.error({ code: 'REDIS_SETTINGS' }, refuse);
    }
  }

  /** Reads and judges every master; logs each new warning once; returns the refusal, if any. */
  private async check(): Promise<string | null> {
    const cfg = this.deps.config;
    const refusals: string[] = [];
    for (const node of masters(this.deps.redis)) {
      const j = judgeSettings(await readSettings(node, cfg.stated), cfg);
      for (const w of j.warnings) {
        if (this.logged.has(w)) continue;
        this.logged.add(w);
        this.deps.log.warn({ code: 'REDIS_SETTINGS' }, w);
      }
      if (j.refuse) refusals.push(j.refuse);
    }
    this.problems = [...new Set(refusals)];
    redisSettingsProblems.set(this.problems.length);
    return this.problems[0] ?? null;
  }

  /** Memory of the fullest master; AOF size and free space of the embedded Redis. */
  async sample(): Promise<void> {
    let best: { used: number; max: number } | null = null;
    for (const node of masters(this.deps.redis)) {
      const mem = parseInfo(String(await node.info('memory')));
      const used = Number(mem.get('used_memory') ?? 0);
      const max = Number(mem.get('maxmemory') ?? 0);
      const ratio = (u: number, m: number) => (m > 0 ? u / m : 0);
      if (!best || ratio(used, max) > ratio(best.used, best.max) || (best.max === 0 && max === 0 && used > best.used)) best = { used, max };
    }
    if (best) {
      redisUsedMemory.set(best.used);
      redisMaxMemory.set(best.max);
    }
    await this.sampleDisk();
  }

  private async sampleDisk(): Promise<void> {
    const local = this.deps.local;
    if (!local) return;
    localRedisAofBytes.set(aofBytes(local.dir));
    const s = await statfs(local.dir);
    this.diskFree = s.bavail * s.bsize;
    localRedisDiskFree.set(this.diskFree);
  }

  /** For /readyz: not-ready reasons are elsewhere; these keep it 200 but say what is wrong. */
  async warnings(): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    if (this.problems.length) out.redisSettings = this.problems.join('; ');
    const local = this.deps.local;
    if (local) {
      await this.sampleDisk().catch(() => {});
      const floor = this.deps.config.local.minFreeBytes;
      if (this.diskFree !== null && this.diskFree < floor) {
        out.disk = `${this.diskFree} bytes free where the embedded Redis writes its AOF (${local.dir}), below redis.local.minFreeBytes (${floor})`;
      }
    }
    return out;
  }
}
