/** Suppression lookups for the MTA, and the admin's manual list (audited). */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { type Channel, normaliseAddress } from '../../address.js';
import type { Clock } from '../../clock.js';
import { manualSuppressedEvent, unsuppressedEvent } from '../../effects.js';
import { GatewayError } from '../../errors.js';
import { importRow, IMPORT_REASONS } from '../../parse/import.js';
import type { Store, SuppressionRecord } from '../../store/store.js';
import { hotCount, httpRequests } from '../../metrics.js';
import type { BearerAuth } from '../auth.js';
import { ACCOUNT_ID, CHANNEL } from '../schemas.js';
import type { FastPath } from '../server.js';

/** The account path segment also accepts "*": the global list (spam traps, never-mail). */
const ACCOUNT_OR_GLOBAL = { type: 'string', pattern: '^([A-Za-z0-9._-]{1,64}|\\*)$' } as const;
const channelQuery = { type: 'object', properties: { channel: CHANNEL } } as const;

function address(raw: string, channel: Channel, where: string): string {
  const a = normaliseAddress(raw, channel);
  if (!a) throw new GatewayError('VALIDATION', `${where} is not a valid ${channel === 'sms' ? 'E.164 number' : 'address'}`);
  return a;
}

const scope = (account: string) => (account === '*' ? null : account);

/** The lookup's miss is its hot path (most recipients are not suppressed): one frozen body, no Error built. */
const NOT_SUPPRESSED = Object.freeze({ suppressed: false, ...new GatewayError('NOT_SUPPRESSED').toJSON() });
const NOT_SUPPRESSED_JSON = JSON.stringify(NOT_SUPPRESSED);

const LOOKUP_ROUTE = '/v1/suppressions/:account/:address';
const MAX_ADDRESS = 320;

/** The single lookup's answer to a hit (store.suppressionOf), for the fastify route and the fast path alike. */
function found(addr: string, channel: Channel, hit: { json: string; scope: 'account' | 'global' }) {
  const rec = JSON.parse(hit.json) as SuppressionRecord;
  return { suppressed: true, address: addr, channel, reason: rec.reason, source: rec.source, at: rec.at, scope: hit.scope };
}

