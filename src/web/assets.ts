/**
 * Static files of the pages (one stylesheet, small progressive-enhancement scripts), read
 * once at start from src/web/assets/ and served from memory with a strong ETag. Only files
 * present at start exist: the name in the URL never reaches the file system.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';

const ASSET_DIR = new URL('../../src/web/assets/', import.meta.url);
const TYPES: Record<string, string> = { css: 'text/css; charset=utf-8', js: 'text/javascript; charset=utf-8', svg: 'image/svg+xml', png: 'image/png', ico: 'image/x-icon' };

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

function load(): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const name of readdirSync(ASSET_DIR)) {
    const type = TYPES[name.slice(name.lastIndexOf('.') + 1)];
    if (!type) continue;
    const body = readFileSync(new URL(name, ASSET_DIR));
    assets.set(name, { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` });
  }
  return assets;
}

export function assetRoutes(app: FastifyInstance): void {
  const assets = load();
  app.get<{ Params: { name: string } }>('/assets/:name', { schema: { hide: true } }, async (req, reply) => {
    const a = assets.get(req.params.name);
    if (!a) return reply.status(404).send({ error: { code: 'NOT_FOUND', message: 'No such asset' } });
    reply.header('content-type', a.type).header('etag', a.etag).header('x-content-type-options', 'nosniff').header('cache-control', 'public, max-age=3600');
    if (req.headers['if-none-match'] === a.etag) return reply.status(304).send();
    return reply.send(a.body);
  });
}
