/**
 * The desk console's operators, their sessions and case assignments (Redis, one slot).
 *
 * Passwords are hashed with scrypt (node:crypto; RFC 7914) with a random salt per
 * operator; the parameters are stored beside the hash so that they can be raised later
 * without invalidating old hashes. Sessions are random 256-bit values kept in a cookie;
 * Redis holds only their SHA-256, with a TTL that each request pushes forward (the idle
 * timeout).
 */
import { createHash, randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import { noteWrite, storeCall } from './call.js';
import type { Keys } from './keys.js';
import type { RedisClient } from './redis.js';

export const OPERATOR_NAME = /^[A-Za-z0-9._-]{1,64}$/;
export const PASSWORD_MIN = 12;
/** scrypt hashes what it is given: a megabyte "password" costs nothing to refuse up front. */
export const PASSWORD_MAX = 1024;

/** N = 2^15, r = 8, p = 1: ~32 MiB and ~50 ms per check here (OWASP's scrypt minimum is 2^17/8/1 at 128 MiB; this fits 2 shared cores). */
const PARAMS = { N: 32768, r: 8, p: 1 } as const;
const KEY_LEN = 32;

interface StoredOperator {
  hash: string;
  salt: string;
  N: number;
  r: number;
  p: number;
  createdAt: string;
}

export class PasswordError extends Error {
  override name = 'PasswordError';
}

function scrypt(password: string, salt: Buffer, o: { N: number; r: number; p: number }): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scryptCb(password.normalize('NFC'), salt, KEY_LEN, { ...o, maxmem: 128 * o.N * o.r * 2 }, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** A hash that never matches, so an unknown name costs the same scrypt as a known one. */
const DUMMY: StoredOperator = { hash: randomBytes(KEY_LEN).toString('base64'), salt: randomBytes(16).toString('base64'), ...PARAMS, createdAt: '' };

export function checkPassword(password: string): void {
  if ([...password].length < PASSWORD_MIN) throw new PasswordError(`a password needs at least ${PASSWORD_MIN} characters`);
  if (password.length > PASSWORD_MAX) throw new PasswordError(`a password has at most ${PASSWORD_MAX} characters`);
}

export class Operators {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
  ) {}


  /** Adds an operator or sets a new password; true when the name is new. */
  async set(name: string, password: string, now: number): Promise<boolean> {
    if (!OPERATOR_NAME.test(name)) throw new PasswordError('a name is 1-64 characters of A-Z a-z 0-9 . _ -');
    checkPassword(password);
    const salt = randomBytes(16);
    const hash = await scrypt(password, salt, PARAMS);
    const rec: StoredOperator = { hash: hash.toString('base64'), salt: salt.toString('base64'), ...PARAMS, createdAt: new Date(now).toISOString() };
    return (await storeCall('operators', () => this.redis.hset(this.keys.desk.operators, name, JSON.stringify(rec)))) === 1;
  }

  /** Removes an operator; their sessions end at their next request (see session()). */
  async remove(name: string): Promise<boolean> {
    return (await storeCall('operators', () => this.redis.hdel(this.keys.desk.operators, name))) === 1;
  }

  async list(): Promise<Array<{ name: string; createdAt: string }>> {
    const all = await storeCall('operators', () => this.redis.hgetall(this.keys.desk.operators));
    return Object.entries(all)
      .map(([name, v]) => ({ name, createdAt: (JSON.parse(v) as StoredOperator).createdAt }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  /** True when name and password match; an unknown name takes as long as a wrong password. */
  async verify(name: string, password: string): Promise<boolean> {
    const raw = OPERATOR_NAME.test(name) ? await storeCall('operators', () => this.redis.hget(this.keys.desk.operators, name)) : null;
    const rec = raw ? (JSON.parse(raw) as StoredOperator) : DUMMY;
    const got = await scrypt(password.slice(0, PASSWORD_MAX), Buffer.from(rec.salt, 'base64'), rec);
    const want = Buffer.from(rec.hash, 'base64');
    return got.length === want.length && timingSafeEqual(got, want) && raw !== null;
  }

  /** A new session for the operator; returns the cookie value. */
  async createSession(name: string, idleMs: number): Promise<string> {
    const sid = randomBytes(32).toString('base64url');
    noteWrite(this.keys.desk.session(sha256(sid)));
    await storeCall('session', () => this.redis.set(this.keys.desk.session(sha256(sid)), name, 'PX', idleMs));
    return sid;
  }

  /** The operator of a live session, its idle timer restarted; null when unknown, expired, or the operator was removed. */
  async session(sid: string, idleMs: number): Promise<string | null> {
    if (!/^[A-Za-z0-9_-]{43}$/.test(sid)) return null;
    const key = this.keys.desk.session(sha256(sid));
    const name = await storeCall('session', () => this.redis.getex(key, 'PX', idleMs));
    if (!name) return null;
    if (!(await storeCall('session', () => this.redis.hexists(this.keys.desk.operators, name)))) {
      await this.endSession(sid);
      return null;
    }
    return name;
  }

  async endSession(sid: string): Promise<void> {
    // A session lost to a failover would come back alive on the new master: signed out must stay out.
    noteWrite(this.keys.desk.session(sha256(sid)));
    await storeCall('session', () => this.redis.del(this.keys.desk.session(sha256(sid))));
  }

  /** The CSRF signing key, made once and shared by every instance. */
  async formKey(): Promise<Buffer> {
    const key = this.keys.desk.formKey;
    await storeCall('formKey', () => this.redis.set(key, randomBytes(32).toString('base64'), 'NX'));
    const v = await storeCall('formKey', () => this.redis.get(key));
    return Buffer.from(v ?? '', 'base64');
  }

  async assign(caseId: string, name: string): Promise<void> {
    noteWrite(this.keys.desk.assignees);
    await storeCall('assign', () => this.redis.hset(this.keys.desk.assignees, caseId, name));
  }

  async assignees(caseIds: string[]): Promise<Map<string, string>> {
    if (caseIds.length === 0) return new Map();
    const names = await storeCall('assign', () => this.redis.hmget(this.keys.desk.assignees, ...caseIds));
    const out = new Map<string, string>();
    caseIds.forEach((id, i) => names[i] && out.set(id, names[i] as string));
    return out;
  }
}
