/**
 * The desk console's page parts: pure functions of data to escaped HTML. Everything a
 * reporter, recipient or customer sent goes through `html`'s escaping; nothing here uses
 * `trusted()`.
 */
import type { CaseRecord, CaseReport } from '../../store/store.js';
import { loadCatalogue } from '../i18n.js';
import { html, layout, type SafeHtml } from '../html.js';

const cat = loadCatalogue('desk');
/** The desk is English for now; the strings are in src/web/i18n/desk/en.json for translators. */
export const LANG = 'en';
export const t = (key: string, vars?: Record<string, string | number>) => cat.t(LANG, key, vars);

export interface PageContext {
  operator: string | null;
  csrf: string;
  /** Which nav entry is current. */
  here?: 'queue' | 'quarantine' | 'dead' | 'global' | 'import';
}

export function nav(ctx: PageContext): SafeHtml {
  const item = (key: PageContext['here'], href: string, label: string) =>
    html`<li><a href="${href}"${ctx.here === key ? html` aria-current="page"` : ''}>${label}</a></li>`;
  return html`<nav class="desk-nav" aria-label="${t('nav.label')}"><ul>
${item('queue', '/desk', t('nav.queue'))}${item('quarantine', '/desk/quarantine', t('nav.quarantine'))}${item('dead', '/desk/dead-letters', t('nav.dead'))}${item('global', '/desk/global', t('nav.global'))}${item('import', '/desk/import', t('nav.import'))}
</ul>
<form method="post" action="/desk/sign-out" class="inline"><input type="hidden" name="csrf" value="${ctx.csrf}"><button class="secondary small">${t('nav.signOut')}</button></form>
</nav>`;
}

export function page(ctx: PageContext, title: string, body: SafeHtml): SafeHtml {
  return layout({
    lang: LANG,
    title: `${title} – ${t('brand')}`,
    bodyClass: 'desk',
    operatorName: ctx.operator ? `${t('brand')} · ${ctx.operator}` : t('brand'),
    body: ctx.operator ? html`${nav(ctx)}${body}` : body,
  });
}

export const csrfField = (csrf: string) => html`<input type="hidden" name="csrf" value="${csrf}">`;

export function doneBanner(done: string | undefined, vars: Record<string, string | number> = {}): SafeHtml {
  const known = ['note', 'assign', 'status', 'suspend', 'reinstate', 'suppress', 'unsuppress', 'notSuspended', 'alreadySuspended', 'replay', 'globalAdd', 'import'];
  if (!done || !known.includes(done)) return html``;
  return html`<div class="notice" role="status">${t('done.' + done, vars)}</div>`;
}

export function errorSummary(errors: Array<{ field: string; text: string }>): SafeHtml {
  if (errors.length === 0) return html``;
  return html`<div class="error-summary" role="alert" tabindex="-1"><h2>${t('signin.problem')}</h2><ul>${errors.map((e) => html`<li><a href="#${e.field}">${e.text}</a></li>`)}</ul></div>`;
}

export function signInPage(o: { csrf: string; next: string; name: string; error: string | null; notice?: string | null }): SafeHtml {
  const err = o.error;
  return page(
    { operator: null, csrf: o.csrf },
    t('signin.title'),
    html`<div class="narrow">
<h1>${t('signin.title')}</h1>
${o.notice ? html`<div class="notice" role="status">${o.notice}</div>` : ''}
${err ? errorSummary([{ field: 'name', text: err }]) : ''}
<form method="post" action="/desk/sign-in" novalidate>
${csrfField(o.csrf)}<input type="hidden" name="next" value="${o.next}">
<div class="field${err ? ' has-error' : ''}"><label for="name">${t('signin.name')}</label>${err ? html`<span class="error-message">${err}</span>` : ''}<input type="text" id="name" name="name" class="short" autocomplete="username" autocapitalize="none" spellcheck="false" value="${o.name}" required></div>
<div class="field${err ? ' has-error' : ''}"><label for="password">${t('signin.password')}</label><input type="password" id="password" name="password" class="short" autocomplete="current-password" required></div>
<button>${t('signin.submit')}</button>
</form></div>`,
  );
}

export const statusTag = (s: string) => html`<span class="tag ${s === 'investigating' ? 'red' : s === 'open' ? '' : 'grey'}">${t('status.' + s)}</span>`;
/** A preflight decision: send, review, block. */
export const decisionTag = (d: string) => html`<span class="tag ${d === 'block' ? 'red' : d === 'review' ? 'amber' : 'green'}">${d}</span>`;
/** A resolved case's outcome; nothing for the other statuses. */
export const outcomeTag = (o: string | undefined) => (o ? html`<span class="tag ${o === 'confirmed' ? 'red' : 'grey'}">${t('outcome.' + o)}</span>` : html``);
export const accountTag = (s: string) => html`<span class="tag ${s === 'suspended' ? 'red' : s === 'warned' ? 'amber' : 'green'}">${t('account.status.' + s)}</span>`;

/** Month, day and time (UTC), for dense tables. */
export const shortWhen = (iso: string | null | undefined) => (iso ? iso.slice(5, 16).replace('T', ' ') : '–');

