/**
 * POST /v1/sms/inbound: a text a recipient sent back to one of our senders (the platform
 * forwards what its SMS provider delivers). STOP and its translations suppress the number
 * for every account that texted it from that sender within sms.traceDays (the recent-sends
 * index knows which); START/UNSTOP lift that account's own sms-stop suppression; HELP and
 * anything else are only counted. Rules in docs/integration.md.
 */
import type { FastifyInstance, preHandlerAsyncHookHandler } from 'fastify';
import { normaliseAddress } from '../../address.js';
import type { Clock } from '../../clock.js';
import { type Effects, unsuppressedEvent } from '../../effects.js';
import { GatewayError } from '../../errors.js';
import { smsInbound } from '../../metrics.js';
import { mobileCandidates, sameSender } from '../../phone.js';
import { classifyInbound, type KeywordTable } from '../../rules/smskeywords.js';
import type { SmsIndex } from '../../store/sms.js';
import type { Store } from '../../store/store.js';

export interface SmsInboundDeps {
  store: Store;
  effects: Effects;
  sms: SmsIndex;
  keywords: KeywordTable;
  clock: Clock;
  regions: readonly string[];
  /** Who may call: the platform (its token; the admin token works too). */
  platform: preHandlerAsyncHookHandler;
}

interface InboundBody {
  from: string;
  to: string;
  text: string;
  at?: string;
}

export function smsRoutes(app: FastifyInstance, deps: SmsInboundDeps): void {
  app.post<{ Body: InboundBody }>(
    '/v1/sms/inbound',
    {
      preHandler: deps.platform,
      schema: {
        body: {
          type: 'object',
          required: ['from', 'to', 'text'],
          additionalProperties: false,
          properties: {
            from: { type: 'string', minLength: 3, maxLength: 40 },
            to: { type: 'string', minLength: 1, maxLength: 32 },
            text: { type: 'string', maxLength: 2000 },
            at: { type: 'string', format: 'date-time' },
          },
        },
      },
    },
    async (req) => {
      const b = req.body;
      const candidates = b.from.trim().startsWith('+') ? [normaliseAddress(b.from, 'sms')].filter((x): x is string => !!x) : mobileCandidates(b.from, deps.regions);
      if (candidates.length !== 1) throw new GatewayError('VALIDATION', 'body/from must be the sender\'s mobile number in E.164 (+ and country code)');
      const from = candidates[0];
      const keyword = classifyInbound(b.text, deps.keywords);
      smsInbound.inc({ keyword });
      if (keyword === 'help' || keyword === 'other') return { keyword, from, accounts: [] };

      const now = deps.clock.now();
      // The accounts that texted this number from the sender it replied to.
      const accounts = [...new Set((await deps.sms.lookup(from, now)).filter((s) => s.sender !== null && sameSender(s.sender, b.to)).map((s) => s.account))];
      const changed: string[] = [];
      // A STOP is a suppression like any other: answered once the replicas hold it.
      await deps.store.durably(async () => {
        for (const account of accounts) {
          if (keyword === 'stop') {
            const r = await deps.effects.suppress(account, 'sms', from, { reason: 'sms-stop', source: 'sms-inbound', note: `${b.to}: ${b.text.slice(0, 40)}` });
            if (r.suppressed.length) changed.push(account);
          } else {
            // START/UNSTOP: only a STOP's suppression is lifted; a complaint or an admin's stays.
            const old = await deps.store.getSuppression(account, 'sms', from);
            if (old?.reason === 'sms-stop') {
              const at = new Date(now).toISOString();
              const note = `${keyword.toUpperCase()} to ${b.to}`;
              const removed = unsuppressedEvent(account, 'sms', from, 'sms-inbound', note, now);
              await deps.store.removeSuppression(account, 'sms', from, removed, 'sms-inbound', note, at);
              changed.push(account);
            }
          }
        }
      });
      return { keyword, from, accounts, changed };
    },
  );
}
