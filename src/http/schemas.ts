/** JSON schemas shared by routes (fastify validates; the OpenAPI document is built from them). */

export const ACCOUNT_ID = { type: 'string', pattern: '^[A-Za-z0-9._-]{1,64}$' } as const;
export const CAMPAIGN_ID = ACCOUNT_ID;
export const CHANNEL = { type: 'string', enum: ['email', 'sms'] } as const;

export const ERROR_BODY = {
  type: 'object',
  properties: {
    error: {
      type: 'object',
      properties: { code: { type: 'string' }, message: { type: 'string' } },
      required: ['code', 'message'],
    },
  },
} as const;
