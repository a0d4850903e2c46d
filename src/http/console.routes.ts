import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { SealpostError } from '../errors/sealpost-error.js';
import type { Logger } from '../logging/logger.js';
import { mediaResponse } from './problem.schema.js';
import { pageCsp } from './html/csp.js';

export const CONSOLE_PATH = '/console';
/** The public receipt checker: no sign-in, the same bundle's second entry. */
export const VERIFY_PATH = '/verify';

/**
 * The console's policy: its own bundled scripts, styles and images only, no inline script or
 * style (Vite emits each as a file), `data:` images for the TOTP QR code, API calls to this
 * origin only, never framed, no `<base>`, forms post nowhere else. Payload content is rendered
 * as text, so even a rendering bug leaves an injected `<script>` or `on…=` handler inert.
 */
export const CONSOLE_CSP = pageCsp({ scripts: true, connect: true, fonts: true });

/** Hashed asset names change with their content, so a year's cache never serves a stale file. */
const IMMUTABLE = 'public, max-age=31536000, immutable';

const MEDIA_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.json': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

interface ConsoleFile {
  readonly body: Buffer;
  readonly type: string;
}

/** The built console, read once: only these files are ever served, so no request path reaches the file system. */
export interface ConsoleBundle {
  readonly dir: string;
  readonly index: Buffer;
  /** The public `/verify` page, when the bundle has it. */
  readonly verify: Buffer | undefined;
  /** Files by their path under the bundle (`assets/index-abc.js`). */
  readonly files: ReadonlyMap<string, ConsoleFile>;
}

/**
 * Where the built console is: `dist/console` beside the compiled server (the published package,
 * `npm start`), or the workspace's own `packages/console/dist` (running from source, tests).
 */
export function findConsoleDir(here = import.meta.dirname): string | undefined {
  const candidates = [path.resolve(here, '../console'), path.resolve(here, '../../packages/console/dist')];
  return candidates.find((dir) => existsSync(path.join(dir, 'index.html')));
}

export function loadConsoleBundle(dir: string): ConsoleBundle {
  const files = new Map<string, ConsoleFile>();
  const walk = (sub: string): void => {
    for (const entry of readdirSync(path.join(dir, sub), { withFileTypes: true })) {
      const rel = sub === '' ? entry.name : `${sub}/${entry.name}`;
      if (entry.isDirectory()) walk(rel);
      else if (entry.isFile()) files.set(rel, { body: readFileSync(path.join(dir, rel)), type: MEDIA_TYPES[path.extname(entry.name)] ?? 'application/octet-stream' });
    }
  };
  walk('');
  const index = files.get('index.html');
  if (!index) throw new Error(`no index.html in the console bundle at ${dir}`);
  return { dir, index: index.body, verify: files.get('verify.html')?.body, files };
}

function notFound(): SealpostError {
  return new SealpostError('SP_ERR_HTTP_NOT_FOUND', 'No route matches this method and path');
}

export interface ConsoleRouteOptions {
  readonly logger: Logger;
  /** The built console; absent: found with findConsoleDir. */
  readonly bundle?: ConsoleBundle;
}

/**
 * `GET /console` and `/console/*`: the operator console, a single-page app that talks only to
 * the public `/v1` API with the session cookie. Public and data-free: every page loads its data
 * through the API, which checks the session. Client routes (`/console/payloads/…`) answer the
 * index page, never cached, so a deployment's new bundle is picked up at once; hashed assets are
 * cached for a year.
 */
export async function consoleRoutes(app: FastifyInstance, options: ConsoleRouteOptions): Promise<void> {
  let bundle = options.bundle;
  if (!bundle) {
    const dir = findConsoleDir();
    if (!dir) {
      options.logger.warn('the operator console is not built (npm run build); /console is not served');
      return;
    }
    try {
      bundle = loadConsoleBundle(dir);
    } catch (err) {
      // A broken bundle (a build half-written) costs the console, never the API.
      options.logger.error({ err, dir }, 'the operator console bundle could not be read; /console is not served');
      return;
    }
  }
  const { index, verify, files } = bundle;

  const page = (reply: FastifyReply, body: Buffer = index): FastifyReply =>
    reply.type('text/html; charset=utf-8').header('content-security-policy', CONSOLE_CSP).header('cache-control', 'no-store').send(body);

  // An application for people, not an API operation: left out of the OpenAPI document.
  const schema = { hide: true, response: { 200: mediaResponse('the operator console: its page, or one of its assets', ['text/html', 'text/javascript', 'text/css']) } };
  app.get(CONSOLE_PATH, { schema }, async (_request, reply) => page(reply));
  app.get<{ Params: { '*': string } }>(
    `${CONSOLE_PATH}/*`,
    { schema },
    async (request, reply) => {
      const rel = request.params['*'];
      const file = files.get(rel);
      if (rel === 'index.html') return page(reply);
      // Pages are served only at their own paths, never cached as if they were hashed assets.
      if (file && !rel.endsWith('.html')) {
        return reply.type(file.type).header('content-security-policy', CONSOLE_CSP).header('cache-control', IMMUTABLE).send(file.body);
      }
      // A missing asset is a 404, not the page: a stale tab asking for an old chunk must fail visibly.
      if (rel.startsWith('assets/') || path.extname(rel) !== '') throw notFound();
      return page(reply);
    },
  );
  if (verify) app.get(VERIFY_PATH, { schema }, async (_request, reply) => page(reply, verify));
}
