/** The abuse desk's cases (admin), the public abuse form, and consent proofs (platform). */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { normaliseAddress } from '../../address.js';
import type { Clock } from '../../clock.js';
import { CASE_OUTCOMES, CASE_STATUSES, type CaseStatus, type Desk } from '../../desk.js';
import type { CaseOutcomeKind } from '../../store/store.js';
import { fingerprint } from '../../effects.js';
import { GatewayError } from '../../errors.js';
import { newId } from '../../ids.js';
import type { Ingest } from '../../ingest.js';
import { abuseInput } from '../../ingest.js';
import { utf8Binary, parseHeaderBlock } from '../../parse/mime.js';
import { mobileCandidates } from '../../phone.js';
import type { Store } from '../../store/store.js';
import { type FieldErrors, type FormValues, HONEYPOT, type ReportKind, type ReportPages } from '../../web/report.js';
import type { adminAuth } from '../auth.js';
import { ipGroup } from '../../trust/ip.js';
import { ACCOUNT_ID, CAMPAIGN_ID, CHANNEL } from '../schemas.js';

const HOW_TO_FIND_HEADERS =
  'We need the full headers of the message to trace it. Gmail: open the message, ⋮ → "Show original". Outlook: File → Properties → "Internet headers" (web: … → View → "View message source"). Apple Mail: View → Message → "All Headers". Yahoo: … → "View raw message". Paste everything from the first "Received:" line down to the subject.';

export interface FormDeps {
  desk: Desk;
  ingest: Ingest;
  store: Store;
  clock: Clock;
  admin: ReturnType<typeof adminAuth>;
  phoneRegions: readonly string[];
  /** preHandler of the routes the platform calls (consents). */
  platform: ReturnType<typeof adminAuth>;
  ratePerMinute: number;
  /** The report page: a post from it is answered with a page (src/web/report.ts). */
  pages?: ReportPages;
}

interface FormBody {
  type: 'email' | 'sms';
  headers?: string;
  description?: string;
  reporterEmail?: string;
  phone?: string;
  sender?: string;
  message?: string;
  country?: string;
  received?: string;
  lang?: string;
  _page?: string;
  _token?: string;
  website?: string;
}

const PHONE_HELP = (regions: readonly string[]) =>
  `phone must be the mobile number that received the message, e.g. +44 7700 900123 (without a country code it is read in ${regions.join(', ')})`;

/** A YYYY-MM-DD date that exists and is not after today (a day of slack for time zones). */
function validPastDate(s: string, now: number): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(s)) return false;
  const t = Date.parse(s + 'T00:00:00Z');
  return Number.isFinite(t) && new Date(t).toISOString().slice(0, 10) === s && t <= now + 86_400_000 && t > now - 366 * 86_400_000 * 5;
}

/** A browser navigating (a form post from a page, ours or a cross-site one, which then has no valid token). */
function fromBrowser(req: FastifyRequest): boolean {
  return req.headers['sec-fetch-mode'] === 'navigate' || /\btext\/html\b/.test(req.headers.accept ?? '');
}

