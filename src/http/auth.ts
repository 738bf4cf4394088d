import { timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { GatewayError } from '../errors.js';
import { authRejected } from '../metrics.js';

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
  const named = parts.every((p) => /^[A-Za-z0-9._-]{1,64}:\S+$/.test(p));
  if (!named) return [{ name: 'admin', token: Buffer.from(spec.trim()) }];
  return parts.map((p) => {
    const i = p.indexOf(':');
    return { name: p.slice(0, i), token: Buffer.from(p.slice(i + 1)) };
  });
}

/** preHandler for admin routes: `Authorization: Bearer <token>`, compared in constant time. */
export function adminAuth(spec: string | null): BearerAuth {
  return bearerAuth('admin', parseAdminTokens(spec));
}

/**
 * preHandler for the routes the platform and its MTA call (events, consents, preflight,
 * suppression reads, /metrics on the public listener): the platform token, or an admin's.
 */
export function platformAuth(platformSpec: string | null, adminSpec: string | null): BearerAuth {
  const platform = parseAdminTokens(platformSpec).map((t) => ({ ...t, name: t.name === 'admin' ? 'platform' : t.name }));
  return bearerAuth('platform', [...platform, ...parseAdminTokens(adminSpec)]);
}

/**
 * A route guard (fastify onRequest/preHandler) that also answers, without a request object,
 * who a raw Authorization header belongs to: the lookup fast path (routes/suppressions.ts)
 * checks the same tokens in the same way before fastify sees the request.
 */
export type BearerAuth = ((req: FastifyRequest) => Promise<void>) & { holder(header: string | undefined): string | undefined };

function bearerAuth(scope: 'admin' | 'platform', tokens: Array<{ name: string; token: Buffer }>): BearerAuth {
  const holder = (h = ''): string | undefined => {
    // A bounded scan, not a regex over the header: the value is the client's.
    const got = h.length <= 1024 && h.slice(0, 7).toLowerCase() === 'bearer ' ? Buffer.from(h.slice(7).trim()) : null;
    let who: string | undefined;
    for (const t of tokens) {
      // Compare with every token (no early exit) so timing says nothing about which matched.
      if (got && got.length === t.token.length && timingSafeEqual(got, t.token)) who = t.name;
    }
    return who;
  };
  const guard = async (req: FastifyRequest): Promise<void> => {
    const who = holder(req.headers.authorization);
    if (!who) {
      authRejected.inc({ scope });
      throw new GatewayError('UNAUTHORIZED');
    }
    req.admin = who;
  };
  return Object.assign(guard, { holder });
}
