/**
 * The desk console under /desk: sign-in, the queue, a case, an account, operations pages.
 * Routes translate HTTP to the domain (Desk, Accounts, Store) and render with pages.ts.
 * Every route but the sign-in page needs a session; every POST needs the session's CSRF
 * token; every action goes to the audit trail with the operator's name.
 */
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Accounts } from '../../accounts.js';
import { type Channel, normaliseAddress } from '../../address.js';
import type { Clock } from '../../clock.js';
import type { Config } from '../../config/schema.js';
import { CASE_OUTCOMES, CASE_STATUSES, type CaseStatus, type Desk } from '../../desk.js';
import { event, unsuppressedEvent } from '../../effects.js';
import { GatewayError } from '../../errors.js';
import { csv } from '../../http/routes/suppressions.js';
import type { Logger } from '../../log.js';
import type { Operators } from '../../store/operators.js';
import type { Vetting, VettingResult } from '../../vetting/index.js';
import type { CaseRecord, Store, SuppressionRecord } from '../../store/store.js';
import { html, sendHtml } from '../html.js';
import { bounceRate, complaintRate, pct, rateChart } from './chart.js';
import { opsRoutes } from './ops.js';
import {
  accountTag,
  caseToken,
  confirmPage,
  consentBlock,
  decisionTag,
  csrfField,
  doneBanner,
  errorSummary,
  messagePage,
  outcomeTag,
  page,
  type PageContext,
  reportEvidence,
  signInPage,
  statusTag,
  shortWhen,
  t,
  when,
} from './pages.js';
import { clearCookie, COOKIE, DeskSessions, readCookie, safeNext, sessionCookie } from './session.js';

export interface DeskDeps {
  store: Store;
  desk: Desk;
  accounts: Accounts;
  operators: Operators;
  clock: Clock;
  config: Pick<Config, 'desk' | 'rates'>;
  log: Logger;
  /** Account vetting (src/vetting): its signals and history on the account page, re-run from there. */
  vetting?: Pick<Vetting, 'history' | 'rerun'>;
}

const CASE_ID = /^case_[0-9a-z]{26}$/;
const ACCOUNT = /^[A-Za-z0-9._-]{1,64}$/;
const DAYS = 30;
type Body = Record<string, string | undefined>;

const str = (v: unknown, max = 2000) => (typeof v === 'string' ? v.slice(0, max) : '');
const channelOf = (v: unknown): Channel => (v === 'sms' ? 'sms' : 'email');

/** Queue priority: suspicious signals first, then reporters, a verified token, a suspended account, open work. */
export function priority(c: CaseRecord, suspended: boolean): number {
  return c.suspicious.length * 200 + Math.min(c.reportCount, 50) * 3 + (caseToken(c) === 'valid' ? 20 : 0) + (suspended ? 15 : 0) + (c.status === 'investigating' ? 10 : 0);
}

