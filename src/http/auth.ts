import { timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { GatewayError } from '../errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Name of the admin whose bearer token authenticated this request (for the audit). */
    admin?: string;
  }
}

/**
 * Admin bearer tokens: a bare token (its holder is "admin"), or `name:token,name:token`
 * so that the audit trail says who did what.
 */
export function parseAdminTokens(spec: string | null): Array<{ name: string; token: Buffer }> {
  if (!spec) return [];
  const parts = spec.split(',').map((s) => s.trim()).filter(Boolean);
  const named = parts.every((p) => /^[A-Za-z0-9._-]{1,64}:\S{8,}$/.test(p));
  if (!named) return [{ name: 'admin', token: Buffer.from(spec.trim()) }];
  return parts.map((p) => {
    const i = p.indexOf(':');
    return { name: p.slice(0, i), token: Buffer.from(p.slice(i + 1)) };
  });
}

/** preHandler for admin routes: `Authorization: Bearer <token>`, compared in constant time. */
export function adminAuth(spec: string | null) {
  const tokens = parseAdminTokens(spec);
  return async (req: FastifyRequest): Promise<void> => {
    const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    const got = m ? Buffer.from(m[1]) : null;
    let who: string | undefined;
    for (const t of tokens) {
      // Compare with every token (no early exit) so timing says nothing about which matched.
      if (got && got.length === t.token.length && timingSafeEqual(got, t.token)) who = t.name;
    }
    if (!who) throw new GatewayError('UNAUTHORIZED');
    req.admin = who;
  };
}
