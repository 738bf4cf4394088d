/**
 * Sign-in, the session cookie and CSRF tokens of the desk console.
 *
 * The cookie holds a random 256-bit session id: HttpOnly (no script reads it), SameSite
 * Strict (no other site's page sends it, the first CSRF defence), Secure on TLS, Path
 * /desk; a new id at every sign-in (session fixation). Every form carries a token signed
 * with the shared form key and bound to the session id (formtoken.ts): a page of another
 * site cannot make one, and one stolen from another session does not verify.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { checkFormToken, mintFormToken } from '../formtoken.js';
import type { Operators } from '../../store/operators.js';
import type { Clock } from '../../clock.js';

export const COOKIE = 'ag_desk';
/** A form may stay open on a reviewer's screen this long before it must be reloaded. */
const FORM_MAX_MS = 12 * 3_600_000;

declare module 'fastify' {
  interface FastifyRequest {
    /** The signed-in desk operator (set by the desk's session check). */
    operator?: string;
    deskSid?: string;
  }
}

/** The value of one cookie (RFC 6265 §5.4 header; no decoding: our value is base64url). */
export function readCookie(header: string | undefined, name: string): string | null {
  for (const part of (header ?? '').slice(0, 8192).split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return null;
}

export function sessionCookie(req: FastifyRequest, sid: string, maxAgeS: number): string {
  return `${COOKIE}=${sid}; Path=/desk; HttpOnly; SameSite=Strict; Max-Age=${maxAgeS}${req.protocol === 'https' ? '; Secure' : ''}`;
}

export function clearCookie(req: FastifyRequest): string {
  return `${COOKIE}=; Path=/desk; HttpOnly; SameSite=Strict; Max-Age=0${req.protocol === 'https' ? '; Secure' : ''}`;
}

export class DeskSessions {
  private key: Promise<Buffer> | null = null;

  constructor(
    readonly operators: Operators,
    private readonly clock: Clock,
    readonly idleMs: number,
  ) {}

  private formKey(): Promise<Buffer> {
    // Made once per process; a failed read (Redis down) is retried at the next request.
    this.key ??= this.operators.formKey().catch((err: unknown) => {
      this.key = null;
      throw err;
    });
    return this.key;
  }

  /** preHandler: the operator of the cookie's session, or a redirect to the sign-in page. */
  guard = async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const sid = readCookie(req.headers.cookie, COOKIE);
    const name = sid ? await this.operators.session(sid, this.idleMs) : null;
    if (!name || !sid) {
      const next = req.method === 'GET' ? req.url : '/desk';
      return reply.status(302).header('location', `/desk/sign-in?next=${encodeURIComponent(next.slice(0, 512))}`).header('cache-control', 'no-store').send();
    }
    req.operator = name;
    req.deskSid = sid;
  };

  async csrf(purpose: string, bind: string): Promise<string> {
    return mintFormToken(await this.formKey(), purpose, this.clock.now(), bind);
  }

  async checkCsrf(purpose: string, token: unknown, bind: string): Promise<boolean> {
    return checkFormToken(await this.formKey(), purpose, token, this.clock.now(), { minMs: 0, maxMs: FORM_MAX_MS }, bind) === 'ok';
  }
}

/** A local desk path to return to after sign-in; anything else (another host, `//x`) is /desk. */
export function safeNext(next: unknown): string {
  return typeof next === 'string' && next.length <= 512 && /^\/desk(?:[/?][^\\\s]*)?$/.test(next) && !next.startsWith('//') && !next.includes('/\\') && !/^\/desk\/\//.test(next) ? next : '/desk';
}
