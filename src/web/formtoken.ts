/**
 * Signed form tokens: `<issued ms, base36>.<HMAC-SHA256 of purpose|issued|bind, base64url>`.
 * A page embeds one in each form; the POST must bring it back. It proves the form was
 * served by us (no cross-site posting), how long ago (a bot that posts within a second of
 * loading, or a token weeks old, is refused) and, with `bind`, to whom (the desk binds
 * its CSRF token to the session). Stateless: any instance that holds the key can check.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export type FormTokenCheck = 'ok' | 'invalid' | 'too-fast' | 'expired';

const mac = (key: Buffer, purpose: string, issued: string, bind: string) =>
  createHmac('sha256', key).update(`${purpose}|${issued}|${bind}`).digest('base64url');

export function mintFormToken(key: Buffer, purpose: string, now: number, bind = ''): string {
  const issued = now.toString(36);
  return `${issued}.${mac(key, purpose, issued, bind)}`;
}

export function checkFormToken(
  key: Buffer,
  purpose: string,
  token: unknown,
  now: number,
  limits: { minMs: number; maxMs: number },
  bind = '',
): FormTokenCheck {
  if (typeof token !== 'string' || token.length > 80) return 'invalid';
  const dot = token.indexOf('.');
  if (dot < 1 || dot > 12) return 'invalid';
  const issued = token.slice(0, dot);
  if (!/^[0-9a-z]+$/.test(issued)) return 'invalid';
  const want = Buffer.from(mac(key, purpose, issued, bind));
  const got = Buffer.from(token.slice(dot + 1));
  if (got.length !== want.length || !timingSafeEqual(got, want)) return 'invalid';
  const age = now - parseInt(issued, 36);
  if (age < limits.minMs) return 'too-fast';
  if (age > limits.maxMs) return 'expired';
  return 'ok';
}
