/**
 * One-click unsubscribe (RFC 8058): the mailbox provider POSTs
 * `List-Unsubscribe=One-Click` to the URL of the List-Unsubscribe header; a person who
 * follows the footer link GETs a small page with a button that POSTs the same.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { normaliseEmail } from '../../address.js';
import type { Effects } from '../../effects.js';
import type { Store } from '../../store/store.js';
import type { TokenCodec } from '../../token/token.js';
import { ipGroup } from '../../trust/ip.js';
import { html, layout, type SafeHtml } from '../../web/html.js';

/** The shared page shell and stylesheet (no inline style or script: the CSP forbids both). */
function page(title: string, body: SafeHtml): string {
  return layout({ lang: 'en', title, body }).text;
}

export function unsubscribeRoutes(app: FastifyInstance, deps: { codec: TokenCodec | null; effects: Effects; store: Store; limit: (ip: string) => Promise<boolean> }): void {
  // A public route: a client that walks token space hits the per-IP limit, not Redis. The
  // hook is the route's own (not a URL prefix test, which `/%75/…` walked around), keyed on
  // the client's /24 or /64, and runs before the body is read.
  const onRequest = async (req: FastifyRequest, reply: FastifyReply) => {
    if (!(await deps.limit(ipGroup(req.ip)))) reply.status(429).header('retry-after', '60').send({ error: { code: 'RATE_LIMITED', message: 'Too many requests, try again later' } });
  };
  const claims = (token: string) => {
    const c = deps.codec?.verify(token);
    const address = c?.recipient ? normaliseEmail(c.recipient) : null;
    return c && address ? { ...c, address } : null;
  };
  const notFound = page('Link not valid', html`<h1>This unsubscribe link is not valid</h1><p>It may have been cut short by your mail program. Use the unsubscribe link at the bottom of the latest message you received.</p>`);

  app.get<{ Params: { token: string } }>('/u/:token', { onRequest }, async (req, reply) => {
    reply.header('content-type', 'text/html; charset=utf-8').header('cache-control', 'no-store');
    if (!claims(req.params.token)) return reply.status(404).send(notFound);
    // GET changes nothing: link scanners and prefetchers follow links (RFC 8058 §3.2).
    return page(
      'Unsubscribe',
      html`<h1>Unsubscribe</h1><p>Stop receiving these messages?</p><form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click"><button type="submit">Unsubscribe</button></form>`,
    );
  });

  app.post<{ Params: { token: string }; Body: unknown }>('/u/:token', { onRequest }, async (req, reply) => {
    const c = claims(req.params.token);
    const wantsHtml = !(req.headers.accept ?? '').includes('application/json');
    reply.header('cache-control', 'no-store');
    if (!c) return wantsHtml ? reply.status(404).type('text/html; charset=utf-8').send(notFound) : reply.status(404).send({ error: { code: 'NOT_FOUND', message: 'Unknown or invalid unsubscribe token' } });
    const body = (req.body ?? {}) as Record<string, unknown>;
    if (body['List-Unsubscribe'] !== 'One-Click') {
      return reply.status(400).send({ error: { code: 'BAD_REQUEST', message: 'Expected the body List-Unsubscribe=One-Click (RFC 8058)' } });
    }
    await deps.store.durably(() => deps.effects.suppress(c.account, 'email', c.address, { reason: 'unsubscribe', source: 'one-click', campaign: c.campaign }));
    if (!wantsHtml) return { unsubscribed: true };
    return reply.type('text/html; charset=utf-8').send(page('Unsubscribed', html`<h1>You are unsubscribed</h1><p>You will not receive these messages any more.</p>`));
  });
}
