/**
 * The public report page: GET /report (SMS or email?), /report/sms, /report/email. Each
 * form POSTs to POST /v1/abuse-reports (src/http/routes/cases.ts), which answers a page's
 * post with the thank-you page or the same form with its errors, rendered here.
 *
 * Server-rendered, no client framework: everything works with JavaScript off (the one
 * small script only moves focus to the error summary). Strings: src/web/i18n/report/*.json.
 * Anti-abuse (docs/report-page.md): a signed form token (no cross-site posting; a minimum
 * and a maximum fill time), a honeypot field, and the route's per-IP limit.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type CountryCode, getCountryCallingCode } from 'libphonenumber-js/max';
import type { Clock } from '../clock.js';
import { knownRegions } from '../phone.js';
import { type FormTokenCheck, checkFormToken, mintFormToken } from './formtoken.js';
import { type SafeHtml, html, layout, sendHtml } from './html.js';
import { type Catalogue, loadCatalogue } from './i18n.js';

export type ReportKind = 'sms' | 'email';
export type FormValues = Record<string, string>;
/** Field name → string key of its error (err.*). `_form` is an error about the whole form. */
export type FieldErrors = Record<string, string>;

export const FORM_PURPOSE = 'report';
/** The honeypot: hidden from people (and from assistive technology), filled by form bots. */
export const HONEYPOT = 'website';

export interface ReportPageOptions {
  operatorName: string;
  privacyUrl: string | null;
  /** config phone.regions: offered first in the country select. */
  regions: readonly string[];
  formKey: () => Promise<Buffer>;
  clock: Clock;
  minFillMs: number;
  maxFillMs: number;
}

/** Countries offered besides the configured regions (the markets readers most often come from). */
const MORE_COUNTRIES = ['DE', 'AT', 'CH', 'FR', 'ES', 'IT', 'NL', 'BE', 'IE', 'PT', 'CA', 'NZ'];

/** Which field each error belongs to, in the order the form shows them (for the summary). */
const SMS_FIELDS = ['country', 'phone', 'sender', 'message', 'received', 'description'];
const EMAIL_FIELDS = ['headers', 'description', 'reporterEmail'];

export class ReportPages {
  readonly strings: Catalogue = loadCatalogue('report');
  private readonly countries: string[];

  constructor(private readonly o: ReportPageOptions) {
    this.countries = [...new Set([...knownRegions(o.regions), ...knownRegions(MORE_COUNTRIES)])];
  }

  /** The language of a request: `?lang=` (or the form's hidden `lang`), else Accept-Language. */
  lang(req: FastifyRequest, explicit?: string): string {
    const q = (req.query as Record<string, unknown> | undefined)?.lang;
    return this.strings.pick(explicit ?? (typeof q === 'string' ? q : undefined), req.headers['accept-language']);
  }

  /** The country the select starts on: the region of the browser's language (en-GB → GB, de → DE), when we offer it. */
  defaultCountry(req: FastifyRequest, lang: string): string {
    const first = (req.headers['accept-language'] ?? '').slice(0, 200).split(',')[0]?.trim().split(';')[0] ?? '';
    const [primary, region] = first.split('-');
    const guess = region && primary?.toLowerCase() === lang ? region.toUpperCase() : lang === 'de' ? 'DE' : '';
    return this.countries.includes(guess) ? guess : '';
  }

  isCountry(code: string): boolean {
    return this.countries.includes(code);
  }

  async checkToken(token: unknown): Promise<FormTokenCheck> {
    return checkFormToken(await this.o.formKey(), FORM_PURPOSE, token, this.o.clock.now(), { minMs: this.o.minFillMs, maxMs: this.o.maxFillMs });
  }

  register(app: FastifyInstance): void {
    const langQuery = { type: 'object', properties: { lang: { type: 'string', maxLength: 10 } } } as const;
    app.get('/report', { schema: { hide: true, querystring: langQuery } }, async (req, reply) => this.start(req, reply));
    app.get('/report/sms', { schema: { hide: true, querystring: langQuery } }, async (req, reply) => {
      const lang = this.lang(req);
      return this.form(reply, 'sms', lang, { country: this.defaultCountry(req, lang) }, {}, 200);
    });
    app.get('/report/email', { schema: { hide: true, querystring: langQuery } }, async (req, reply) => this.form(reply, 'email', this.lang(req), {}, {}, 200));
  }

