/** The abuse desk's cases (admin), the public abuse form, and consent proofs (platform). */
import type { FastifyInstance } from 'fastify';
import { normaliseAddress } from '../../address.js';
import type { Clock } from '../../clock.js';
import { CASE_STATUSES, type CaseStatus, type Desk } from '../../desk.js';
import { GatewayError } from '../../errors.js';
import { newId } from '../../ids.js';
import type { Ingest } from '../../ingest.js';
import { abuseInput } from '../../ingest.js';
import { utf8Binary, parseHeaderBlock } from '../../parse/mime.js';
import { mobileE164 } from '../../phone.js';
import type { Store } from '../../store/store.js';
import type { adminAuth } from '../auth.js';
import { ACCOUNT_ID, CAMPAIGN_ID, CHANNEL } from '../schemas.js';

const HOW_TO_FIND_HEADERS =
  'We need the full headers of the message to trace it. Gmail: open the message, ⋮ → "Show original". Outlook: File → Properties → "Internet headers" (web: … → View → "View message source"). Apple Mail: View → Message → "All Headers". Yahoo: … → "View raw message". Paste everything from the first "Received:" line down to the subject.';

export interface FormDeps {
  desk: Desk;
  ingest: Ingest;
  store: Store;
  clock: Clock;
  admin: ReturnType<typeof adminAuth>;
  phoneRegion: string;
  ratePerMinute: number;
}

interface FormBody {
  type: 'email' | 'sms';
  headers?: string;
  description?: string;
  reporterEmail?: string;
  phone?: string;
  sender?: string;
  message?: string;
}

export function caseRoutes(app: FastifyInstance, deps: FormDeps): void {
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

  app.patch<{ Params: { id: string }; Body: { status?: CaseStatus; note?: string } }>(
    '/v1/cases/:id',
    {
      preHandler: admin,
      schema: {
        params: { type: 'object', properties: { id: { type: 'string', pattern: '^case_[0-9a-z]{26}$' } } },
        body: {
          type: 'object',
          additionalProperties: false,
          minProperties: 1,
          properties: { status: { type: 'string', enum: CASE_STATUSES }, note: { type: 'string', minLength: 1, maxLength: 10000 } },
        },
      },
    },
    async (req) => desk.update(req.params.id, req.body, req.admin ?? 'admin'),
  );

  app.post<{ Body: FormBody }>(
    '/v1/abuse-reports',
    {
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
          },
        },
      },
    },
    async (req, reply) => {
      if (deps.ratePerMinute > 0 && (await deps.store.hit('form', req.ip, deps.clock.now())) > deps.ratePerMinute) {
        throw new GatewayError('RATE_LIMITED', `At most ${deps.ratePerMinute} reports a minute from one address; please try again shortly`);
      }
      const b = req.body;
      const reporter = b.reporterEmail ? normaliseAddress(b.reporterEmail, 'email') : null;
      if (b.reporterEmail && !reporter) throw new GatewayError('UNPROCESSABLE', 'reporterEmail is not a valid email address');
      const now = deps.clock.now();
      const reportId = newId(now);
      if (b.type === 'email') {
        const headers = (b.headers ?? '').replace(/\r\n?/g, '\n').trim();
        const fields = parseHeaderBlock(utf8Binary(headers));
        if (!fields.has('received') || !(fields.has('from') || fields.has('message-id'))) throw new GatewayError('UNPROCESSABLE', HOW_TO_FIND_HEADERS);
        // The pasted headers (and the description, which may hold the footer's link) go
        // through the same parse as abuse@ mail.
        const boundary = `form-${reportId}`;
        const raw = Buffer.from(
          [`Subject: abuse form`, `Content-Type: multipart/mixed; boundary="${boundary}"`, '', `--${boundary}`, 'Content-Type: text/plain; charset=utf-8', '', b.description ?? '', `--${boundary}`, 'Content-Type: message/rfc822', '', headers, '', `--${boundary}--`, ''].join('\n'),
        );
        const report = deps.ingest.parse(raw, { mailbox: 'abuse' });
        const input = abuseInput(report, reportId, { mailFrom: reporter ?? '' });
        const out = await desk.report({ ...input, channel: 'form', reporter, description: b.description ?? null });
        return reply.status(202).send({ caseId: out.caseId, status: out.status, message: 'Thank you. Your report was received and will be reviewed by our abuse desk.' });
      }
      const phone = b.phone ? mobileE164(b.phone, deps.phoneRegion) : null;
      if (!phone) throw new GatewayError('UNPROCESSABLE', `phone must be the mobile number that received the message, e.g. +61 400 000 000 (without a country code it is read as ${deps.phoneRegion})`);
      const text = [b.message, b.description].filter(Boolean).join('\n');
      const report = deps.ingest.parse(Buffer.from(`Subject: SMS complaint\n\n${text}\n`), { mailbox: 'abuse' });
      const out = await desk.report({
        ...abuseInput(report, reportId, { mailFrom: reporter ?? '' }),
        channel: 'sms',
        reporter,
        phones: [phone],
        description: [b.sender ? `Sender: ${b.sender}` : null, b.message ? `Message: ${b.message}` : null, b.description ?? null].filter(Boolean).join('\n') || null,
        recipient: phone,
      });
      return reply.status(202).send({ caseId: out.caseId, status: out.status, message: 'Thank you. Your report was received; this number will not receive messages from this sender again once we have traced it.' });
    },
  );

  app.post<{ Body: { account: string; address: string; channel?: 'email' | 'sms'; ip: string; signedUpAt: string; confirmedAt?: string; source?: string; userAgent?: string } }>(
    '/v1/consents',
    {
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
      await deps.store.saveConsent(account, channel, address, { ...proof, address, channel, recordedAt: new Date(deps.clock.now()).toISOString() });
      reply.status(201).send({ account, address, channel, stored: true });
    },
  );
}