export function suppressionRoutes(app: FastifyInstance, deps: { store: Store; clock: Clock; admin: BearerAuth; platform: BearerAuth }): void {
  const { store, clock } = deps;

  // The MTA's per-recipient question; lookupFastPath answers the common requests of this
  // route before fastify sees them, and hands this route everything else.
  app.get<{ Params: { account: string; address: string }; Querystring: { channel?: Channel } }>(
    LOOKUP_ROUTE,
    // Reads are the platform's: open, they would let anyone enumerate who complained.
    { onRequest: deps.platform, schema: { params: { type: 'object', properties: { account: ACCOUNT_ID, address: { type: 'string', maxLength: MAX_ADDRESS } } }, querystring: channelQuery } },
    async (req, reply) => {
      const channel = req.query.channel ?? 'email';
      const addr = address(req.params.address, channel, 'address');
      const hit = await store.suppressionOf(req.params.account, channel, addr);
      return hit ? found(addr, channel, hit) : reply.status(404).send(NOT_SUPPRESSED);
    },
  );

  app.post<{ Body: { account: string; addresses: string[]; channel?: Channel } }>(
    '/v1/suppressions/check',
    {
      onRequest: deps.platform,
      schema: {
        body: {
          type: 'object',
          required: ['account', 'addresses'],
          additionalProperties: false,
          properties: { account: ACCOUNT_ID, channel: CHANNEL, addresses: { type: 'array', maxItems: 10000, items: { type: 'string', maxLength: 320 } } },
        },
      },
    },
    async (req) => {
      const channel = req.body.channel ?? 'email';
      const normal = req.body.addresses.map((a) => normaliseAddress(a, channel));
      const valid = [...new Set(normal.filter((a): a is string => a !== null))];
      const hits = await store.checkSuppressions(req.body.account, channel, valid);
      const byAddress = new Map(valid.map((a, i) => [a, hits[i]]));
      const suppressed = [];
      const invalid = [];
      for (const [i, a] of normal.entries()) {
        if (a === null) invalid.push(req.body.addresses[i]);
        else {
          const h = byAddress.get(a);
          if (h) suppressed.push({ address: req.body.addresses[i], normalized: a, reason: h.reason, source: h.source, at: h.at, scope: h.scope });
        }
      }
      return { checked: req.body.addresses.length, suppressed, invalid };
    },
  );

  app.post<{ Body: { account: string; address: string; reason: string; channel?: Channel; note?: string } }>(
    '/v1/suppressions',
    {
      preHandler: deps.admin,
      schema: {
        body: {
          type: 'object',
          required: ['account', 'address', 'reason'],
          additionalProperties: false,
          properties: {
            account: ACCOUNT_OR_GLOBAL,
            address: { type: 'string', maxLength: 320 },
            reason: { type: 'string', minLength: 1, maxLength: 64 },
            channel: CHANNEL,
            note: { type: 'string', maxLength: 2000 },
          },
        },
      },
    },
    async (req, reply) => {
      const channel = req.body.channel ?? 'email';
      const addr = address(req.body.address, channel, 'body/address');
      const account = scope(req.body.account);
      const now = clock.now();
      const rec = { reason: req.body.reason, source: 'admin', at: new Date(now).toISOString(), by: req.admin, note: req.body.note };
      const created = await store.durably(() =>
        store.addSuppressionManual(
          account,
          channel,
          addr,
          rec,
          // The global list's event names no account: data.scope says it applies to all.
          manualSuppressedEvent(account, channel, addr, rec, now),
        ),
      );
      reply.status(created ? 201 : 200).send({ account: req.body.account, address: addr, channel, created, ...rec });
    },
  );

  // Migration from another sender: each row keeps its reason and date, so imported hard
  // bounces and complaints count in preflight like ours (source "import", not "admin").
  app.post<{ Body: { account: string; channel?: Channel; rows: Array<{ address: string; reason: string; at: string }> } }>(
    '/v1/suppressions/import',
    {
      preHandler: deps.admin,
      schema: {
        body: {
          type: 'object',
          required: ['account', 'rows'],
          additionalProperties: false,
          properties: {
            account: ACCOUNT_OR_GLOBAL,
            channel: CHANNEL,
            rows: {
              type: 'array',
              maxItems: 10000,
              items: {
                type: 'object',
                required: ['address', 'reason', 'at'],
                additionalProperties: false,
                properties: { address: { type: 'string', maxLength: 320 }, reason: { type: 'string', enum: [...IMPORT_REASONS] }, at: { type: 'string', maxLength: 64 } },
              },
            },
          },
        },
      },
    },
    async (req) => {
      const channel = req.body.channel ?? 'email';
      const now = clock.now();
      const at = new Date(now).toISOString();
      const rows: Array<{ address: string; rec: SuppressionRecord }> = [];
      const invalid = [];
      for (const [index, raw] of req.body.rows.entries()) {
        const r = importRow(raw, channel, now);
        if (typeof r === 'string') invalid.push({ index, error: r });
        else rows.push({ address: r.address, rec: { reason: r.reason, source: 'import', at: r.at, by: req.admin, note: `imported ${at}` } });
      }
      const { added, exists } = await store.durably(() => store.importSuppressions(scope(req.body.account), channel, rows, req.admin ?? 'admin', at));
      return { account: req.body.account, channel, received: req.body.rows.length, added, exists, invalid };
    },
  );

  app.delete<{ Params: { account: string; address: string }; Querystring: { channel?: Channel; note?: string } }>(
    '/v1/suppressions/:account/:address',
    {
      preHandler: deps.admin,
      schema: {
        params: { type: 'object', properties: { account: ACCOUNT_OR_GLOBAL, address: { type: 'string', maxLength: 320 } } },
        querystring: { type: 'object', properties: { channel: CHANNEL, note: { type: 'string', maxLength: 2000 } } },
      },
    },
    async (req) => {
      const channel = req.query.channel ?? 'email';
      const addr = address(req.params.address, channel, 'address');
      const account = scope(req.params.account);
      const now = clock.now();
      const at = new Date(now).toISOString();
      const by = req.admin ?? '';
      const note = req.query.note ?? '';
      const removed = unsuppressedEvent(account, channel, addr, by, note, now);
      const old = await store.durably(() => store.removeSuppression(account, channel, addr, removed, by, note, at));
      if (!old) throw new GatewayError('NOT_FOUND', 'The address is not suppressed');
      return { removed: true, account: req.params.account, address: addr, channel, was: old };
    },
  );

  app.get<{ Params: { account: string }; Querystring: { channel?: Channel; cursor?: string; limit?: number; format?: 'json' | 'csv' } }>(
    '/v1/suppressions/:account',
    {
      preHandler: deps.admin,
      schema: {
        params: { type: 'object', properties: { account: ACCOUNT_OR_GLOBAL } },
        querystring: {
          type: 'object',
          properties: { channel: CHANNEL, cursor: { type: 'string', pattern: '^[0-9]+$' }, limit: { type: 'integer', minimum: 1, maximum: 1000 }, format: { type: 'string', enum: ['json', 'csv'] } },
        },
      },
    },
    async (req, reply) => {
      const channel = req.query.channel ?? 'email';
      const account = scope(req.params.account);
      if (req.query.format === 'csv' || (req.headers.accept ?? '').includes('text/csv')) {
        // The whole list, streamed page by page: never held in memory at once.
        reply.header('content-type', 'text/csv; charset=utf-8').header('content-disposition', `attachment; filename="suppressions-${req.params.account === '*' ? 'global' : req.params.account}-${channel}.csv"`);
        async function* rows() {
          yield 'address,reason,source,at,campaign,report_id\r\n';
          let cursor = '0';
          do {
            const page = await store.listSuppressions(account, channel, cursor, 1000);
            cursor = page.cursor;
            yield page.items.map((s) => [s.address, s.reason, s.source, s.at, s.campaign ?? '', s.reportId ?? ''].map(csv).join(',') + '\r\n').join('');
          } while (cursor !== '0');
        }
        return reply.send(Readable.from(rows()));
      }
      const page = await store.listSuppressions(account, channel, req.query.cursor ?? '0', req.query.limit ?? 100);
      return { items: page.items, next: page.cursor === '0' ? null : page.cursor };
    },
  );
}