  private t(lang: string, key: string): string {
    return this.strings.t(lang, key);
  }

  private page(reply: FastifyReply, status: number, lang: string, title: string, body: SafeHtml, path: string, hasErrors = false): FastifyReply {
    const t = (k: string) => this.t(lang, k);
    const others = this.strings.languages.filter((l) => l !== lang);
    const footer = html`<p>
${this.o.privacyUrl ? html`<a href="${this.o.privacyUrl}">${t('privacy')}</a> · ` : ''}${this.o.operatorName}</p>
<p><span class="muted">${t('language')}:</span> ${others.map((l) => html`<a href="${path}?lang=${l}" lang="${l}" hreflang="${l}">${this.strings.t(l, 'language.name')}</a> `)}</p>`;
    return sendHtml(
      reply,
      status,
      layout({
        lang,
        title: `${hasErrors ? `${t('error.prefix')}: ` : ''}${title} – ${this.o.operatorName}`,
        body,
        scripts: ['report.js'],
        operatorName: `${this.o.operatorName} · ${t('service')}`,
        footer,
        bodyClass: 'report',
      }),
    );
  }

  private start(req: FastifyRequest, reply: FastifyReply): FastifyReply {
    const lang = this.lang(req);
    const t = (k: string) => this.t(lang, k);
    const q = lang === 'en' ? '' : `?lang=${lang}`;
    const body = html`<h1>${t('start.title')}</h1>
<p class="lead">${t('start.lead')}</p>
<h2>${t('start.question')}</h2>
<div class="choices">
<a class="choice" href="/report/sms${q}"><strong>${t('start.sms')}</strong><span>${t('start.sms.hint')}</span></a>
<a class="choice" href="/report/email${q}"><strong>${t('start.email')}</strong><span>${t('start.email.hint')}</span></a>
</div>
<p class="muted">${t('start.note')}</p>`;
    return this.page(reply, 200, lang, t('start.title'), body, '/report');
  }

