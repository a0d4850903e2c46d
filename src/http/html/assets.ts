import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { mediaResponse } from '../problem.schema.js';
import { SITE_CSS } from './site.css.js';

/** A static file of the server-rendered pages, addressed by its content hash so it can be cached for good. */
export interface StaticAsset {
  /** `/assets/<name>-<first 12 hex of SHA-256>.<ext>`: a changed file gets a new URL. */
  readonly path: string;
  readonly contentType: string;
  readonly body: string;
}

const ASSET_PREFIX = '/assets/';

/** A year: the path changes whenever the content does, so a cached copy is never stale. */
const IMMUTABLE = 'public, max-age=31536000, immutable';

/** Names `body` by its hash under /assets/; a page links it by the returned `path`. */
export function defineAsset(name: string, extension: string, contentType: string, body: string): StaticAsset {
  const hash = createHash('sha256').update(body).digest('hex').slice(0, 12);
  return { path: `${ASSET_PREFIX}${name}-${hash}.${extension}`, contentType, body };
}

export const SITE_STYLESHEET = defineAsset('site', 'css', 'text/css; charset=utf-8', SITE_CSS);

/**
 * The assets the server serves. A page that needs a script adds its asset here (one file per
 * script, no inline code) and renders the layout with `scripts: [asset.path]`.
 */
export const STATIC_ASSETS: readonly StaticAsset[] = [SITE_STYLESHEET];

/** `GET /assets/…`: public, static, immutable files; no tenant data and nothing per request. */
export async function assetRoutes(app: FastifyInstance, options: { assets?: readonly StaticAsset[] } = {}): Promise<void> {
  for (const asset of options.assets ?? STATIC_ASSETS) {
    app.get(asset.path, { schema: { response: { 200: mediaResponse('a static file of the server-rendered pages', [asset.contentType.split(';')[0]!]) } } }, async (_request, reply) =>
      reply.type(asset.contentType).header('cache-control', IMMUTABLE).send(asset.body),
    );
  }
}
