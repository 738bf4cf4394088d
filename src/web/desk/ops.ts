/**
 * The desk's operations pages: quarantine, dead letters (replay), the global list, and the
 * bulk import of suppressions. Registered inside the desk's session scope (routes.ts).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { type Channel, normaliseAddress } from '../../address.js';
import { countDeadLetters, latestDeadLetters, replayDeadLetters } from '../../webhook/replay.js';
import type { Clock } from '../../clock.js';
import { manualSuppressedEvent, unsuppressedEvent } from '../../effects.js';
import type { Store, SuppressionRecord } from '../../store/store.js';
import { html, sendHtml } from '../html.js';
import { confirmPage, csrfField, doneBanner, page, type PageContext, t, when } from './pages.js';
import { parseImportCsv } from '../../parse/import.js';

export interface OpsDeps {
  store: Store;
  clock: Clock;
  ctxOf(req: FastifyRequest, here?: PageContext['here']): Promise<PageContext>;
}

type Body = Record<string, string | undefined>;
const ACCOUNT = /^[A-Za-z0-9._-]{1,64}$/;
const STREAM_ID = /^[0-9]{1,20}-[0-9]{1,20}$/;
const PARTITION = /^([0-9]{1,5}|cases|global)$/;

export function opsRoutes(app: FastifyInstance, deps: OpsDeps): void {
  const { store, clock, ctxOf } = deps;
  const redis = store.redis;
  const keys = store.keys;

  app.get<{ Querystring: { done?: string } }>('/desk/quarantine', async (req, reply) => {
    const ctx = await ctxOf(req, 'quarantine');
    const items = await store.listQuarantine(200);
    const body = html`<h1>${t('ops.quarantine.title')}</h1><p>${t('ops.quarantine.intro')}</p>
${
  items.length
    ? html`<div class="scroll"><table><thead><tr><th scope="col">${t('ops.quarantine.at')}</th><th scope="col">${t('ops.quarantine.mailbox')}</th><th scope="col">${t('ops.quarantine.reason')}</th><th scope="col" class="num">${t('ops.quarantine.size')}</th><th scope="col"><span class="visually-hidden">${t('ops.quarantine.download')}</span></th></tr></thead><tbody>
${items.map((q) => html`<tr><td>${when(new Date(q.arrivedAt).toISOString())}</td><td>${q.mailbox}</td><td>${q.reason}</td><td class="num">${q.size}</td><td><a href="/desk/quarantine/${q.id}" download>${t('ops.quarantine.download')}<span class="visually-hidden"> ${q.id}</span></a></td></tr>`)}
</tbody></table></div>`
    : html`<p class="panel">${t('ops.quarantine.none')}</p>`
}`;
    return sendHtml(reply, 200, page(ctx, t('ops.quarantine.title'), body));
  });

  // The kept bytes as a download, never rendered: they are whatever a stranger sent.
  app.get<{ Params: { id: string } }>('/desk/quarantine/:id', async (req, reply) => {
    // The page lists the newest 200; a download looks a little further, never the whole list.
    const items = await store.listQuarantine(1000);
    const q = /^[0-9A-Za-z_-]{1,64}$/.test(req.params.id) ? items.find((i) => i.id === req.params.id) : undefined;
    if (!q) return reply.status(404).send({ error: { code: 'NOT_FOUND', message: 'No such quarantined message' } });
    await store.audit({ action: 'quarantine.download', id: q.id, by: req.operator!, at: new Date(clock.now()).toISOString() });
    return reply
      .header('content-type', 'application/octet-stream')
      .header('content-disposition', `attachment; filename="quarantine-${q.id}.eml"`)
      .header('x-content-type-options', 'nosniff')
      .header('cache-control', 'no-store')
      .send(Buffer.from(q.head, 'utf8'));
  });

  app.get<{ Querystring: { done?: string; n?: string } }>('/desk/dead-letters', async (req, reply) => {
    const ctx = await ctxOf(req, 'dead');
    const total = await countDeadLetters(redis, keys);
    const rows = await latestDeadLetters(redis, keys, 200);
    const items = rows.map(({ id, fields: o }) => {
      let type = '?';
      try {
        type = String((JSON.parse(o.event ?? '{}') as { type?: unknown }).type ?? '?');
      } catch {
        // An unreadable dead letter still shows (the replay skips it).
      }
      return { id, partition: o.partition ?? '', type, at: o.at ?? '', error: o.error ?? '', endpoint: o.endpoint ?? '', attempts: o.attempts ?? '' };
    });
    const body = html`<h1>${t('ops.dead.title')}</h1><p>${t('ops.dead.intro')}</p>
${doneBanner(req.query.done, { n: Number(req.query.n ?? 0) || 0 })}
${
  items.length
    ? html`<form method="post" action="/desk/dead-letters/replay">${csrfField(ctx.csrf)}<input type="hidden" name="all" value="1"><button>${t('ops.dead.replayAll')} (${total})</button></form>
<div class="scroll"><table><thead><tr><th scope="col">${t('ops.dead.type')}</th><th scope="col">${t('ops.dead.at')}</th><th scope="col">Endpoint</th><th scope="col" class="num">Attempts</th><th scope="col">${t('ops.dead.error')}</th><th scope="col"><span class="visually-hidden">${t('ops.dead.replay')}</span></th></tr></thead><tbody>
${items.map((d) => html`<tr><td>${d.type}</td><td>${when(/^\d+$/.test(d.at) ? new Date(Number(d.at)).toISOString() : d.at)}</td><td class="mono">${d.endpoint}</td><td class="num">${d.attempts}</td><td>${d.error}</td><td><form method="post" action="/desk/dead-letters/replay">${csrfField(ctx.csrf)}<input type="hidden" name="id" value="${d.id}"><input type="hidden" name="partition" value="${d.partition}"><button class="secondary small">${t('ops.dead.replay')}<span class="visually-hidden"> ${d.id}</span></button></form></td></tr>`)}
</tbody></table></div>`
    : html`<p class="panel">${t('ops.dead.none')}</p>`
}`;
    return sendHtml(reply, 200, page(ctx, t('ops.dead.title'), body));
  });

  app.post<{ Body: Body }>('/desk/dead-letters/replay', async (req, reply) => {
    const id = STREAM_ID.test(req.body.id ?? '') ? req.body.id : undefined;
    // The letter's partition names its stream (dead letters lie in their outbox's slot).
    const partition = id && PARTITION.test(req.body.partition ?? '') ? req.body.partition : undefined;
    if (!id && req.body.all !== '1') return reply.status(303).header('location', '/desk/dead-letters').send();
    if (req.body.confirm !== 'yes') {
      const n = id ? 1 : await countDeadLetters(redis, keys);
      return sendHtml(reply, 200, confirmPage(await ctxOf(req, 'dead'), { action: '/desk/dead-letters/replay', message: id ? t('confirm.replay', { id }) : t('confirm.replayAll', { n }), fields: id ? { id, ...(partition ? { partition } : {}) } : { all: '1' }, cancel: '/desk/dead-letters', warning: false }));
    }
    const r = await store.durably(async () => {
      const r = await replayDeadLetters(redis, keys, { id, partition });
      await store.audit({ action: 'webhooks.replay', by: req.operator!, id: id ?? '*', queued: String(r.queued), at: new Date(clock.now()).toISOString() });
      return r;
    });
    return reply.status(303).header('location', `/desk/dead-letters?done=replay&n=${r.queued}`).send();
  });

  app.get<{ Querystring: { done?: string; channel?: string; cursor?: string } }>('/desk/global', async (req, reply) => {
    const ctx = await ctxOf(req, 'global');
    const channel: Channel = req.query.channel === 'sms' ? 'sms' : 'email';
    const p = await store.listSuppressions(null, channel, /^[0-9]{1,20}$/.test(req.query.cursor ?? '') ? req.query.cursor! : '0', 100);
    const body = html`<h1>${t('ops.global.title')}</h1><p>${t('ops.global.intro')}</p>
${doneBanner(req.query.done)}
<nav class="counts" aria-label="Channel"><ul><li><a href="/desk/global"${channel === 'email' ? html` aria-current="page"` : ''}>email</a></li><li><a href="/desk/global?channel=sms"${channel === 'sms' ? html` aria-current="page"` : ''}>sms</a></li></ul></nav>
<form method="post" action="/desk/global/add" class="filters">${csrfField(ctx.csrf)}<input type="hidden" name="channel" value="${channel}">
<div class="field"><label for="g-address">${t('ops.global.address')}</label><input type="text" id="g-address" name="address" maxlength="320" required spellcheck="false"></div>
<div class="field"><label for="g-reason">${t('ops.global.reason')}</label><input type="text" id="g-reason" name="reason" maxlength="64" value="spam-trap"></div>
<div class="field"><button>${t('ops.global.submit')}</button></div></form>
${
  p.items.length
    ? html`<div class="scroll"><table><thead><tr><th scope="col">${t('acct.sup.address')}</th><th scope="col">${t('acct.sup.reason')}</th><th scope="col">${t('acct.sup.source')}</th><th scope="col">${t('acct.sup.at')}</th><th scope="col">${t('acct.sup.remove')}</th></tr></thead><tbody>
${p.items.map((s, i) => html`<tr><td class="mono">${s.address}</td><td>${s.reason}</td><td>${s.source}${s.by ? ` (${s.by})` : ''}</td><td>${when(s.at)}</td><td><form method="post" action="/desk/global/remove" class="inline-form">${csrfField(ctx.csrf)}<input type="hidden" name="address" value="${s.address}"><input type="hidden" name="channel" value="${channel}"><label for="g-rm-${i}" class="visually-hidden">${t('acct.sup.removeReason')} ${s.address}</label><input type="text" id="g-rm-${i}" name="reason" placeholder="${t('acct.sup.removeReason')}" maxlength="2000"><button class="secondary small">${t('acct.sup.remove')}<span class="visually-hidden"> ${s.address}</span></button></form></td></tr>`)}
</tbody></table></div>`
    : html`<p class="muted">${t('acct.sup.none')}</p>`
}
${p.cursor !== '0' ? html`<p><a href="/desk/global?channel=${channel}&cursor=${p.cursor}">${t('acct.sup.more')}</a></p>` : ''}`;
    return sendHtml(reply, 200, page(ctx, t('ops.global.title'), body));
  });

  app.post<{ Body: Body }>('/desk/global/add', async (req, reply) => {
    const channel: Channel = req.body.channel === 'sms' ? 'sms' : 'email';
    const address = normaliseAddress((req.body.address ?? '').slice(0, 320), channel);
    const reason = (req.body.reason ?? '').trim().slice(0, 64) || 'manual';
    if (!address) return reply.status(303).header('location', `/desk/global?channel=${channel}`).send();
    if (req.body.confirm !== 'yes') {
      return sendHtml(reply, 200, confirmPage(await ctxOf(req, 'global'), { action: '/desk/global/add', message: t('confirm.globalAdd', { address }), fields: { address, channel, reason }, cancel: '/desk/global', warning: true }));
    }
    const rec: SuppressionRecord = { reason, source: 'admin', at: new Date(clock.now()).toISOString(), by: req.operator };
    await store.durably(() => store.addSuppressionManual(null, channel, address, rec, manualSuppressedEvent(null, channel, address, rec, clock.now())));
    return reply.status(303).header('location', `/desk/global?done=globalAdd&channel=${channel}`).send();
  });

  app.post<{ Body: Body }>('/desk/global/remove', async (req, reply) => {
    const channel: Channel = req.body.channel === 'sms' ? 'sms' : 'email';
    const address = normaliseAddress((req.body.address ?? '').slice(0, 320), channel);
    if (!address) return reply.status(303).header('location', '/desk/global').send();
    const reason = (req.body.reason ?? '').slice(0, 2000);
    if (req.body.confirm !== 'yes') {
      return sendHtml(reply, 200, confirmPage(await ctxOf(req, 'global'), { action: '/desk/global/remove', message: t('confirm.unsuppress', { address, account: t('ops.global.title') }), fields: { address, channel, reason }, cancel: '/desk/global', warning: true }));
    }
    const now = clock.now();
    await store.durably(() => store.removeSuppression(null, channel, address, unsuppressedEvent(null, channel, address, req.operator!, reason, now), req.operator!, reason, new Date(now).toISOString()));
    return reply.status(303).header('location', `/desk/global?done=unsuppress&channel=${channel}`).send();
  });

  app.get<{ Querystring: { done?: string; added?: string; exists?: string; invalid?: string } }>('/desk/import', async (req, reply) => {
    const ctx = await ctxOf(req, 'import');
    const q = req.query;
    const body = html`<h1>${t('import.title')}</h1>
${doneBanner(q.done, { added: Number(q.added) || 0, exists: Number(q.exists) || 0, invalid: Number(q.invalid) || 0 })}
<p>${t('import.intro')}</p>
<form method="post" action="/desk/import" enctype="multipart/form-data">${csrfField(ctx.csrf)}
<div class="field"><label for="i-account">${t('import.account')}</label><input type="text" id="i-account" name="account" class="short" required spellcheck="false"></div>
<div class="field"><label for="i-channel">${t('import.channel')}</label><select id="i-channel" name="channel" class="short"><option value="email">email</option><option value="sms">sms</option></select></div>
<div class="field"><label for="i-file">${t('import.file')}</label><input type="file" id="i-file" name="file" accept=".csv,text/csv" required></div>
<button>${t('import.submit')}</button></form>`;
    return sendHtml(reply, 200, page(ctx, t('import.title'), body));
  });

  app.post<{ Body: Body }>('/desk/import', async (req, reply) => {
    const account = req.body.account ?? '';
    if (!ACCOUNT.test(account)) return reply.status(303).header('location', '/desk/import').send();
    const channel: Channel = req.body.channel === 'sms' ? 'sms' : 'email';
    const parsed = parseImportCsv(req.body.file ?? '', channel, clock.now());
    const now = new Date(clock.now()).toISOString();
    const r = await store.durably(() => store.importSuppressions(account, channel, parsed.rows.map((row) => ({ address: row.address, rec: { reason: row.reason, source: 'import', at: row.at, by: req.operator, note: `imported ${now}` } })), req.operator!, now));
    return reply.status(303).header('location', `/desk/import?done=import&added=${r.added}&exists=${r.exists}&invalid=${parsed.invalid.length}`).send();
  });
}
