/**
 * The key that signs the public forms' tokens (src/web/formtoken.ts). Several instances
 * behind a load balancer must agree on it, or a form served by one is refused by another:
 *  - with a token secret configured (ABUSEGATE_TOKEN_SECRET, which every instance already
 *    shares), it is derived from it with HKDF-SHA256 (RFC 5869), info "abusegate form
 *    token": no state, and a separate key, so a form token can never pass as an
 *    attribution token or the other way round;
 *  - without one, a random 32-byte key is written to Redis once (SET NX: the first
 *    instance wins, the others read it) and kept in memory after the first read.
 */
import { hkdfSync, randomBytes } from 'node:crypto';
import type { Keys } from './keys.js';
import type { RedisClient } from './redis.js';

export function deriveFormKey(tokenSecret: string): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(tokenSecret, 'utf8'), Buffer.from('abusegate'), Buffer.from('abusegate form token'), 32));
}

/** A function that yields the key (from memory after the first success). */
export function formKeySource(tokenSecret: string | null, redis: RedisClient, keys: Keys): () => Promise<Buffer> {
  if (tokenSecret) {
    const key = deriveFormKey(tokenSecret);
    return async () => key;
  }
  let cached: Buffer | null = null;
  return async () => {
    if (cached) return cached;
    const k = keys.formKey();
    await redis.set(k, randomBytes(32).toString('base64'), 'NX');
    const stored = await redis.get(k);
    if (!stored) throw new Error('form key missing after SET NX');
    cached = Buffer.from(stored, 'base64');
    return cached;
  };
}
