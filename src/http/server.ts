/**
 * The HTTP edge (fastify): health, readiness, metrics and the API. Routes translate HTTP
 * to domain calls; every error leaves as `{error: {code, message}}` with a catalogue code.
 */
import multipart from '@fastify/multipart';
import swagger from '@fastify/swagger';
import type { IncomingMessage, ServerResponse } from 'node:http';
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyRequest, LogController } from 'fastify';
import type { Config } from '../config/schema.js';
import { ERRORS, type ErrorCode, GatewayError } from '../errors.js';
import type { Logger } from '../log.js';
import { httpRequests, internalFaults, registry } from '../metrics.js';
import { HTML_HEADERS } from '../web/html.js';

export interface HttpDeps {
  log: Logger;
  /** Registers the API routes (the wiring lives in gateway.ts). */
  routes?: (app: FastifyInstance) => void;
  /** Readiness checks: each returns true when its part is up, or says why it is not. */
  ready: Record<string, () => Promise<ReadyCheck> | ReadyCheck>;
  /** Conditions that leave the gateway ready (200) but need an operator: name → why. */
  warnings?: () => Promise<Record<string, string>>;
  /**
   * Guards /metrics on this listener (the platform token); null: /metrics is not served here
   * (an internal listener serves it).
   */
  metrics: ((req: FastifyRequest) => Promise<void>) | null;
  /** Sees every request before fastify does (routes/suppressions.ts lookupFastPath). */
  fastPath?: FastPath;
}

/**
 * Answers a request itself, or calls `fastify(req, res)` (at once or later, having written nothing)
 * to let fastify handle it as usual.
 */
export type FastPath = (req: IncomingMessage, res: ServerResponse, fastify: (req: IncomingMessage, res: ServerResponse) => void) => void;

export type ReadyCheck = boolean | { ok: boolean; reason?: string };

/**
 * Path parameters carry tokens: a long attribution token (/u/, at most 640 characters for a
 * 320-octet recipient) or a consent link (/c/, at most 2,048).
 */
export const MAX_PARAM_LENGTH = 2048;


function errorBody(code: ErrorCode, message?: string) {
  return { error: { code, message: message ?? ERRORS[code].message } };
}

/** Maps fastify's own error codes to ours, so clients see one stable catalogue. */
function fromFastify(err: FastifyError): { status: number; code: ErrorCode; message: string } {
  if (err instanceof GatewayError) return { status: err.statusCode, code: err.code, message: err.toJSON().error.message };
  switch (err.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { status: 400, code: 'BAD_JSON', message: err.message };
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, code: 'BODY_TOO_LARGE', message: err.message };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', message: err.message };
  }
  if (err.validation) return { status: 400, code: 'VALIDATION', message: err.message };
  if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) return { status: err.statusCode, code: 'BAD_REQUEST', message: err.message };
  return { status: 500, code: 'INTERNAL', message: ERRORS.INTERNAL.message };
}

/** Options both listeners share: limits that hold against slow or oversized clients. */
function baseOptions(cfg: Config['http'], log: Logger) {
  return {
    loggerInstance: log as unknown as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    childLoggerFactory: (logger: FastifyBaseLogger) => logger,
    // A client that trickles a request or its body is cut off (slowloris).
    requestTimeout: cfg.requestTimeoutMs,
    connectionTimeout: cfg.connectionTimeoutMs,
    // X-Forwarded-For is believed only from the listed proxies (else anyone picks their IP).
    trustProxy: cfg.trustedProxies.length ? [...cfg.trustedProxies] : false,
  };
}

/**
 * What a listener serving forms and pages needs: url-encoded and multipart bodies, and the
 * pages' security headers on every HTML response.
 */
async function formsAndPages(app: FastifyInstance, cfg: Config['http']): Promise<void> {
  // RFC 8058 one-click POSTs and the abuse form are application/x-www-form-urlencoded.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });
  // multipart/form-data: one-click POSTs (some providers send those) carry one small field;
  // the desk's CSV upload one file part, read as UTF-8 text. The framework's own streaming
  // parser (busboy), with a few small fields and at most one file within the body limit.
  await app.register(multipart, {
    attachFieldsToBody: 'keyValues',
    onFile: async (part: { toBuffer(): Promise<Buffer>; value?: unknown }) => {
      part.value = (await part.toBuffer()).toString('utf8');
    },
    limits: { fields: 10, fieldSize: 4096, files: 1, fileSize: cfg.bodyLimit, parts: 11, headerPairs: 20 },
  });
  // Every HTML response carries the pages' security headers (src/web/html.ts), also one a
  // route sent without sendHtml: CSP without inline script, no framing, no sniffing.
  app.addHook('onSend', (_req, reply, payload, done) => {
    const type = reply.getHeader('content-type');
    if (typeof type === 'string' && type.startsWith('text/html') && !reply.hasHeader('content-security-policy')) {
      for (const [k, v] of Object.entries(HTML_HEADERS)) if (k !== 'content-type' && k !== 'cache-control') reply.header(k, v);
    }
    done(null, payload);
  });
}

/**
 * The internal listener (http.internalPort): /metrics without a token, /healthz and /readyz,
 * for a network only the platform and monitoring reach (docs/security.md, "Two doors"); with
 * `pages`, ready for the desk console too (desk.listener: internal).
 */