export function caseRoutes(app: FastifyInstance, deps: FormDeps): void {
  /** Page posts over the per-IP limit (marked before their body is read). */
  const limited = new WeakSet<FastifyRequest>();
  const { desk, admin } = deps;

  app.get<{ Querystring: { account?: string; campaign?: string; status?: CaseStatus; limit?: number; cursor?: string } }>(
    '/v1/cases',
    {
      preHandler: admin,
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            account: ACCOUNT_ID,
            campaign: CAMPAIGN_ID,
            status: { type: 'string', enum: CASE_STATUSES },
            limit: { type: 'integer', minimum: 1, maximum: 500 },
            cursor: { type: 'string', pattern: '^case_[0-9a-z]{26}$' },
          },
        },
      },
    },
    async (req) => desk.list(req.query),
  );

  app.get<{ Params: { id: string } }>(
    '/v1/cases/:id',
    { preHandler: admin, schema: { params: { type: 'object', properties: { id: { type: 'string', pattern: '^case_[0-9a-z]{26}$' } } } } },
    async (req) => desk.get(req.params.id),
  );

  app.patch<{ Params: { id: string }; Body: { status?: CaseStatus; note?: string; outcome?: CaseOutcomeKind } }>(
    '/v1/cases/:id',
    {
      preHandler: admin,
      schema: {
        params: { type: 'object', properties: { id: { type: 'string', pattern: '^case_[0-9a-z]{26}$' } } },
        body: {
          type: 'object',
          additionalProperties: false,
          minProperties: 1,
          properties: {
            status: { type: 'string', enum: CASE_STATUSES },
            note: { type: 'string', minLength: 1, maxLength: 10000 },
            // Required with status resolved, refused without it (Desk.update).
            outcome: { type: 'string', enum: CASE_OUTCOMES },
          },
        },
      },
    },
    async (req) => deps.store.durably(() => desk.update(req.params.id, req.body, req.admin ?? 'admin')),
  );

  app.post<{ Body: FormBody }>(
    '/v1/abuse-reports',
    {
      // A page's post that fails the schema gets its form back, not JSON (see below).
      attachValidation: true,
      // Counted before the body is read: a flood of large bodies is refused unparsed. A page
      // post over the limit gets its form back with the reason (pages.limited).
      onRequest: async (req) => {
        if (deps.ratePerMinute > 0 && (await deps.store.hit('form', ipGroup(req.ip), deps.clock.now())) > deps.ratePerMinute) {
          // A person on the report page gets the form back with the reason, not JSON.
          if (deps.pages && fromBrowser(req)) limited.add(req);
          else throw new GatewayError('RATE_LIMITED', `At most ${deps.ratePerMinute} reports a minute from one address; please try again shortly`);
        }
      },
      schema: {
        body: {
          type: 'object',
          required: ['type'],
          additionalProperties: false,
          properties: {
            type: { type: 'string', enum: ['email', 'sms'] },
            headers: { type: 'string', maxLength: 262144 },
            description: { type: 'string', maxLength: 10000 },
            reporterEmail: { type: 'string', maxLength: 320 },
            phone: { type: 'string', maxLength: 40 },
            sender: { type: 'string', maxLength: 64 },
            message: { type: 'string', maxLength: 2000 },
            // The report page's fields (src/web/report.ts).
            country: { type: 'string', maxLength: 2 },
            received: { type: 'string', maxLength: 10 },
            lang: { type: 'string', maxLength: 10 },
            _page: { type: 'string', maxLength: 1 },
            _token: { type: 'string', maxLength: 80 },
            [HONEYPOT]: { type: 'string', maxLength: 2000 },
          },
        },
      },
    },
    async (req, reply) => {
      const b = (req.body ?? {}) as FormBody;
      // From the report page (its hidden field, or a browser navigating: a cross-site form
      // post is one too, and then has no valid token): answer with a page, and check the
      // page's anti-abuse fields.
      const page = deps.pages && (b._page !== undefined || fromBrowser(req)) ? deps.pages : null;
      const kind: ReportKind = b.type === 'email' ? 'email' : 'sms';
      if (!page) {
        if (req.validationError) throw new GatewayError('VALIDATION', req.validationError.message);
        const r = await submit(b, req.ip);
        if ('errors' in r) throw new GatewayError('UNPROCESSABLE', r.message);
        return reply.status(202).send(r.body);
      }
      const lang = page.lang(req, typeof b.lang === 'string' ? b.lang : undefined);
      const kept: FormValues = {};
      for (const f of ['country', 'phone', 'sender', 'message', 'received', 'description', 'headers', 'reporterEmail'] as const) {
        if (typeof b[f] === 'string') kept[f] = b[f];
      }
      const again = (errors: FieldErrors, status: number) => page.form(reply, kind, lang, kept, errors, status);
      if (limited.has(req)) return again({ _form: 'err.form.limited' }, 429);
      if (req.validationError) return again({ _form: 'err.form.toolong' }, 400);
      if (b[HONEYPOT]) return again({ _form: 'err.form.rejected' }, 400);
      const check = await page.checkToken(b._token);
      if (check === 'invalid' || check === 'expired') return again({ _form: 'err.form.expired' }, 400);
      if (check === 'too-fast') return again({ _form: 'err.form.fast' }, 400);
      try {
        const r = await submit(b, req.ip, (c) => page.isCountry(c));
        if ('errors' in r) return again(r.errors, 422);
        return page.thanks(reply, lang, r.body.caseId);
      } catch (err) {
        if (err instanceof GatewayError && err.code === 'RATE_LIMITED') return again({ _form: 'err.form.limited' }, 429);
        if (err instanceof GatewayError && err.code === 'STORE_UNAVAILABLE') return again({ _form: 'err.form.unavailable' }, 503);
        throw err;
      }
    },
  );

  /**
   * Validates and records one report, for the JSON route and the page alike: field errors
   * (string keys of src/web/i18n/report, and the first one in English for the JSON answer),
   * or the case.
   */
  async function submit(
    b: FormBody,
    ip: string,
    isCountry: (c: string) => boolean = () => false,
  ): Promise<{ errors: FieldErrors; message: string } | { body: { caseId: string; status: string; message: string } }> {
    const errors: FieldErrors = {};
    let message = '';
    const fail = (field: string, key: string, english: string) => {
      if (!errors[field]) errors[field] = key;
      message ||= english;
    };
    const reporter = b.reporterEmail ? normaliseAddress(b.reporterEmail, 'email') : null;
    if (b.reporterEmail && !reporter) fail('reporterEmail', 'err.reporter.invalid', 'reporterEmail is not a valid email address');
    let headers = '';
    let phones: string[] = [];
    if (b.type === 'email') {
      headers = (b.headers ?? '').replace(/\r\n?/g, '\n').trim();
      const fields = parseHeaderBlock(utf8Binary(headers));
      if (!headers) fail('headers', 'err.headers.missing', HOW_TO_FIND_HEADERS);
      else if (!fields.has('received') || !(fields.has('from') || fields.has('message-id'))) fail('headers', 'err.headers.invalid', HOW_TO_FIND_HEADERS);
    } else {
      // A country chosen on the page reads the number there; otherwise each of phone.regions.
      const regions = b.country && isCountry(b.country) ? [b.country] : deps.phoneRegions;
      phones = b.phone ? mobileCandidates(b.phone, regions) : [];
      if (!b.phone?.trim()) fail('phone', 'err.phone.missing', PHONE_HELP(deps.phoneRegions));
      else if (phones.length === 0) fail('phone', 'err.phone.invalid', PHONE_HELP(deps.phoneRegions));
      if (b.sender && (b.sender.length > 32 || /[|\u0000-\u001f]/.test(b.sender))) fail('sender', 'err.sender.invalid', 'sender must be at most 32 characters');
      if (b.received && !validPastDate(b.received, deps.clock.now())) fail('received', 'err.date.invalid', 'received must be a date (YYYY-MM-DD) that is not in the future');
    }
    if (Object.keys(errors).length) return { errors, message };
    // A form report is anonymous: it never counts as a trusted reporter (rules/evidence.ts).
    const who = { clientIp: ip, trustedReporter: false };
    const now = deps.clock.now();
    const reportId = newId(now);
    if (b.type === 'email') {
      // The pasted headers (and the description, which may hold the footer's link) go
      // through the same parse as abuse@ mail.
      const boundary = `form-${reportId}`;
      const raw = Buffer.from(
        [`Subject: abuse form`, `Content-Type: multipart/mixed; boundary="${boundary}"`, '', `--${boundary}`, 'Content-Type: text/plain; charset=utf-8', '', b.description ?? '', `--${boundary}`, 'Content-Type: message/rfc822', '', headers, '', `--${boundary}--`, ''].join('\n'),
      );
      const report = deps.ingest.parse(raw, { mailbox: 'abuse' });
      // The form posted twice with the same content (a double click, a resubmitted page)
      // is one report: same case, counted once, within the dedup window.
      const input = abuseInput(report, reportId, 'f' + fingerprint(['form-email', headers, b.description, reporter]), { mailFrom: reporter ?? '' });
      // The enclosed message above is our wrapping of the pasted headers, not a file the
      // reporter attached: the form has no upload, so its reports list no attachments.
      const out = await deps.store.durably(() => desk.report({ ...input, ...who, channel: 'form', reporter, description: b.description ?? null, attachments: undefined }));
      return { body: { caseId: out.caseId, status: out.status, message: 'Thank you. Your report was received and will be reviewed by our abuse desk.' } };
    }
    const text = [b.message, b.description].filter(Boolean).join('\n');
    const report = deps.ingest.parse(Buffer.from(`Subject: SMS complaint\n\n${text}\n`), { mailbox: 'abuse' });
    const sender = b.sender?.trim() || null;
    const out = await deps.store.durably(() =>
      desk.report({
        ...who,
        ...abuseInput(report, reportId, 'f' + fingerprint(['form-sms', phones.join(','), sender, b.message, b.description, reporter]), { mailFrom: reporter ?? '' }),
        channel: 'sms',
        reporter,
        // Every reading of a national number that is a mobile in one of the regions: the
        // trace by number finds which of them was texted.
        phones,
        sender,
        description:
          [sender ? `Sender: ${sender}` : null, b.received ? `Received: ${b.received}` : null, b.message ? `Message: ${b.message}` : null, b.description ?? null].filter(Boolean).join('\n') || null,
        recipient: phones.length === 1 ? phones[0] : null,
      }),
    );
    return { body: { caseId: out.caseId, status: out.status, message: 'Thank you. Your report was received; this number will not receive messages from this sender again once we have traced it.' } };
  }

  app.post<{ Body: { account: string; address: string; channel?: 'email' | 'sms'; ip: string; signedUpAt: string; confirmedAt?: string; source?: string; userAgent?: string } }>(
    '/v1/consents',
    {
      preHandler: deps.platform,
      schema: {
        body: {
          type: 'object',
          required: ['account', 'address', 'ip', 'signedUpAt'],
          additionalProperties: false,
          properties: {
            account: ACCOUNT_ID,
            address: { type: 'string', maxLength: 320 },
            channel: CHANNEL,
            ip: { type: 'string', anyOf: [{ format: 'ipv4' }, { format: 'ipv6' }] },
            signedUpAt: { type: 'string', format: 'date-time' },
            confirmedAt: { type: 'string', format: 'date-time' },
            source: { type: 'string', maxLength: 2000 },
            userAgent: { type: 'string', maxLength: 1000 },
          },
        },
      },
    },
    async (req, reply) => {
      const channel = req.body.channel ?? 'email';
      const address = normaliseAddress(req.body.address, channel);
      if (!address) throw new GatewayError('VALIDATION', `body/address is not a valid ${channel === 'sms' ? 'E.164 number' : 'address'}`);
      const { account, ...proof } = req.body;
      await deps.store.durably(() => deps.store.saveConsent(account, channel, address, { ...proof, address, channel, recordedAt: new Date(deps.clock.now()).toISOString() }));
      reply.status(201).send({ account, address, channel, stored: true });
    },
  );
}
