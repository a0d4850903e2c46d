import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { SEALPOST_VERSION } from '../delivery/forwarded-request.js';
import { DOCS_PATH, OPENAPI_PATH } from './openapi.js';
import { mediaResponse } from './problem.schema.js';

/** The page's only style, inline; the CSP allows exactly this text by its hash, and nothing else. */
const STYLE = 'body{font:16px/1.5 system-ui,sans-serif;max-width:42rem;margin:3rem auto;padding:0 1rem;color:#1b1b1b}code{font-size:.9em}li{margin:.3rem 0}';
const STYLE_HASH = createHash('sha256').update(STYLE).digest('base64');

/** No script, no frames, no forms, nothing from elsewhere: only the hashed style. */
export const HOME_CSP = `default-src 'none'; style-src 'sha256-${STYLE_HASH}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;

const LINKS: readonly { readonly href: string; readonly text: string }[] = [
  { href: DOCS_PATH, text: 'API documentation' },
  { href: OPENAPI_PATH, text: 'OpenAPI 3.1 document' },
  { href: '/.well-known/sealpost-log-key', text: 'Audit log verifier key (pin it to check checkpoints)' },
  { href: '/healthz', text: 'Liveness' },
  { href: '/readyz', text: 'Readiness' },
];

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>Sealpost</title>
<style>${STYLE}</style>
</head>
<body>
<h1>Sealpost</h1>
<p>A security-first payload relay: HTTPS and SMTP ingress, encryption at rest, signed forwarding.</p>
<ul>
${LINKS.map((link) => `<li><a href="${link.href}">${link.text}</a></li>`).join('\n')}
<li>Signing keys of a tenant (hand this URL to its receivers): <code>/.well-known/sealpost/tenants/&lt;tenant&gt;/jwks.json</code></li>
</ul>
<p><small>Sealpost ${SEALPOST_VERSION}</small></p>
</body>
</html>
`;

/**
 * `GET /`: a small page that says what this server is and links its public documents, instead
 * of a 404. It names no tenant and no setting: anyone who can reach the port may read it.
 */
export async function homeRoutes(app: FastifyInstance): Promise<void> {
  app.get('/', { schema: { response: { 200: mediaResponse('a page linking the API documentation and the public documents', ['text/html']) } } }, async (_request, reply) =>
    reply.type('text/html; charset=utf-8').header('content-security-policy', HOME_CSP).header('cache-control', 'public, max-age=300').send(PAGE),
  );
}