const LOOKUP_PREFIX = '/v1/suppressions/';
/** ACCOUNT_ID's pattern (schemas.ts); anything else is fastify's to refuse. */
const ACCOUNT = /^[A-Za-z0-9._-]{1,64}$/;
const JSON_TYPE = 'application/json; charset=utf-8';
/** The miss's status line headers, built once (most lookups are misses). */
const NOT_SUPPRESSED_HEADERS = ['content-type', JSON_TYPE, 'content-length', String(Buffer.byteLength(NOT_SUPPRESSED_JSON))];

/**
 * GET /v1/suppressions/{account}/{address} without fastify's request and reply objects,
 * hook chain and router (issue 19: that machinery cost half the throughput of a bare
 * node:http server doing the same Redis reads). It answers only what it can answer exactly
 * as the route does — a valid account and address, no query or `?channel=email|sms`, a
 * token that the route's own guard accepts, a found or not-found answer — and hands every
 * other request, and any Redis failure, to fastify untouched (a GET has no body to have
 * read), so errors, 401s, HEAD and the odd URL keep the route's behaviour by construction.
 * test/suppressions/lookup.test.ts holds the two paths to the same answers.
 */
export function lookupFastPath(deps: { store: Store; platform: BearerAuth }): FastPath {
  const counted = { found: hotCount(httpRequests, { route: LOOKUP_ROUTE, status: '2xx' }), missed: hotCount(httpRequests, { route: LOOKUP_ROUTE, status: '4xx' }) };
  return (req: IncomingMessage, res: ServerResponse, fastify: (req: IncomingMessage, res: ServerResponse) => void) => {
    const url = req.url ?? '';
    if (req.method !== 'GET' || !url.startsWith(LOOKUP_PREFIX) || req.headers['content-length'] || req.headers['transfer-encoding']) return fastify(req, res);
    const q = url.indexOf('?');
    const query = q < 0 ? null : url.slice(q + 1);
    const channel: Channel | null = query === null ? 'email' : query === 'channel=email' ? 'email' : query === 'channel=sms' ? 'sms' : null;
    const path = q < 0 ? url : url.slice(0, q);
    const slash = path.indexOf('/', LOOKUP_PREFIX.length);
    if (!channel || slash < 0 || path.indexOf('/', slash + 1) >= 0) return fastify(req, res);
    const account = path.slice(LOOKUP_PREFIX.length, slash);
    const raw = path.slice(slash + 1);
    // Percent-encoding at most triples a character; longer is refused by the route.
    if (!ACCOUNT.test(account) || raw.length === 0 || raw.length > 3 * MAX_ADDRESS) return fastify(req, res);
    const decoded = raw.includes('%') ? decodedOrNull(raw) : raw;
    if (decoded === null || decoded.length > MAX_ADDRESS) return fastify(req, res);
    const addr = normaliseAddress(decoded, channel);
    if (!addr || !deps.platform.holder(req.headers.authorization)) return fastify(req, res);
    deps.store.suppressionOf(account, channel, addr).then(
      (hit) => {
        if (hit === null) {
          res.writeHead(404, NOT_SUPPRESSED_HEADERS);
          res.end(NOT_SUPPRESSED_JSON);
          counted.missed();
          return;
        }
        const body = JSON.stringify(found(addr, channel, hit));
        res.writeHead(200, ['content-type', JSON_TYPE, 'content-length', String(Buffer.byteLength(body))]);
        res.end(body);
        counted.found();
      },
      () => fastify(req, res),
    );
  };
}

function decodedOrNull(s: string): string | null {
  try {
    return decodeURIComponent(s);
  } catch {
    return null;
  }
}

/** RFC 4180 field quoting; a leading =,+,-,@ is defused for spreadsheets (CSV injection). */
export function csv(v: string): string {
  const s = /^[=+\-@]/.test(v) ? `'${v}` : v;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}
