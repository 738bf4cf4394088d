/**
 * Account vetting: the platform asks for a score when an account signs up; the desk reads
 * the signals and history, runs it again as the account sends, and records its decision.
 */
import { isIP } from 'node:net';
import type { FastifyInstance, preHandlerAsyncHookHandler } from 'fastify';
import { normaliseEmail } from '../../address.js';
import { GatewayError } from '../../errors.js';
import type { Store } from '../../store/store.js';
import type { Vetting, VettingInput } from '../../vetting/index.js';
import { ACCOUNT_ID } from '../schemas.js';

const params = { type: 'object', required: ['account'], properties: { account: ACCOUNT_ID } } as const;
// A host name (RFC 1123 labels), at most 253 characters: the domain is used in DNS and RDAP queries.
const DOMAIN = { type: 'string', maxLength: 253, pattern: '^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+\\.?$' } as const;

export interface VettingRouteDeps {
  vetting: Vetting;
  /** Results and decisions are answered once on the replicas (Store.durably). */
  store: Pick<Store, 'durably'>;
  /** Who may ask for a vetting: the platform (its token) or an admin. */
  platform: preHandlerAsyncHookHandler;
  admin: preHandlerAsyncHookHandler;
}

export function vettingRoutes(app: FastifyInstance, deps: VettingRouteDeps): void {
  const { vetting, store } = deps;

  app.post<{ Params: { account: string }; Body: VettingInput }>(
    '/v1/accounts/:account/vetting',
    {
      preHandler: deps.platform,
      schema: {
        params,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['email'],
          properties: {
            email: { type: 'string', minLength: 3, maxLength: 254 },
            domain: DOMAIN,
            signupIp: { type: 'string', maxLength: 45 },
            country: { type: 'string', pattern: '^[A-Za-z]{2}$' },
            website: { type: 'string', maxLength: 2048 },
          },
        },
      },
    },
    async (req, reply) => {
      const b = req.body;
      const email = normaliseEmail(b.email);
      if (!email) throw new GatewayError('VALIDATION', 'email is not a valid address');
      if (b.signupIp !== undefined && isIP(b.signupIp) === 0) throw new GatewayError('VALIDATION', 'signupIp is not an IPv4 or IPv6 address');
      const result = await store.durably(() => vetting.run(req.params.account, { ...b, email }, 'platform'));
      return reply.status(201).send(result);
    },
  );

  app.get<{ Params: { account: string } }>('/v1/accounts/:account/vetting', { preHandler: deps.admin, schema: { params } }, async (req) => {
    const history = await vetting.history(req.params.account);
    if (history.length === 0) throw new GatewayError('NOT_FOUND', `Account ${req.params.account} has not been vetted`);
    return { latest: history[0], history };
  });

  app.post<{ Params: { account: string } }>('/v1/accounts/:account/vetting/rerun', { preHandler: deps.admin, schema: { params } }, async (req, reply) => {
    const r = await store.durably(() => vetting.rerun(req.params.account, req.admin ?? 'admin'));
    if (!r) throw new GatewayError('NOT_FOUND', `Account ${req.params.account} has not been vetted`);
    return reply.status(201).send(r);
  });

  app.post<{ Params: { account: string }; Body: { decision: 'approve' | 'review' | 'reject'; note?: string } }>(
    '/v1/accounts/:account/vetting/review',
    {
      preHandler: deps.admin,
      schema: {
        params,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['decision'],
          properties: { decision: { type: 'string', enum: ['approve', 'review', 'reject'] }, note: { type: 'string', maxLength: 2000 } },
        },
      },
    },
    async (req, reply) => {
      const r = await store.durably(() => vetting.review(req.params.account, req.body.decision, req.body.note ?? null, req.admin ?? 'admin'));
      if (!r) throw new GatewayError('NOT_FOUND', `Account ${req.params.account} has not been vetted`);
      return reply.status(201).send(r);
    },
  );
}