  /** The form of one kind, with what was typed and the errors beside their fields. */
  async form(reply: FastifyReply, kind: ReportKind, lang: string, values: FormValues, errors: FieldErrors, status: number): Promise<FastifyReply> {
    const t = (k: string) => this.t(lang, k);
    const token = mintFormToken(await this.o.formKey(), FORM_PURPOSE, this.o.clock.now());
    const order = kind === 'sms' ? SMS_FIELDS : EMAIL_FIELDS;
    const listed = [...(errors._form ? [['_form', errors._form] as const] : []), ...order.filter((f) => errors[f]).map((f) => [f, errors[f]] as const)];
    const summary = listed.length
      ? html`<div class="error-summary" role="alert" aria-labelledby="error-summary-title" tabindex="-1">
<h2 id="error-summary-title">${t('error.title')}</h2>
<ul>${listed.map(([f, k]) => html`<li>${f === '_form' ? t(k) : html`<a href="#${f}">${t(k)}</a>`}</li>`)}</ul>
</div>`
      : '';
    const field = (name: string, label: SafeHtml | string, control: (describedBy: string, invalid: boolean) => SafeHtml, hint?: string, optional = false) => {
      const err = errors[name];
      const ids = [hint ? `${name}-hint` : '', err ? `${name}-error` : ''].filter(Boolean).join(' ');
      return html`<div class="field${err ? ' has-error' : ''}">
<label for="${name}">${label}${optional ? html` <span class="opt">${t('optional')}</span>` : ''}</label>
${hint ? html`<span class="hint" id="${name}-hint">${hint}</span>` : ''}
${err ? html`<span class="error-message" id="${name}-error"><span class="visually-hidden">${t('error.prefix')}:</span> ${t(err)}</span>` : ''}
${control(ids, !!err)}
</div>`;
    };
    const attrs = (describedBy: string, invalid: boolean) => html`${describedBy ? html` aria-describedby="${describedBy}"` : ''}${invalid ? html` aria-invalid="true"` : ''}`;
    const input = (name: string, type: string, extra: SafeHtml | string = '') => (d: string, inv: boolean) =>
      html`<input type="${type}" id="${name}" name="${name}" value="${values[name] ?? ''}"${attrs(d, inv)}${extra}>`;
    const textarea = (name: string, rows: number, extra: SafeHtml | string = '') => (d: string, inv: boolean) =>
      html`<textarea id="${name}" name="${name}" rows="${rows}"${attrs(d, inv)}${extra}>${values[name] ?? ''}</textarea>`;
    const names = new Intl.DisplayNames([lang], { type: 'region' });
    const dial = (c: string) => `+${getCountryCallingCode(c as CountryCode)}`;

    const fields =
      kind === 'sms'
        ? html`${field('country', t('sms.country'), (d, inv) => html`<select id="country" name="country"${attrs(d, inv)}>
<option value="">${t('sms.country.auto')}</option>
${this.countries.map((c) => html`<option value="${c}"${values.country === c ? html` selected` : ''}>${names.of(c) ?? c} (${dial(c)})</option>`)}
</select>`)}
${field('phone', t('sms.phone'), input('phone', 'tel', html` class="short" autocomplete="tel" inputmode="tel" maxlength="40" spellcheck="false"`), t('sms.phone.hint'))}
${field('sender', t('sms.sender'), input('sender', 'text', html` class="short" maxlength="32" spellcheck="false"`), t('sms.sender.hint'), true)}
${field('message', t('sms.message'), textarea('message', 4, html` maxlength="2000" class="prose"`), t('sms.message.hint'), true)}
${field('received', t('sms.date'), input('received', 'date', html` class="short"`), undefined, true)}
${field('description', t('description'), textarea('description', 3, html` maxlength="10000" class="prose"`), undefined, true)}`
        : html`${field('headers', t('email.headers'), textarea('headers', 12, html` spellcheck="false" autocapitalize="off" autocomplete="off"`), t('email.headers.hint'))}
<details${errors.headers ? html` open` : ''}>
<summary>${t('email.help')}</summary>
<div>
${['gmail', 'outlookweb', 'outlook', 'outlookmac', 'apple', 'yahoo', 'thunderbird'].map((p) => html`<h3>${t(`email.help.${p}`)}</h3><p>${t(`email.help.${p}.text`)}</p>`)}
<p class="muted">${t('email.help.phone')}</p>
</div>
</details>
${field('description', t('description'), textarea('description', 3, html` maxlength="10000" class="prose"`), undefined, true)}
${field('reporterEmail', t('email.reporter'), input('reporterEmail', 'email', html` autocomplete="email" maxlength="320" spellcheck="false"`), t('email.reporter.hint'), true)}`;

    const q = lang === 'en' ? '' : `?lang=${lang}`;
    const body = html`<a class="back" href="/report${q}">${t('back')}</a>
${summary}
<h1>${t(`${kind}.title`)}</h1>
<p class="lead">${t(`${kind}.lead`)}</p>
<form method="post" action="/v1/abuse-reports" accept-charset="utf-8" novalidate>
<input type="hidden" name="type" value="${kind}">
<input type="hidden" name="lang" value="${lang}">
<input type="hidden" name="_page" value="1">
<input type="hidden" name="_token" value="${token}">
<div class="honey" aria-hidden="true"><label for="${HONEYPOT}">${t('honey')}</label><input type="text" id="${HONEYPOT}" name="${HONEYPOT}" value="" tabindex="-1" autocomplete="off"></div>
${fields}
<button type="submit">${t('send')}</button>
</form>`;
    return this.page(reply, status, lang, t(`${kind}.title`), body, `/report/${kind}`, listed.length > 0);
  }

  /** The thank-you page, naming the case. */
  thanks(reply: FastifyReply, lang: string, caseId: string): FastifyReply {
    const t = (k: string) => this.t(lang, k);
    const q = lang === 'en' ? '' : `?lang=${lang}`;
    const body = html`<div class="confirmation" role="status">
<h1>${t('thanks.title')}</h1>
<p>${t('thanks.ref')}<br><span class="ref" id="case-ref">${caseId}</span></p>
</div>
<h2>${t('thanks.next')}</h2>
<p>${t('thanks.body')}</p>
<p>${t('thanks.keep')}</p>
<p><a href="/report${q}">${t('thanks.another')}</a></p>`;
    return this.page(reply, 200, lang, t('thanks.title'), body, '/report');
  }
}