export const when = (iso: string | null | undefined) => (iso ? iso.replace('T', ' ').slice(0, 16) + ' UTC' : '–');

/** The token state of a case: valid when any of its reports carried a valid token. */
export function caseToken(c: CaseRecord): string {
  const states = new Set(c.reports.map((r) => r.tokenState));
  return states.has('valid') ? 'valid' : states.has('forged') ? 'forged' : 'missing';
}

const HEADER_LABELS: Array<[keyof NonNullable<CaseReport['headers']> | string, string]> = [
  ['from', 'case.from'],
  ['subject', 'case.subject'],
  ['date', 'case.date'],
  ['messageId', 'case.messageId'],
  ['returnPath', 'case.returnPath'],
];

/** One report's evidence. Every value is reporter-controlled text: escaped, and long lines wrap. */
export function reportEvidence(r: CaseReport, n: number): SafeHtml {
  const h = r.headers ?? {};
  const rows: Array<[string, SafeHtml | string]> = [
    [t('case.received'), when(r.at)],
    [t('case.channel'), r.channel],
    [t('case.reporter'), r.reporter ?? '–'],
    [t('case.token'), html`<span class="tag ${r.tokenState === 'valid' ? 'green' : r.tokenState === 'forged' ? 'red' : 'grey'}">${r.tokenState}</span>`],
    ...HEADER_LABELS.filter(([k]) => h[k]).map(([k, label]): [string, string] => [t(label), h[k]]),
    ...(r.recipient ? [[t('case.recipient'), r.recipient] as [string, string]] : []),
    ...(r.phones?.length ? [[t('case.phones'), r.phones.join(', ')] as [string, string]] : []),
    [t('case.links'), r.linkDomains?.length ? html`<ul class="plain mono">${r.linkDomains.map((d) => html`<li>${d}</li>`)}</ul>` : html`<span class="muted">${t('case.none')}</span>`],
  ];
  const files = r.attachments ?? [];
  return html`<section class="report" aria-labelledby="r${n}">
<h3 id="r${n}">${t('case.report', { id: r.reportId })}</h3>
<dl class="kv">${rows.map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}</dl>
<h4>${t('case.attachments')}</h4>
${
  files.length
    ? html`<div class="scroll"><table class="compact attachments"><caption class="visually-hidden">${t('case.attachments')}: ${t('case.report', { id: r.reportId })}</caption>
<thead><tr><th scope="col">${t('case.att.name')}</th><th scope="col">${t('case.att.type')}</th><th scope="col" class="num">${t('case.att.size')}</th><th scope="col">SHA-256</th></tr></thead>
<tbody>${files.map((f) => html`<tr><td>${f.name ?? '–'}</td><td class="mono">${f.type}</td><td class="num">${bytes(f.size)}</td><td class="mono hash">${f.sha256}</td></tr>`)}</tbody></table></div>`
    : html`<p class="muted">${t('case.none')}</p>`
}
${r.description ? html`<h4>${t('case.description')}</h4><pre class="evidence">${r.description}</pre>` : ''}
${Object.keys(h).length ? html`<details><summary>${t('case.headers')}</summary><pre class="evidence">${Object.entries(h).map(([k, v]) => `${k}: ${v}\n`)}</pre></details>` : ''}
</section>`;
}

/** 1536 → "1.5 KiB"; exact octets for small files. */
export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(1)} ${units[u]}`;
}

export function consentBlock(consent: Record<string, unknown> | null): SafeHtml {
  if (!consent) return html`<p class="muted">${t('case.consent.none')}</p>`;
  return html`<dl class="kv">${Object.entries(consent).map(([k, v]) => html`<dt>${k}</dt><dd>${typeof v === 'string' ? v : JSON.stringify(v)}</dd>`)}</dl>`;
}

/** A confirmation step: what will happen, and the same form again with confirm=yes. */
export function confirmPage(ctx: PageContext, o: { action: string; message: string; fields: Record<string, string>; cancel: string; warning: boolean }): SafeHtml {
  return page(
    ctx,
    t('confirm.title'),
    html`<div class="narrow"><h1>${t('confirm.title')}</h1>
<p class="lead">${o.message}</p>
${Object.entries(o.fields).filter(([k]) => k !== 'csrf' && k !== 'confirm' && o.fields[k]).length ? html`<dl class="kv">${Object.entries(o.fields).filter(([k, v]) => k !== 'csrf' && k !== 'confirm' && v).map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}</dl>` : ''}
<form method="post" action="${o.action}">
${csrfField(ctx.csrf)}<input type="hidden" name="confirm" value="yes">
${Object.entries(o.fields).filter(([k]) => k !== 'csrf' && k !== 'confirm').map(([k, v]) => html`<input type="hidden" name="${k}" value="${v}">`)}
<div class="row"><button class="${o.warning ? 'warning' : ''}">${t('confirm.yes')}</button> <a class="button secondary" href="${o.cancel}">${t('confirm.cancel')}</a></div>
</form></div>`,
  );
}

export function messagePage(ctx: PageContext, title: string, text: string, back: string): SafeHtml {
  return page(ctx, title, html`<div class="narrow"><h1>${title}</h1><p>${text}</p><p><a href="${back}">${t('back')}</a></p></div>`);
}
