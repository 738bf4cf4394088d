import { timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { GatewayError } from '../errors.js';

/** preHandler for admin routes: `Authorization: Bearer <admin token>`, compared in constant time. */
export function adminAuth(token: string | null) {
  const want = token ? Buffer.from(token) : null;
  return async (req: FastifyRequest): Promise<void> => {
    const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    const got = m ? Buffer.from(m[1]) : null;
    if (!want || !got || got.length !== want.length || !timingSafeEqual(got, want)) throw new GatewayError('UNAUTHORIZED');
  };
}
