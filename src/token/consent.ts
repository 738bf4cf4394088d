/**
 * Double opt-in confirmation tokens: `c` kid base64url(nonce ‖ AES-256-GCM(claims JSON) ‖ tag).
 * The same key ring as attribution tokens (ABUSEGATE_TOKEN_SECRET: the first key mints,
 * every key verifies, so a rotation keeps outstanding links working), with keys of their
 * own derived by HKDF, so that a consent token can never pass for an attribution token or
 * the reverse. Encrypted, not only signed: the link carries the recipient and the sign-up
 * IP the platform stated, which a URL in a log must not show.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import type { TokenKeys } from './token.js';

export interface ConsentClaims {
  account: string;
  /** The list's name as the platform gave it (shown on the confirmation page). */
  list: string | null;
  channel: 'email' | 'sms';
  /** Normalised address or E.164 number. */
  recipient: string;
  /** When the platform asked (ms). */
  requestedAt: number;
  /** What the platform stated about the sign-up. */
  source: { ip: string; userAgent: string | null; formUrl: string | null; at: string | null };
}

export interface ConsentCodec {
  mint(c: ConsentClaims): string;
  /** The claims, or null for a token that is not ours, altered, or minted with a key no longer held. */
  open(token: string): ConsentClaims | null;
}

const NONCE = 12;
const TAG = 16;
/** The longest token minted: claims are bounded by the request schema. */
export const CONSENT_TOKEN_MAX = 2048;

export function createConsentCodec(keys: TokenKeys): ConsentCodec {
  const derived = new Map<string, Buffer>();
  for (const [kid, secret] of Object.entries(keys.keys)) derived.set(kid, Buffer.from(hkdfSync('sha256', secret, '', 'abusegate/v1/consent', 32)));
  const current = keys.current;
  return {
    mint(c) {
      const key = derived.get(current)!;
      const nonce = randomBytes(NONCE);
      const cipher = createCipheriv('aes-256-gcm', key, nonce);
      cipher.setAAD(Buffer.from('c' + current));
      const body = JSON.stringify([c.account, c.list, c.channel, c.recipient, c.requestedAt, c.source.ip, c.source.userAgent, c.source.formUrl, c.source.at]);
      const ct = Buffer.concat([cipher.update(body, 'utf8'), cipher.final()]);
      return 'c' + current + Buffer.concat([nonce, ct, cipher.getAuthTag()]).toString('base64url');
    },
    open(token) {
      if (typeof token !== 'string' || token.length < 2 + 22 || token.length > CONSENT_TOKEN_MAX || token[0] !== 'c') return null;
      const key = derived.get(token[1]);
      if (!key || !/^[A-Za-z0-9_-]+$/.test(token.slice(2))) return null;
      const raw = Buffer.from(token.slice(2), 'base64url');
      if (raw.length < NONCE + TAG + 2) return null;
      try {
        const d = createDecipheriv('aes-256-gcm', key, raw.subarray(0, NONCE));
        d.setAAD(Buffer.from('c' + token[1]));
        d.setAuthTag(raw.subarray(raw.length - TAG));
        const body = Buffer.concat([d.update(raw.subarray(NONCE, raw.length - TAG)), d.final()]).toString('utf8');
        const [account, list, channel, recipient, requestedAt, ip, userAgent, formUrl, at] = JSON.parse(body) as [string, string | null, 'email' | 'sms', string, number, string, string | null, string | null, string | null];
        return { account, list, channel, recipient, requestedAt, source: { ip, userAgent, formUrl, at } };
      } catch {
        return null;
      }
    },
  };
}
