/**
 * The double opt-in confirmation page: GET /c/{token} shows one button and changes
 * nothing; POST /c/{token} confirms (src/consent). English and German, no script.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Consents } from '../consent/index.js';
import type { Store } from '../store/store.js';
import { html, layout, sendHtml, type SafeHtml } from './html.js';
import { loadCatalogue } from './i18n.js';

const strings = loadCatalogue('consent');

export interface ConsentPageDeps {
  consents: Consents;
  /** A confirmation is thanked for once it is on the replicas (Store.durably), as an unsubscribe is. */
  store: Pick<Store, 'durably'>;
  confirmDays: number;
  /** Per-IP limit of the public pages (as for /u/): true when the request may go on. */
  limit: (ip: string) => Promise<boolean>;
  operatorName?: string;
}

/** An address shown to the person it belongs to, partly hidden: the page may be on a shared screen. */
function masked(recipient: string): string {
  const at = recipient.lastIndexOf('@');
  if (at < 0) return recipient.length > 4 ? '•'.repeat(recipient.length - 4) + recipient.slice(-4) : recipient;
  const local = recipient.slice(0, at);
  return (local.length <= 2 ? local[0] + '•' : local.slice(0, 2) + '•'.repeat(Math.min(local.length - 2, 6))) + recipient.slice(at);
}

export function consentPages(app: FastifyInstance, deps: ConsentPageDeps): void {
  const page = (req: FastifyRequest, reply: FastifyReply, status: number, key: string, body: (lang: string, t: (k: string, v?: Record<string, string | number>) => string) => SafeHtml) => {
    const lang = strings.pick((req.query as { lang?: string }).lang, req.headers['accept-language']);
    const t = (k: string, v?: Record<string, string | number>) => strings.t(lang, k, v);
    return sendHtml(reply, status, layout({ lang, title: t(key), body: body(lang, t), operatorName: deps.operatorName ?? t('operator') }));
  };
  const simple = (req: FastifyRequest, reply: FastifyReply, status: number, name: 'done' | 'already' | 'expired' | 'invalid') =>
    page(req, reply, status, `${name}.title`, (_l, t) => html`<h1>${t(`${name}.heading`)}</h1><p>${t(`${name}.body`, { days: deps.confirmDays })}</p>`);

  app.addHook('onRequest', async (req, reply) => {
    if (req.routeOptions.url !== '/c/:token') return;
    if (!(await deps.limit(req.ip))) {
      reply.header('retry-after', '60');
      return page(req, reply, 429, 'limited.title', (_l, t) => html`<h1>${t('limited.title')}</h1><p>${t('limited.body')}</p>`);
    }
  });

  app.get<{ Params: { token: string }; Querystring: { lang?: string } }>('/c/:token', { schema: { hide: true } }, async (req, reply) => {
    const link = deps.consents.check(req.params.token);
    if (link.state === 'invalid') return simple(req, reply, 404, 'invalid');
    if (link.state === 'expired') return simple(req, reply, 410, 'expired');
    const c = link.claims;
    return page(req, reply, 200, 'confirm.title', (lang, t) => html`
<h1>${c.list ? t('confirm.heading', { list: c.list }) : t('confirm.headingNoList')}</h1>
<p class="lead">${t('confirm.lead', { recipient: masked(c.recipient) })}</p>
<form method="post" action="/c/${req.params.token}${lang !== 'en' ? `?lang=${lang}` : ''}">
<button type="submit">${t('confirm.button')}</button>
</form>
<p class="hint">${t('confirm.privacy')}</p>`);
  });

  app.post<{ Params: { token: string }; Querystring: { lang?: string } }>('/c/:token', { schema: { hide: true } }, async (req, reply) => {
    const ua = req.headers['user-agent'];
    const r = await deps.store.durably(() => deps.consents.confirm(req.params.token, { ip: req.ip, userAgent: typeof ua === 'string' ? ua.slice(0, 512) : null }));
    if (r.state === 'invalid') return simple(req, reply, 404, 'invalid');
    if (r.state === 'expired') return simple(req, reply, 410, 'expired');
    return simple(req, reply, 200, r.state === 'confirmed' ? 'done' : 'already');
  });
}