export async function createInternalServer(cfg: Config['http'], deps: Pick<HttpDeps, 'log' | 'ready' | 'warnings'> & { pages?: boolean }): Promise<FastifyInstance> {
  const app = Fastify({ ...baseOptions(cfg, deps.log.child({ edge: 'http-internal' })), bodyLimit: cfg.bodyLimit });
  app.server.headersTimeout = cfg.headersTimeoutMs;
  if (deps.pages) await formsAndPages(app, cfg);
  app.setNotFoundHandler((req, reply) => {
    reply.status(404).send(errorBody('NOT_FOUND', `No route ${req.method} ${req.url.split('?')[0]}`));
  });
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', readyz(deps.ready, deps.warnings));
  app.get('/metrics', metricsHandler);
  return app;
}

async function metricsHandler(_req: FastifyRequest, reply: import('fastify').FastifyReply) {
  reply.header('content-type', registry.contentType).send(await registry.metrics());
}

function readyz(ready: HttpDeps['ready'], warn?: HttpDeps['warnings']) {
  return async (_req: FastifyRequest, reply: import('fastify').FastifyReply) => {
    const checks: Record<string, boolean> = {};
    const reasons: Record<string, string> = {};
    for (const [name, check] of Object.entries(ready)) {
      try {
        const r = await check();
        checks[name] = typeof r === 'boolean' ? r : r.ok;
        if (typeof r !== 'boolean' && r.reason) reasons[name] = r.reason;
      } catch (err) {
        checks[name] = false;
        reasons[name] = (err as Error).message;
      }
    }
    const ok = Object.values(checks).every(Boolean);
    const warnings = (await warn?.().catch(() => ({}))) ?? {};
    reply.status(ok ? 200 : 503).send({
      status: ok ? 'ready' : 'not ready',
      checks,
      ...(Object.keys(reasons).length ? { reasons } : {}),
      ...(Object.keys(warnings).length ? { warnings } : {}),
    });
  };
}

export async function createHttpServer(cfg: Config['http'], deps: HttpDeps): Promise<FastifyInstance> {
  const app = Fastify({
    ...baseOptions(cfg, deps.log.child({ edge: 'http' })),
    // Routes hold tokens (RFC 8058 one-click links /u/<token>, consent links /c/<token>);
    // the router's default of 100 answered 414 to most real ones.
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // (baseOptions: one log line per request would drown the SMTP lines; no child logger
    // per request, fastify's default builds one, redaction and all, for every lookup.)
    bodyLimit: cfg.bodyLimit,
    // No silent dropping of unknown fields: additionalProperties: false rejects them.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false } },
  });

  app.server.headersTimeout = cfg.headersTimeoutMs;
  await formsAndPages(app, cfg);

  app.setErrorHandler((err: FastifyError, req, reply) => {
    const e = fromFastify(err);
    if (e.code === 'INTERNAL_FAULT' || e.code === 'INTERNAL') {
      // A bug, not Redis being away: the stack goes to the log, the count to the metric.
      internalFaults.inc({ edge: 'http' });
      const cause = err instanceof GatewayError && err.cause instanceof Error ? err.cause : err;
      req.log.error({ reqId: req.id, code: e.code, err: { message: cause.message, stack: cause.stack } }, 'request failed on a bug');
    } else if (e.status >= 500) req.log.error({ reqId: req.id, code: e.code, err: err.message }, 'request failed');
    reply.status(e.status).send(errorBody(e.code, e.message));
  });
  app.setNotFoundHandler((req, reply) => {
    reply.status(404).send(errorBody('NOT_FOUND', `No route ${req.method} ${req.url.split('?')[0]}`));
  });
  app.addHook('onResponse', (req, reply, done) => {
    httpRequests.inc({ route: req.routeOptions.url ?? 'unmatched', status: `${Math.floor(reply.statusCode / 100)}xx` });
    done();
  });

  // The OpenAPI document is generated from the route schemas (it must see every route, so
  // it is registered, and awaited, before them).
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'abusegate', version: '1', description: "The abuse desk's edge gateway: suppressions, events, accounts, abuse reports, cases, preflight." },
      components: {
        securitySchemes: {
          admin: { type: 'http', scheme: 'bearer', description: 'ABUSEGATE_ADMIN_TOKEN' },
          platform: { type: 'http', scheme: 'bearer', description: 'ABUSEGATE_PLATFORM_TOKEN (an admin token is accepted too)' },
        },
      },
    },
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', readyz(deps.ready, deps.warnings));

  // With an internal listener, /metrics lives there only; otherwise behind the platform token.
  if (deps.metrics) app.get('/metrics', { preHandler: deps.metrics, schema: { hide: true } }, metricsHandler);

  deps.routes?.(app);
  if (deps.fastPath) inFrontOf(app, deps.fastPath);
  return app;
}

/**
 * Puts `fast` in front of fastify's request handler on fastify's own server (so every
 * server setting fastify made — timeouts, keep-alive — holds for both). From close on,
 * fastify sees every request, to answer it 503 as it does while closing.
 */
function inFrontOf(app: FastifyInstance, fast: FastPath): void {
  const [handler] = app.server.listeners('request') as Array<(req: IncomingMessage, res: ServerResponse) => void>;
  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  app.server.removeListener('request', handler);
  app.server.on('request', (req: IncomingMessage, res: ServerResponse) => (closing ? handler(req, res) : fast(req, res, handler)));
}
