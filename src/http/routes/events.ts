/** POST /v1/events: the sending MTA's counts (sent, delivered, engaged). */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Store } from '../../store/store.js';
import type { Traffic, TrafficEvent } from '../../traffic.js';
import { ACCOUNT_ID, CAMPAIGN_ID, CHANNEL, ERROR_BODY } from '../schemas.js';

const body = {
  type: 'object',
  required: ['events'],
  additionalProperties: false,
  properties: {
    events: {
      type: 'array',
      minItems: 1,
      maxItems: 10000,
      items: {
        type: 'object',
        required: ['type', 'account'],
        additionalProperties: false,
        properties: {
          type: { type: 'string', enum: ['sent', 'delivered', 'engaged'] },
          account: ACCOUNT_ID,
          campaign: CAMPAIGN_ID,
          recipient: { type: 'string', minLength: 3, maxLength: 320 },
          channel: CHANNEL,
          // SMS sent items: the sender id or number the text went out from (indexed with the
          // recipient number for tracing reports and inbound STOP; `|` is the index's separator).
          sender: { type: 'string', minLength: 1, maxLength: 32, pattern: '^[^|\\u0000-\\u001f]+$' },
          count: { type: 'integer', minimum: 1, maximum: 100000000 },
          at: { type: 'string', format: 'date-time' },
        },
        // delivered and engaged are about one recipient.
        if: { properties: { type: { enum: ['delivered', 'engaged'] } } },
        then: { required: ['recipient'] },
      },
    },
  },
} as const;

export function eventRoutes(app: FastifyInstance, traffic: Traffic, store: Store, platform: (req: FastifyRequest) => Promise<void>): void {
  app.post<{ Body: { events: TrafficEvent[] }; Headers: { 'idempotency-key'?: string } }>(
    '/v1/events',
    {
      // Sent counts dilute an account's rates: only the platform may report them.
      onRequest: platform,
      schema: {
        body,
        headers: { type: 'object', properties: { 'idempotency-key': { type: 'string', maxLength: 200 } } },
        response: { 202: { type: 'object', properties: { accepted: { type: 'integer' }, repeated: { type: 'boolean' } } }, 400: ERROR_BODY },
      },
    },
    async (req, reply) => {
      const r = await store.durably(() => traffic.record(req.body.events, req.headers['idempotency-key'] ?? null));
      reply.status(202).send(r);
    },
  );
}
