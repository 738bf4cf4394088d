/**
 * The HTTP edge (fastify): health, readiness, metrics and the API. Routes translate HTTP
 * to domain calls; every error leaves as `{error: {code, message}}` with a catalogue code.
 */
import swagger from '@fastify/swagger';
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance, LogController } from 'fastify';
import type { Config } from '../config/schema.js';
import { ERRORS, type ErrorCode, GatewayError } from '../errors.js';
import type { Logger } from '../log.js';
import { httpRequests, registry } from '../metrics.js';

export interface HttpDeps {
  log: Logger;
  /** Registers the API routes (the wiring lives in gateway.ts). */
  routes?: (app: FastifyInstance) => void;
  /** Readiness checks: each returns true when its part is up. */
  ready: Record<string, () => Promise<boolean> | boolean>;
}

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

export async function createHttpServer(cfg: Config['http'], deps: HttpDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.log.child({ edge: 'http' }) as unknown as FastifyBaseLogger,
    // One log line per request would drown the SMTP lines; errors are logged by the handler.
    logController: new LogController({ disableRequestLogging: true }),
    // No child logger per request (fastify's default builds one, redaction and all, for
    // every lookup): the few lines a request logs carry its id themselves.
    childLoggerFactory: (logger) => logger,
    bodyLimit: cfg.bodyLimit,
    // Path parameters carry tokens: a long attribution token (/u/, up to 640) or a consent link (/c/, up to 2,048).
    maxParamLength: 2048,
    // No silent dropping of unknown fields: additionalProperties: false rejects them.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false } },
  });

  // RFC 8058 one-click POSTs and the abuse form are application/x-www-form-urlencoded.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });
  // multipart/form-data one-click POSTs (some providers send those) carry one small field.
  app.addContentTypeParser('multipart/form-data', { parseAs: 'string' }, (req, body, done) => {
    const m = /boundary=("?)([^";]+)\1/i.exec(req.headers['content-type'] ?? '');
    const fields: Record<string, string> = {};
    if (m) {
      for (const part of (body as string).split('--' + m[2])) {
        const f = /name="([^"]+)"\r?\n\r?\n([\s\S]*?)\r?\n$/.exec(part);
        if (f) fields[f[1]] = f[2];
      }
    }
    done(null, fields);
  });

  app.setErrorHandler((err: FastifyError, req, reply) => {
    const e = fromFastify(err);
    if (e.status >= 500) req.log.error({ reqId: req.id, code: e.code, err: err.message }, 'request failed');
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
      components: { securitySchemes: { admin: { type: 'http', scheme: 'bearer', description: 'ABUSEGATE_ADMIN_TOKEN' } } },
    },
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_req, reply) => {
    const checks: Record<string, boolean> = {};
    for (const [name, check] of Object.entries(deps.ready)) {
      try {
        checks[name] = await check();
      } catch {
        checks[name] = false;
      }
    }
    const ok = Object.values(checks).every(Boolean);
    reply.status(ok ? 200 : 503).send({ status: ok ? 'ready' : 'not ready', checks });
  });

  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', registry.contentType).send(await registry.metrics());
  });

  deps.routes?.(app);
  return app;
}
