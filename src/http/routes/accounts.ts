/** Admin: an account's standing, its metadata, and lifting a suspension. */
import type { FastifyInstance } from 'fastify';
import type { Accounts } from '../../accounts.js';
import type { Store } from '../../store/store.js';
import type { adminAuth } from '../auth.js';
import { ACCOUNT_ID, ERROR_BODY } from '../schemas.js';

const params = { type: 'object', required: ['account'], properties: { account: ACCOUNT_ID } } as const;

/** Every write answers once it is on the replicas (Store.durably): an admin's change survives a failover. */
export function accountRoutes(app: FastifyInstance, accounts: Accounts, store: Pick<Store, 'durably'>, preHandler: ReturnType<typeof adminAuth>): void {
  app.get<{ Params: { account: string } }>(
    '/v1/accounts/:account',
    { preHandler, schema: { params, response: { 401: ERROR_BODY } } },
    async (req) => accounts.get(req.params.account),
  );

  app.patch<{ Params: { account: string }; Body: { pool?: 'shared' | 'dedicated'; createdAt?: string; requireWitnessedConsent?: boolean } }>(
    '/v1/accounts/:account',
    {
      preHandler,
      schema: {
        params,
        body: {
          type: 'object',
          additionalProperties: false,
          minProperties: 1,
          properties: { pool: { type: 'string', enum: ['shared', 'dedicated'] }, createdAt: { type: 'string', format: 'date-time' }, requireWitnessedConsent: { type: 'boolean' } },
        },
      },
    },
    async (req) => {
      await store.durably(() => accounts.setMeta(req.params.account, req.body));
      return accounts.get(req.params.account);
    },
  );

  app.post<{ Params: { account: string }; Body: { note?: string } | undefined }>(
    '/v1/accounts/:account/reinstate',
    {
      preHandler,
      schema: { params, body: { type: 'object', additionalProperties: false, properties: { note: { type: 'string', maxLength: 2000 } } } },
    },
    async (req) => {
      await store.durably(() => accounts.reinstate(req.params.account, req.body?.note ?? null, req.admin ?? 'admin'));
      return accounts.get(req.params.account);
    },
  );
}