export function deskRoutes(app: FastifyInstance, deps: DeskDeps): void {
  const { store, desk, accounts, operators, clock } = deps;
  const cfg = deps.config.desk;
  const sessions = new DeskSessions(operators, clock, cfg.sessionIdleMinutes * 60_000);

  const ctxOf = async (req: FastifyRequest, here?: PageContext['here']): Promise<PageContext> => ({
    operator: req.operator ?? null,
    csrf: await sessions.csrf('desk', req.deskSid ?? ''),
    here,
  });

  // --- sign-in (the only desk page without a session) ---

  const signIn = async (reply: FastifyReply, status: number, o: { next: string; name?: string; error?: string | null; notice?: string | null }) =>
    sendHtml(reply, status, signInPage({ csrf: await sessions.csrf('desk-sign-in', ''), next: o.next, name: o.name ?? '', error: o.error ?? null, notice: o.notice }));

  app.get<{ Querystring: { next?: string; out?: string } }>('/desk/sign-in', { schema: { hide: true } }, async (req, reply) =>
    signIn(reply, 200, { next: safeNext(req.query.next), notice: req.query.out === '1' ? t('signin.signedOut') : null }),
  );

  app.post<{ Body: Body }>('/desk/sign-in', { schema: { hide: true } }, async (req, reply) => {
    const b = req.body ?? {};
    const next = safeNext(b.next);
    const name = str(b.name, 64).trim();
    const password = str(b.password, 1024);
    if (!(await sessions.checkCsrf('desk-sign-in', b.csrf, ''))) return signIn(reply, 400, { next, name, error: t('signin.expired') });
    const now = clock.now();
    const limited =
      (cfg.signInPerMinute > 0 && (await store.hit('desk-sign-in-ip', req.ip, now)) > cfg.signInPerMinute) ||
      (cfg.signInPerNamePerMinute > 0 && name !== '' && (await store.hit('desk-sign-in-name', name.toLowerCase(), now)) > cfg.signInPerNamePerMinute);
    if (limited) {
      deps.log.warn({ code: 'DESK_SIGN_IN_LIMITED', ip: req.ip }, 'desk sign-in rate limited');
      return signIn(reply.header('retry-after', '60'), 429, { next, name, error: t('signin.limited') });
    }
    if (!name || !password) return signIn(reply, 400, { next, name, error: t('signin.missing') });
    if (!(await operators.verify(name, password))) {
      deps.log.info({ code: 'DESK_SIGN_IN_FAILED', ip: req.ip }, 'desk sign-in failed');
      return signIn(reply, 401, { next, name, error: t('signin.wrong') });
    }
    // A new session id at every sign-in; an old one in the browser is ended.
    const old = readCookie(req.headers.cookie, COOKIE);
    // Every desk write answers once it is on the replicas (Store.durably): a session ended,
    // a case changed or an account suspended is not undone by a failover.
    const sid = await store.durably(async () => {
      if (old) await operators.endSession(old);
      const sid = await operators.createSession(name, sessions.idleMs);
      await store.audit({ action: 'desk.sign-in', by: name, ip: req.ip, at: new Date(now).toISOString() });
      return sid;
    });
    return reply.status(303).header('set-cookie', sessionCookie(req, sid, cfg.sessionIdleMinutes * 60)).header('location', next).send();
  });

  app.register(async (desk_) => {
    desk_.addHook('preHandler', sessions.guard);
    // Every POST carries the session's CSRF token (SameSite=Strict is the first defence, this the second).
    desk_.addHook('preHandler', async (req, reply) => {
      if (req.method !== 'POST') return;
      const b = (req.body ?? {}) as Body;
      if (!(await sessions.checkCsrf('desk', b.csrf, req.deskSid ?? ''))) {
        return sendHtml(reply, 403, messagePage(await ctxOf(req), t('csrf.title'), t('csrf.body'), '/desk'));
      }
    });
    desk_.setErrorHandler(async (err: Error, req, reply) => {
      // Redis away, full, or a write not confirmed on a replica: try again later.
      const store = err instanceof GatewayError && err.statusCode === 503;
      deps.log.error({ code: 'DESK_ERROR', err: err.message }, 'desk page failed');
      const ctx: PageContext = { operator: req.operator ?? null, csrf: '' };
      return sendHtml(reply, store ? 503 : 500, messagePage(ctx, t('error.title'), store ? t('error.store') : t('error.title'), '/desk'));
    });

    desk_.post('/desk/sign-out', async (req, reply) => {
      if (req.deskSid) await store.durably(() => operators.endSession(req.deskSid!));
      return reply.status(303).header('set-cookie', clearCookie(req)).header('location', '/desk/sign-in?out=1').send();
    });

    registerQueue(desk_);
    registerCase(desk_);
    registerAccount(desk_);
    opsRoutes(desk_, { store, clock, ctxOf });

    // Unknown desk paths answer only after the session check (a stranger learns nothing).
    desk_.get('/desk/*', async (req, reply) => sendHtml(reply, 404, messagePage(await ctxOf(req), t('notfound.title'), t('notfound.title'), '/desk')));
  });

  // --- the queue ---

  function registerQueue(app: FastifyInstance): void {
    app.get<{ Querystring: Record<string, string | undefined> }>('/desk', async (req, reply) => {
      const q = req.query;
      const status = q.status === 'all' || CASE_STATUSES.includes(q.status as CaseStatus) ? (q.status as string) : 'active';
      const channel = ['email', 'sms', 'form'].includes(q.channel ?? '') ? (q.channel as string) : '';
      const account = ACCOUNT.test(q.account ?? '') ? (q.account as string) : '';
      const suspiciousOnly = q.suspicious === '1';
      const sort = q.sort === 'newest' ? 'newest' : 'priority';
      const search = str(q.q, 320).trim();
      const pageNo = Math.max(1, Math.min(10_000, Number.parseInt(q.page ?? '1', 10) || 1));

      if (CASE_ID.test(search) && (await store.getCase(search))) return reply.status(303).header('location', `/desk/cases/${search}`).send();

      const scanned = await scanCases(cfg.queueScanLimit);
      const matchesSearch = (c: CaseRecord) => {
        if (!search) return true;
        const s = search.toLowerCase();
        const email = normaliseAddress(search, 'email');
        const phone = normaliseAddress(search, 'sms');
        return (
          c.id === search ||
          c.account === search ||
          (c.recipient !== undefined && (c.recipient === email || c.recipient === phone)) ||
          (c.reporter ?? '').toLowerCase() === s ||
          c.reports.some((r) => r.recipient === email || r.recipient === phone || (phone !== null && (r.phones ?? []).includes(phone)) || (r.reporter ?? '').toLowerCase() === s)
        );
      };
      const base = scanned.filter((c) => (!channel || c.channel === channel) && (!account || c.account === account) && (!suspiciousOnly || c.suspicious.length > 0) && matchesSearch(c));
      const counts = Object.fromEntries(CASE_STATUSES.map((s) => [s, base.filter((c) => c.status === s).length]));
      let rows = base.filter((c) => (status === 'all' ? true : status === 'active' ? c.status === 'open' || c.status === 'investigating' : c.status === status));
      const suspended = await store.suspendedAccounts([...new Set(rows.map((c) => c.account).filter((a): a is string => !!a))]);
      if (sort === 'priority') {
        const score = new Map(rows.map((c) => [c.id, priority(c, !!c.account && suspended.has(c.account))]));
        rows = [...rows].sort((a, b) => score.get(b.id)! - score.get(a.id)! || (a.id < b.id ? 1 : -1));
      }
      const size = cfg.pageSize;
      const total = rows.length;
      const pageRows = rows.slice((pageNo - 1) * size, pageNo * size);
      const assignees = await operators.assignees(pageRows.map((c) => c.id));
      const ctx = await ctxOf(req, 'queue');
      const link = (over: Record<string, string | number>) => {
        const p = new URLSearchParams();
        const all: Record<string, string | number> = { status, channel, account, suspicious: suspiciousOnly ? '1' : '', sort, q: search, page: pageNo, ...over };
        for (const [k, v] of Object.entries(all)) if (v !== '' && !(k === 'page' && v === 1) && !(k === 'status' && v === 'active') && !(k === 'sort' && v === 'priority')) p.set(k, String(v));
        const s = p.toString();
        return '/desk' + (s ? '?' + s : '');
      };
      const opt = (value: string, current: string, label: string) => html`<option value="${value}"${value === current ? html` selected` : ''}>${label}</option>`;

      const body = html`<h1>${t('queue.title')}</h1>
<nav class="counts" aria-label="${t('queue.counts')}"><ul>
<li><a href="${link({ status: 'active', page: 1 })}"${status === 'active' ? html` aria-current="page"` : ''}>${t('queue.status.active')} <span class="count">${counts.open + counts.investigating}</span></a></li>
${CASE_STATUSES.map((s) => html`<li><a href="${link({ status: s, page: 1 })}"${status === s ? html` aria-current="page"` : ''}>${t('status.' + s)} <span class="count">${counts[s]}</span></a></li>`)}
<li><a href="${link({ status: 'all', page: 1 })}"${status === 'all' ? html` aria-current="page"` : ''}>${t('queue.status.all')} <span class="count">${base.length}</span></a></li>
</ul></nav>
<form method="get" action="/desk" class="filters" role="search" aria-label="${t('queue.filters')}">
<div class="field"><label for="q">${t('queue.search')} <span class="hint-inline">${t('queue.search.hint')}</span></label><input type="search" id="q" name="q" value="${search}"></div>
<div class="field"><label for="status">${t('queue.status')}</label><select id="status" name="status">${opt('active', status, t('queue.status.active'))}${CASE_STATUSES.map((s) => opt(s, status, t('status.' + s)))}${opt('all', status, t('queue.status.all'))}</select></div>
<div class="field"><label for="channel">${t('queue.channel')}</label><select id="channel" name="channel">${opt('', channel, t('queue.channel.all'))}${opt('email', channel, 'email')}${opt('sms', channel, 'sms')}${opt('form', channel, 'form')}</select></div>
<div class="field"><label for="account">${t('queue.account')}</label><input type="text" id="account" name="account" value="${account}" spellcheck="false"></div>
<div class="field"><label for="sort">${t('queue.sort')}</label><select id="sort" name="sort">${opt('priority', sort, t('queue.sort.priority'))}${opt('newest', sort, t('queue.sort.newest'))}</select></div>
<div class="field check"><input type="checkbox" id="suspicious" name="suspicious" value="1"${suspiciousOnly ? html` checked` : ''}><label for="suspicious">${t('queue.suspicious')}</label></div>
<div class="field"><button>${t('queue.apply')}</button></div>
</form>
${
  total === 0
    ? html`<p class="panel">${t('queue.none')}</p>`
    : html`<p class="muted">${t('queue.showing', { from: (pageNo - 1) * size + 1, to: Math.min(total, pageNo * size), total })}</p>
<div class="scroll"><table class="queue">
<thead><tr><th scope="col">${t('queue.col.case')}</th><th scope="col">${t('queue.col.status')}</th><th scope="col">${t('queue.col.channel')}</th><th scope="col">${t('queue.col.account')}</th><th scope="col" class="num">${t('queue.col.reports')}</th><th scope="col">${t('queue.col.signals')}</th><th scope="col">${t('queue.col.token')}</th><th scope="col">${t('queue.col.assignee')}</th><th scope="col">${t('queue.col.updated')}</th></tr></thead>
<tbody>${pageRows.map(
        (c) => html`<tr>
<td><a href="/desk/cases/${c.id}" class="mono">${c.id}</a></td>
<td>${statusTag(c.status)} ${outcomeTag(c.outcome)}</td>
<td>${c.channel}</td>
<td>${c.account ? html`<a href="/desk/accounts/${c.account}">${c.account}</a>${c.account && suspended.has(c.account) ? html` <span class="tag red">${t('account.status.suspended')}</span>` : ''}` : '–'}</td>
<td class="num">${c.reportCount}</td>
<td>${c.suspicious.length ? c.suspicious.map((s) => html`<span class="tag red">${s}</span> `) : '–'}</td>
<td>${caseToken(c)}</td>
<td>${assignees.get(c.id) ?? '–'}</td>
<td>${shortWhen(c.updatedAt)}</td>
</tr>`,
      )}</tbody></table></div>
<nav class="pager" aria-label="Pages">${pageNo > 1 ? html`<a href="${link({ page: pageNo - 1 })}" rel="prev">${t('queue.prev')}</a>` : ''}${pageNo * size < total ? html`<a href="${link({ page: pageNo + 1 })}" rel="next">${t('queue.next')}</a>` : ''}</nav>`
}
${scanned.length >= cfg.queueScanLimit ? html`<p class="muted">${t('queue.scanned', { n: cfg.queueScanLimit })}</p>` : ''}`;
      return sendHtml(reply, 200, page(ctx, t('queue.title'), body));
    });
  }

  async function scanCases(limit: number): Promise<CaseRecord[]> {
    const out: CaseRecord[] = [];
    let before: string | null = null;
    while (out.length < limit) {
      const batch = await store.listCases(before, Math.min(500, limit - out.length));
      if (batch.length === 0) break;
      out.push(...batch);
      before = batch[batch.length - 1].id;
    }
    return out;
  }

  // --- a case ---

  function registerCase(app: FastifyInstance): void {
    app.get<{ Params: { id: string }; Querystring: { done?: string; err?: string } }>('/desk/cases/:id', async (req, reply) => {
      const ctx = await ctxOf(req, 'queue');
      const id = req.params.id;
      const c = CASE_ID.test(id) ? await desk.get(id).catch((e: unknown) => (e instanceof GatewayError && e.code === 'NOT_FOUND' ? null : Promise.reject(e))) : null;
      if (!c) return sendHtml(reply, 404, messagePage(ctx, t('notfound.title'), t('notfound.case', { id }), '/desk'));
      const acct = c.account ? await accounts.get(c.account) : null;
      const [assignee] = [(await operators.assignees([c.id])).get(c.id)];
      const err = req.query.err;
      const errors =
        err === 'reason'
          ? [{ field: 'suspend-reason', text: t('action.reasonRequired') }]
          : err === 'note'
            ? [{ field: 'note', text: t('action.noteRequired') }]
            : err === 'outcome'
              ? [{ field: 'outcome-confirmed', text: t('action.outcomeRequired') }]
              : [];
      const opt = (s: string) => html`<option value="${s}"${s === c.status ? html` selected` : ''}>${t('status.' + s)}</option>`;

      const actions = html`<section class="actions" aria-labelledby="actions-h"><h2 id="actions-h">${t('case.actions')}</h2>
<h3>${t('case.actions.case')}</h3>
<form method="post" action="/desk/cases/${c.id}/assign" class="inline">${csrfField(ctx.csrf)}<button class="secondary">${t('action.assign')}</button></form>
<form method="post" action="/desk/cases/${c.id}/note">${csrfField(ctx.csrf)}
<div class="field${err === 'note' ? ' has-error' : ''}"><label for="note">${t('action.note.label')}</label>${err === 'note' ? html`<span class="error-message">${t('action.noteRequired')}</span>` : ''}<textarea id="note" name="note" rows="3" maxlength="10000"></textarea></div>
<button class="secondary">${t('action.note.submit')}</button></form>
<form method="post" action="/desk/cases/${c.id}/status">${csrfField(ctx.csrf)}
<div class="field"><label for="status">${t('action.status.label')}</label><select id="status" name="status">${CASE_STATUSES.map(opt)}</select></div>
<fieldset class="field${err === 'outcome' ? ' has-error' : ''}" aria-describedby="outcome-hint"><legend>${t('action.status.outcome')}</legend><span class="hint" id="outcome-hint">${t('action.status.outcome.hint')}</span>${err === 'outcome' ? html`<span class="error-message">${t('action.outcomeRequired')}</span>` : ''}
${CASE_OUTCOMES.map((o) => html`<div class="field check"><input type="radio" id="outcome-${o}" name="outcome" value="${o}"${c.outcome === o ? html` checked` : ''}><label for="outcome-${o}">${t('outcome.' + o)}</label></div>`)}</fieldset>
<div class="field"><label for="outcome-note">${t('action.status.note')}</label><span class="hint" id="outcome-note-hint">${t('action.status.note.hint')}</span><input type="text" id="outcome-note" name="note" maxlength="2000" aria-describedby="outcome-note-hint"></div>
<button class="secondary">${t('action.status.submit')}</button></form>
${c.account ? html`<h3>${t('case.actions.account', { account: c.account })}</h3>` : ''}
${
  c.account && acct
    ? acct.status === 'suspended'
      ? html`<form method="post" action="/desk/accounts/${c.account}/reinstate">${csrfField(ctx.csrf)}<input type="hidden" name="case" value="${c.id}">
<div class="field"><label for="reinstate-note">${t('action.reinstate.note')}</label><input type="text" id="reinstate-note" name="note" maxlength="2000"></div>
<button>${t('action.reinstate.submit')}</button></form>`
      : html`<form method="post" action="/desk/accounts/${c.account}/suspend">${csrfField(ctx.csrf)}<input type="hidden" name="case" value="${c.id}">
<div class="field${err === 'reason' ? ' has-error' : ''}"><label for="suspend-reason">${t('action.suspend.reason')}</label><span class="hint" id="reason-hint">${t('action.suspend.reason.hint')}</span>${err === 'reason' ? html`<span class="error-message">${t('action.reasonRequired')}</span>` : ''}<input type="text" id="suspend-reason" name="reason" maxlength="2000" aria-describedby="reason-hint"></div>
<button class="warning">${t('action.suspend.submit')}</button></form>`
    : ''
}
${c.account && c.recipient ? html`<form method="post" action="/desk/cases/${c.id}/suppress">${csrfField(ctx.csrf)}<p>${t('action.suppress', { address: c.recipient })}</p><button class="secondary">${t('action.suppress.submit')}</button></form>` : ''}
</section>`;

      const accountBox = acct
        ? html`<section class="panel" aria-labelledby="acct-h"><h2 id="acct-h">${t('case.account')}: <a href="/desk/accounts/${acct.account}">${acct.account}</a></h2>
<dl class="kv"><dt>${t('acct.status')}</dt><dd>${accountTag(acct.status)}</dd><dt>${t('acct.pool')}</dt><dd>${acct.pool}</dd>
${acct.suspendedAt ? html`<dt>${t('acct.suspendedAt')}</dt><dd>${when(acct.suspendedAt)} (${acct.suspendReason ?? ''})</dd>` : ''}
<dt>${t('acct.warnings')}</dt><dd>${acct.warnings.length}</dd>
</dl>
<table class="compact"><thead><tr><th scope="col">${t('acct.window')}</th><th scope="col" class="num">${t('acct.sent')}</th><th scope="col" class="num">${t('acct.complaintRate')}</th><th scope="col" class="num">${t('acct.bounceRate')}</th></tr></thead>
<tbody>${acct.windows.map((w) => html`<tr><th scope="row">${w.window}</th><td class="num">${w.sent}</td><td class="num">${pct(w.complaintRate)}</td><td class="num">${pct(w.bounceRate)}</td></tr>`)}</tbody></table></section>`
        : html`<section class="panel"><h2>${t('case.account')}</h2><p>${t('case.noAccount')}</p></section>`;

      const body = html`<p class="crumbs"><a href="/desk">${t('nav.queue')}</a></p>
<h1>${t('case.title', { id: c.id })} ${statusTag(c.status)} ${outcomeTag(c.outcome)}</h1>
${doneBanner(req.query.done)}
${errorSummary(errors)}
<div class="grid2">
<div>
<dl class="kv summary">
<dt>${t('case.channel')}</dt><dd>${c.channel}</dd>
<dt>${t('case.opened')}</dt><dd>${when(c.createdAt)}</dd>
<dt>${t('case.updated')}</dt><dd>${when(c.updatedAt)}</dd>
<dt>${t('case.campaign')}</dt><dd>${c.campaign ?? '–'}</dd>
<dt>${t('case.recipient')}</dt><dd>${c.recipient ?? '–'}</dd>
<dt>${t('case.assignee')}</dt><dd>${assignee ?? t('case.nobody')}</dd>
<dt>${t('case.signals')}</dt><dd>${c.suspicious.length ? c.suspicious.map((s) => html`<span class="tag red">${s}</span> `) : '–'}</dd>
</dl>
<h2>${t('case.reports', { n: c.reportCount })}</h2>
${c.reports.map((r, i) => reportEvidence(r, i))}
<h2>${t('case.consent')}</h2>
${consentBlock(c.consent)}
<h2>${t('case.notes')}</h2>
${
  c.notes.length + c.history.length
    ? html`<ol class="timeline">${[
        ...c.notes.map((n) => ({ at: n.at, line: html`<strong>${n.by}</strong>: ${n.text}` })),
        ...c.history.map((h) => ({ at: h.at, line: html`<strong>${h.by}</strong>: ${h.from} → ${h.to}` })),
      ]
        .sort((a, b) => (a.at < b.at ? -1 : 1))
        .map((e) => html`<li><span class="muted">${when(e.at)}</span> ${e.line}</li>`)}</ol>`
    : html`<p class="muted">${t('case.notes.none')}</p>`
}
</div>
<div>${accountBox}${actions}</div>
</div>`;
      return sendHtml(reply, 200, page(ctx, t('case.title', { id: c.id }), body));
    });

    const withCase = async (req: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply): Promise<CaseRecord | null> => {
      const c = CASE_ID.test(req.params.id) ? await store.getCase(req.params.id) : null;
      if (!c) sendHtml(reply, 404, messagePage(await ctxOf(req), t('notfound.title'), t('notfound.case', { id: req.params.id }), '/desk'));
      return c;
    };
    const back = (reply: FastifyReply, url: string) => reply.status(303).header('location', url).send();

    app.post<{ Params: { id: string }; Body: Body }>('/desk/cases/:id/note', async (req, reply) => {
      const c = await withCase(req, reply);
      if (!c) return reply;
      const note = str(req.body.note, 10_000).trim();
      if (!note) return back(reply, `/desk/cases/${c.id}?err=note#note`);
      await store.durably(() => desk.update(c.id, { note }, req.operator!));
      return back(reply, `/desk/cases/${c.id}?done=note`);
    });

    app.post<{ Params: { id: string }; Body: Body }>('/desk/cases/:id/assign', async (req, reply) => {
      const c = await withCase(req, reply);
      if (!c) return reply;
      await store.durably(async () => {
        await operators.assign(c.id, req.operator!);
        await desk.update(c.id, { note: `assigned to ${req.operator}` }, req.operator!);
      });
      return back(reply, `/desk/cases/${c.id}?done=assign`);
    });

    app.post<{ Params: { id: string }; Body: Body }>('/desk/cases/:id/status', async (req, reply) => {
      const c = await withCase(req, reply);
      if (!c) return reply;
      const status = CASE_STATUSES.includes(req.body.status as CaseStatus) ? (req.body.status as CaseStatus) : null;
      if (!status) return back(reply, `/desk/cases/${c.id}`);
      // Resolving says what was found; the other statuses have no outcome.
      const outcome = status === 'resolved' ? CASE_OUTCOMES.find((o) => o === req.body.outcome) : undefined;
      if (status === 'resolved' && !outcome) return back(reply, `/desk/cases/${c.id}?err=outcome#outcome-confirmed`);
      const note = str(req.body.note, 2000).trim();
      if (req.body.confirm !== 'yes') {
        const message = outcome ? t('confirm.resolve', { id: c.id, outcome: t('outcome.' + outcome) }) : t('confirm.status', { id: c.id, status: t('status.' + status) });
        return sendHtml(reply, 200, confirmPage(await ctxOf(req), { action: `/desk/cases/${c.id}/status`, message, fields: { status, outcome: outcome ?? '', note }, cancel: `/desk/cases/${c.id}`, warning: false }));
      }
      await store.durably(() => desk.update(c.id, { status, ...(outcome ? { outcome } : {}), ...(note ? { note: `${outcome ?? status}: ${note}` } : {}) }, req.operator!));
      return back(reply, `/desk/cases/${c.id}?done=status`);
    });

    app.post<{ Params: { id: string }; Body: Body }>('/desk/cases/:id/suppress', async (req, reply) => {
      const c = await withCase(req, reply);
      if (!c) return reply;
      if (!c.account || !c.recipient) return back(reply, `/desk/cases/${c.id}`);
      const channel: Channel = c.channel === 'sms' ? 'sms' : 'email';
      if (req.body.confirm !== 'yes') {
        return sendHtml(reply, 200, confirmPage(await ctxOf(req), { action: `/desk/cases/${c.id}/suppress`, message: t('confirm.suppress', { address: c.recipient, account: c.account }), fields: {}, cancel: `/desk/cases/${c.id}`, warning: true }));
      }
      const now = clock.now();
      const rec: SuppressionRecord = { reason: 'complaint', source: 'desk', at: new Date(now).toISOString(), by: req.operator, note: `case ${c.id}` };
      await store.durably(() => store.addSuppressionManual(c.account!, channel, c.recipient!, rec, event('recipient.suppressed', now, { account: c.account, channel, address: c.recipient, ...rec })));
      return back(reply, `/desk/cases/${c.id}?done=suppress`);
    });
  }

  // --- an account ---

  function registerAccount(app: FastifyInstance): void {
    const accountBack = (b: Body, account: string) => (CASE_ID.test(b.case ?? '') ? `/desk/cases/${b.case}` : `/desk/accounts/${account}`);

    app.post<{ Params: { account: string }; Body: Body }>('/desk/accounts/:account/suspend', async (req, reply) => {
      const account = req.params.account;
      if (!ACCOUNT.test(account)) return reply.status(303).header('location', '/desk').send();
      const to = accountBack(req.body, account);
      const reason = str(req.body.reason, 2000).trim();
      if (!reason) return reply.status(303).header('location', `${to}?err=reason#suspend-reason`).send();
      if (req.body.confirm !== 'yes') {
        return sendHtml(reply, 200, confirmPage(await ctxOf(req), { action: `/desk/accounts/${account}/suspend`, message: t('confirm.suspend', { account }), fields: { reason, case: req.body.case ?? '' }, cancel: to, warning: true }));
      }
      const done = await store.durably(async () => {
        const done = await accounts.suspend(account, reason, req.operator!);
        if (CASE_ID.test(req.body.case ?? '')) await desk.update(req.body.case!, { note: `suspended ${account}: ${reason}` }, req.operator!).catch(() => undefined);
        return done;
      });
      return reply.status(303).header('location', `${to}?done=${done ? 'suspend' : 'alreadySuspended'}`).send();
    });

    app.post<{ Params: { account: string }; Body: Body }>('/desk/accounts/:account/reinstate', async (req, reply) => {
      const account = req.params.account;
      if (!ACCOUNT.test(account)) return reply.status(303).header('location', '/desk').send();
      const to = accountBack(req.body, account);
      const note = str(req.body.note, 2000).trim();
      if (req.body.confirm !== 'yes') {
        return sendHtml(reply, 200, confirmPage(await ctxOf(req), { action: `/desk/accounts/${account}/reinstate`, message: t('confirm.reinstate', { account }), fields: { note, case: req.body.case ?? '' }, cancel: to, warning: false }));
      }
      const done = await store.durably(async () => {
        try {
          await accounts.reinstate(account, note || null, req.operator!);
        } catch (e) {
          if (e instanceof GatewayError && e.code === 'NOT_SUSPENDED') return false;
          throw e;
        }
        if (CASE_ID.test(req.body.case ?? '')) await desk.update(req.body.case!, { note: `reinstated ${account}${note ? `: ${note}` : ''}` }, req.operator!).catch(() => undefined);
        return true;
      });
      if (!done) return reply.status(303).header('location', `${to}?done=notSuspended`).send();
      return reply.status(303).header('location', `${to}?done=reinstate`).send();
    });

    app.post<{ Params: { account: string }; Body: Body }>('/desk/accounts/:account/vetting', async (req, reply) => {
      const account = req.params.account;
      if (!ACCOUNT.test(account) || !deps.vetting) return reply.status(303).header('location', '/desk').send();
      // Re-scored with the last input: the history signals change as the account sends.
      await store.durably(() => deps.vetting!.rerun(account, req.operator!));
      return reply.status(303).header('location', `/desk/accounts/${account}#vetting`).send();
    });

    app.post<{ Params: { account: string }; Body: Body }>('/desk/accounts/:account/suppressions/remove', async (req, reply) => {
      const account = req.params.account;
      const channel = channelOf(req.body.channel);
      const address = normaliseAddress(str(req.body.address, 320), channel);
      if (!ACCOUNT.test(account) || !address) return reply.status(303).header('location', `/desk/accounts/${ACCOUNT.test(account) ? account : ''}`).send();
      const reason = str(req.body.reason, 2000).trim();
      if (req.body.confirm !== 'yes') {
        return sendHtml(reply, 200, confirmPage(await ctxOf(req), { action: `/desk/accounts/${account}/suppressions/remove`, message: t('confirm.unsuppress', { address, account }), fields: { address, channel, reason }, cancel: `/desk/accounts/${account}`, warning: true }));
      }
      const now = clock.now();
      await store.durably(() => store.removeSuppression(account, channel, address, unsuppressedEvent(account, channel, address, req.operator!, reason, now), req.operator!, reason, new Date(now).toISOString()));
      return reply.status(303).header('location', `/desk/accounts/${account}?done=unsuppress&channel=${channel}#suppressions`).send();
    });

    app.get<{ Params: { account: string }; Querystring: { channel?: string } }>('/desk/accounts/:account/suppressions.csv', async (req, reply) => {
      const account = req.params.account;
      if (!ACCOUNT.test(account)) return reply.status(404).send();
      const channel = channelOf(req.query.channel);
      reply.header('content-type', 'text/csv; charset=utf-8').header('cache-control', 'no-store').header('content-disposition', `attachment; filename="suppressions-${account}-${channel}.csv"`);
      await store.durably(() => store.audit({ action: 'suppression.export', account, channel, by: req.operator!, at: new Date(clock.now()).toISOString() }));
      async function* rows() {
        yield 'address,reason,source,at,campaign,report_id\r\n';
        let cursor = '0';
        do {
          const p = await store.listSuppressions(account, channel, cursor, 1000);
          cursor = p.cursor;
          yield p.items.map((s) => [s.address, s.reason, s.source, s.at, s.campaign ?? '', s.reportId ?? ''].map(csv).join(',') + '\r\n').join('');
        } while (cursor !== '0');
      }
      return reply.send(Readable.from(rows()));
    });

    app.get<{ Params: { account: string }; Querystring: { done?: string; err?: string; channel?: string; q?: string; cursor?: string } }>('/desk/accounts/:account', async (req, reply) => {
      const ctx = await ctxOf(req);
      const account = req.params.account;
      if (!ACCOUNT.test(account)) return sendHtml(reply, 404, messagePage(ctx, t('notfound.title'), t('notfound.title'), '/desk'));
      const now = clock.now();
      const [a, days, cases, vetted, preflights] = await Promise.all([
        accounts.get(account),
        store.dailyFigures(account, 'email', now, DAYS),
        desk.list({ account, limit: 20 }),
        deps.vetting ? deps.vetting.history(account) : Promise.resolve([] as VettingResult[]),
        store.recentPreflights(account),
      ]);
      const th = a.thresholds;
      const channel = channelOf(req.query.channel);
      const search = str(req.query.q, 320).trim();
      let found: Array<{ address: string } & SuppressionRecord> = [];
      let next: string | null = null;
      let notFound = false;
      if (search) {
        const addr = normaliseAddress(search, channel);
        const rec = addr ? await store.getSuppression(account, channel, addr) : null;
        if (rec && addr) found = [{ address: addr, ...rec }];
        else notFound = true;
      } else {
        const p = await store.listSuppressions(account, channel, /^[0-9]{1,20}$/.test(req.query.cursor ?? '') ? req.query.cursor! : '0', cfg.pageSize);
        found = p.items;
        next = p.cursor === '0' ? null : p.cursor;
      }
      const chart = rateChart(
        days,
        { complaintWarn: th.complaint.warn, complaintSuspend: th.complaint.suspend, bounceWarn: th.bounce.warn, bounceSuspend: th.bounce.suspend },
        {
          title: t('acct.chart.title', { account, days: DAYS }),
          desc: t('acct.chart.desc'),
          complaintRate: t('acct.complaintRate'),
          bounceRate: t('acct.bounceRate'),
          sent: t('acct.sent'),
          warn: t('acct.chart.warnLine'),
          suspend: t('acct.chart.suspendLine'),
        },
      );
      const body = html`<p class="crumbs"><a href="/desk">${t('nav.queue')}</a></p>
<h1>${t('acct.title', { account })} ${accountTag(a.status)}</h1>
${doneBanner(req.query.done)}
${errorSummary(req.query.err === 'reason' ? [{ field: 'suspend-reason', text: t('action.reasonRequired') }] : [])}
<div class="grid2">
<div>
<dl class="kv summary">
<dt>${t('acct.pool')}</dt><dd>${a.pool}</dd>
<dt>${t('acct.created')}</dt><dd>${when(a.createdAt)}</dd>
${a.suspendedAt ? html`<dt>${t('acct.suspendedAt')}</dt><dd>${when(a.suspendedAt)}</dd><dt>${t('acct.suspendReason')}</dt><dd>${a.suspendReason ?? '–'}</dd>` : ''}
<dt>${t('acct.warnings')}</dt><dd>${a.warnings.length ? a.warnings.map(when).join(', ') : '0'}</dd>
</dl>
<h2>${t('acct.windows')}</h2>
<div class="scroll"><table><thead><tr><th scope="col">${t('acct.window')}</th><th scope="col" class="num">${t('acct.sent')}</th><th scope="col" class="num">${t('acct.complaints')}</th><th scope="col" class="num">${t('acct.complaintRate')}</th><th scope="col" class="num">${t('acct.unverified')}</th><th scope="col" class="num">${t('acct.hardBounces')}</th><th scope="col" class="num">${t('acct.bounceRate')}</th></tr></thead>
<tbody>${a.windows.map((w) => html`<tr><th scope="row">${w.window}</th><td class="num">${w.sent}</td><td class="num">${w.complaints}</td><td class="num">${pct(w.complaintRate)}</td><td class="num">${w.unverifiedComplaints}</td><td class="num">${w.hardBounces}</td><td class="num">${pct(w.bounceRate)}</td></tr>`)}</tbody></table></div>
<p class="muted">${t('acct.thresholds', { cw: pct(th.complaint.warn), cs: pct(th.complaint.suspend), bw: pct(th.bounce.warn), bs: pct(th.bounce.suspend), min: th.minVolume })}</p>
</div>
<div>
<section class="actions" aria-label="${t('case.actions')}"><h2>${t('case.actions')}</h2>
${
  a.status === 'suspended'
    ? html`<form method="post" action="/desk/accounts/${account}/reinstate">${csrfField(ctx.csrf)}<div class="field"><label for="reinstate-note">${t('action.reinstate.note')}</label><input type="text" id="reinstate-note" name="note" maxlength="2000"></div><button>${t('action.reinstate.submit')}</button></form>`
    : html`<form method="post" action="/desk/accounts/${account}/suspend">${csrfField(ctx.csrf)}<div class="field${req.query.err === 'reason' ? ' has-error' : ''}"><label for="suspend-reason">${t('action.suspend.reason')}</label><span class="hint" id="reason-hint">${t('action.suspend.reason.hint')}</span><input type="text" id="suspend-reason" name="reason" maxlength="2000" aria-describedby="reason-hint"></div><button class="warning">${t('action.suspend.submit')}</button></form>`
}
</section>
<h2 id="vetting">${t('acct.vetting')}</h2>
${
  vetted.length
    ? html`<p>${t('acct.vetting.latest', { score: vetted[0].score, decision: vetted[0].decision, at: when(vetted[0].at), by: vetted[0].by })}</p>
<div class="scroll"><table><caption class="visually-hidden">${t('acct.vetting')}</caption><thead><tr><th scope="col">${t('acct.vetting.signal')}</th><th scope="col">${t('acct.vetting.what')}</th><th scope="col">${t('acct.vetting.source')}</th><th scope="col" class="num">${t('acct.vetting.points')}</th></tr></thead>
<tbody>${vetted[0].signals.map((g) => html`<tr><td class="mono">${g.code}</td><td>${g.message}</td><td>${g.source}</td><td class="num">${g.weight}</td></tr>`)}</tbody></table></div>
${vetted.length > 1 ? html`<details><summary>${t('acct.vetting.history', { n: vetted.length })}</summary><ul class="plain">${vetted.map((v) => html`<li>${when(v.at)}: ${v.decision} (${v.score})${v.reviewed ? ` — ${v.by}` : ''}</li>`)}</ul></details>` : ''}
${deps.vetting ? html`<form method="post" action="/desk/accounts/${account}/vetting">${csrfField(ctx.csrf)}<button class="secondary">${t('acct.vetting.rerun')}</button></form>` : ''}`
    : html`<p class="muted">${t('acct.vetting.none')}</p>`
}
<h2>${t('acct.cases')}</h2>
${cases.items.length ? html`<ul class="plain">${cases.items.map((c) => html`<li><a href="/desk/cases/${c.id}" class="mono">${c.id}</a> ${statusTag(c.status)} ${outcomeTag(c.outcome)} <span class="muted">${when(c.createdAt)}</span></li>`)}</ul>` : html`<p class="muted">${t('queue.none')}</p>`}
</div>
</div>
<h2>${t('acct.chart', { days: DAYS })}</h2>
<div class="chart-wrap">${chart}</div>
<details><summary>${t('acct.chart.table')}</summary><div class="scroll"><table>
<caption class="visually-hidden">${t('acct.chart.title', { account, days: DAYS })}</caption>
<thead><tr><th scope="col">${t('acct.chart.day')}</th><th scope="col" class="num">${t('acct.sent')}</th><th scope="col" class="num">${t('acct.complaints')}</th><th scope="col" class="num">${t('acct.complaintRate')}</th><th scope="col" class="num">${t('acct.hardBounces')}</th><th scope="col" class="num">${t('acct.bounceRate')}</th></tr></thead>
<tbody>${days.map(
        (d) =>
          html`<tr><th scope="row">${d.day}</th><td class="num">${d.sent}</td><td class="num">${d.complaints}</td><td class="num">${pct(complaintRate(d))}</td><td class="num">${d.hardBounces}</td><td class="num">${pct(bounceRate(d))}</td></tr>`,
      )}</tbody></table></div></details>
<h2 id="preflights">${t('acct.preflights')}</h2>
${
  preflights.length
    ? html`<div class="scroll"><table class="preflights"><caption class="visually-hidden">${t('acct.preflights')}</caption>
<thead><tr><th scope="col">${t('acct.pf.at')}</th><th scope="col">${t('acct.pf.campaign')}</th><th scope="col">${t('acct.pf.decision')}</th><th scope="col" class="num">${t('acct.pf.score')}</th><th scope="col" class="num">${t('acct.pf.size')}</th><th scope="col">${t('acct.pf.reasons')}</th></tr></thead>
<tbody>${preflights.map(
        (p) => html`<tr><td>${shortWhen(p.at)}</td><td class="mono">${p.campaign}</td><td>${decisionTag(p.decision)}</td><td class="num">${p.score}</td><td class="num">${p.size}</td>
<td>${p.reasons.length ? html`<ul class="plain">${p.reasons.map((r) => html`<li><span class="mono">${r.code}</span> (${r.severity}): ${r.message}</li>`)}</ul>` : '–'}</td></tr>`,
      )}</tbody></table></div>`
    : html`<p class="muted">${t('acct.pf.none')}</p>`
}
<h2 id="suppressions">${t('acct.suppressions')}</h2>
<form method="get" action="/desk/accounts/${account}#suppressions" class="filters" role="search" aria-label="${t('acct.suppressions')}">
<div class="field"><label for="sup-q">${t('acct.sup.search')}</label><input type="search" id="sup-q" name="q" value="${search}"></div>
<div class="field"><label for="sup-channel">${t('acct.sup.channel')}</label><select id="sup-channel" name="channel"><option value="email"${channel === 'email' ? html` selected` : ''}>email</option><option value="sms"${channel === 'sms' ? html` selected` : ''}>sms</option></select></div>
<div class="field"><button class="secondary">${t('acct.sup.find')}</button></div>
</form>
<p><a href="/desk/accounts/${account}/suppressions.csv?channel=${channel}" download>${t('acct.sup.csv')}</a></p>
${notFound ? html`<p class="panel">${t('acct.sup.notFound', { address: search })}</p>` : ''}
${
  found.length
    ? html`<div class="scroll"><table><thead><tr><th scope="col">${t('acct.sup.address')}</th><th scope="col">${t('acct.sup.reason')}</th><th scope="col">${t('acct.sup.source')}</th><th scope="col">${t('acct.sup.at')}</th><th scope="col">${t('acct.sup.remove')}</th></tr></thead><tbody>
${found.map(
  (s, i) => html`<tr><td class="mono">${s.address}</td><td>${s.reason}</td><td>${s.source}${s.by ? ` (${s.by})` : ''}</td><td>${when(s.at)}</td><td>
<form method="post" action="/desk/accounts/${account}/suppressions/remove" class="inline-form">${csrfField(ctx.csrf)}<input type="hidden" name="address" value="${s.address}"><input type="hidden" name="channel" value="${channel}">
<label for="rm-${i}" class="visually-hidden">${t('acct.sup.removeReason')} ${s.address}</label><input type="text" id="rm-${i}" name="reason" placeholder="${t('acct.sup.removeReason')}" maxlength="2000">
<button class="secondary small">${t('acct.sup.remove')}<span class="visually-hidden"> ${s.address}</span></button></form></td></tr>`,
)}</tbody></table></div>`
    : notFound
      ? ''
      : html`<p class="muted">${t('acct.sup.none')}</p>`
}
${next ? html`<p><a href="/desk/accounts/${account}?channel=${channel}&cursor=${next}#suppressions">${t('acct.sup.more')}</a></p>` : ''}`;
      return sendHtml(reply, 200, page(ctx, t('acct.title', { account }), body));
    });
  }
}
