/** Double opt-in confirmation requests and consent proofs (platform). */
import type { FastifyInstance, preHandlerAsyncHookHandler } from 'fastify';
import type { Channel } from '../../address.js';
import { normaliseAddress } from '../../address.js';
import type { ConsentRequest, Consents } from '../../consent/index.js';
import { GatewayError } from '../../errors.js';
import { ACCOUNT_ID, CHANNEL } from '../schemas.js';

export function consentRoutes(app: FastifyInstance, deps: { consents: Consents; platform: preHandlerAsyncHookHandler }): void {
  const { consents } = deps;

  app.post<{ Body: ConsentRequest }>(
    '/v1/consents/requests',
    {
      preHandler: deps.platform,
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['account', 'source'],
          properties: {
            account: ACCOUNT_ID,
            list: { type: 'string', minLength: 1, maxLength: 100 },
            channel: { ...CHANNEL, default: 'email' },
            address: { type: 'string', maxLength: 320 },
            phone: { type: 'string', maxLength: 32 },
            source: {
              type: 'object',
              additionalProperties: false,
              required: ['ip'],
              properties: {
                ip: { type: 'string', anyOf: [{ format: 'ipv4' }, { format: 'ipv6' }] },
                userAgent: { type: 'string', maxLength: 256 },
                formUrl: { type: 'string', maxLength: 512, pattern: '^https?://' },
                at: { type: 'string', format: 'date-time' },
              },
            },
          },
        },
      },
    },
    async (req, reply) => {
      if (!consents.enabled) throw new GatewayError('NOT_CONFIGURED');
      const b = req.body;
      const field = b.channel === 'sms' ? 'phone' : 'address';
      const link = consents.request(b);
      if (!link) throw new GatewayError('VALIDATION', `body/${field} is ${b[field] ? 'not a valid ' + (b.channel === 'sms' ? 'E.164 number' : 'address') : 'required for channel ' + b.channel}`);
      return reply.status(201).send(link);
    },
  );

  app.get<{ Params: { account: string; address: string }; Querystring: { channel?: Channel } }>(
    '/v1/consents/:account/:address',
    {
      preHandler: deps.platform,
      schema: {
        params: { type: 'object', properties: { account: ACCOUNT_ID, address: { type: 'string', maxLength: 320 } } },
        querystring: { type: 'object', additionalProperties: false, properties: { channel: CHANNEL } },
      },
    },
    async (req) => {
      const channel = req.query.channel ?? 'email';
      const address = normaliseAddress(req.params.address, channel);
      if (!address) throw new GatewayError('VALIDATION', `params/address is not a valid ${channel === 'sms' ? 'E.164 number' : 'address'}`);
      const view = await consents.view(req.params.account, channel, address);
      if (!view) throw new GatewayError('NOT_FOUND', 'No consent on record for this recipient');
      return view;
    },
  );
}
