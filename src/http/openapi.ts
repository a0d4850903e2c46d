import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance, FastifySchema, RouteOptions } from 'fastify';
import { SEALPOST_VERSION } from '../delivery/forwarded-request.js';
import { problemResponse } from './problem.schema.js';
import { CSRF_HEADER, SESSION_COOKIE } from '../identity/sessions/session-cookie.js';
import { ruleFor, type RouteRule } from '../identity/permissions.js';
import { pageCsp } from './html/csp.js';

export const OPENAPI_PATH = '/v1/openapi.json';
export const DOCS_PATH = '/docs';

/**
 * The docs page runs Swagger UI's bundled script and styles from this server and talks to
 * this server only: nothing from a CDN, no inline script, no frames, no forms posting elsewhere.
 * `data:` images are Swagger UI's own icons.
 */
export const DOCS_CSP = pageCsp({ scripts: true, connect: true, fonts: true, formAction: 'none' });

type ResponseMap = Record<string, unknown>;

/** `GET /v1/destinations/:id/replay` → `getV1DestinationsIdReplay`: stable, unique, readable by SDK generators. */
function operationId(method: string, url: string): string {
  const words = url.split(/[^A-Za-z0-9]+/).filter(Boolean);
  return method.toLowerCase() + words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join('');
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The route's rule in the permission table (src/identity/permissions.ts); routes outside `/v1` (and the document itself) are public. */
function ruleOf(method: string, url: string): RouteRule {
  if (url === OPENAPI_PATH || !(url.startsWith('/v1/') || url.startsWith('/staff/v1/'))) return { access: 'public' };
  // A `/v1` route missing from the table is refused by the authorization hook (fail closed); its
  // document says it needs credentials, and test/identity/permission-table keeps the table whole.
  return ruleFor(method, url) ?? { access: 'any', permission: 'keys:manage' };
}

/**
 * The document's `security` for a rule: an API key as a bearer token, or an operator session
 * (its cookie, and on state-changing methods the CSRF header too); `[]` for public routes.
 */
function securityOf(method: string, rule: RouteRule): Record<string, string[]>[] {
  const session: Record<string, string[]> = SAFE_METHODS.has(method) ? { session: [] } : { session: [], csrf: [] };
  switch (rule.access) {
    case 'public':
      return [];
    case 'api_key':
      return [{ apiKey: [] }];
    case 'session':
      return [session];
    case 'any':
      return [{ apiKey: [] }, session];
    case 'staff':
      return [SAFE_METHODS.has(method) ? { staffSession: [] } : { staffSession: [], csrf: [] }];
  }
}

/** The 401/403 answers the authorization hook (src/http/auth.plugin.ts) gives under a rule. */
function authErrors(method: string, rule: RouteRule): ResponseMap {
  if (rule.access === 'public') return {};
  const refusals: string[] = [];
  if (rule.access === 'api_key') refusals.push('the API key lacks the scope (SP_ERR_AUTH_SCOPE_MISSING) or a session was sent (SP_ERR_AUTH_API_KEY_REQUIRED)');
  if (rule.access === 'any') refusals.push(`the credentials lack the ${rule.permission} permission (SP_ERR_AUTH_SCOPE_MISSING, SP_ERR_AUTH_PLAN_REQUIRED)`);
  if (rule.access === 'session') {
    refusals.push('an API key was sent (SP_ERR_AUTH_SESSION_REQUIRED)');
    if (rule.permission) refusals.push(`the session lacks the ${rule.permission} permission (SP_ERR_AUTH_SCOPE_MISSING)`);
  }
  if (rule.access !== 'api_key' && !(rule.access === 'session' && rule.beforeSecondFactor)) refusals.push('the session has not completed its second factor (SP_ERR_AUTH_SECOND_FACTOR_REQUIRED)');
  if (rule.access !== 'api_key' && !SAFE_METHODS.has(method)) refusals.push(`a session without the \`${CSRF_HEADER}\` header or from a foreign Origin (SP_ERR_AUTH_CSRF)`);
  if (rule.access === 'staff') refusals.push('not a staff session, or its WebAuthn step is not done (SP_ERR_STAFF_REQUIRED)');
  const who = rule.access === 'api_key' ? 'API key' : rule.access === 'session' ? 'session' : rule.access === 'staff' ? 'staff session' : 'API key or session';
  return {
    '401': problemResponse(`Missing, unknown, expired or revoked ${who} (SP_ERR_AUTH_UNAUTHENTICATED)`),
    '403': problemResponse(`Refused: ${refusals.join('; ')}`),
  };
}

/**
 * The error answers every route can give, from what the route is: errors are produced in one
 * place (error-handler.ts, the rate limits, the authentication hook), not by each route, so they
 * are described in one place too. A route lists its own domain errors (409…) in its schema.
 */
function errorResponses(method: string, url: string, schema: FastifySchema): ResponseMap {
  const errors: ResponseMap = {};
  if (schema.params !== undefined || schema.querystring !== undefined || schema.body !== undefined) {
    errors['400'] = problemResponse('The request does not match this operation\'s schema (SP_ERR_HTTP_BAD_REQUEST)');
  }
  Object.assign(errors, authErrors(method, ruleOf(method, url)));
  if (schema.params !== undefined) errors['404'] = problemResponse('No such resource for this tenant (SP_ERR_RESOURCE_NOT_FOUND)');
  if (schema.body !== undefined) {
    errors['413'] = problemResponse('The request body is larger than this operation accepts (SP_ERR_HTTP_BODY_TOO_LARGE)');
    errors['415'] = problemResponse('The request Content-Type is not accepted here (SP_ERR_HTTP_UNSUPPORTED_MEDIA_TYPE)');
  }
  errors['429'] = problemResponse('Rate limit exceeded; retry after the `retry-after` header\'s seconds (SP_ERR_HTTP_RATE_LIMITED)');
  errors['500'] = problemResponse('Internal error; the detail holds a reference to quote (SP_ERR_INTERNAL_ERROR)');
  errors['503'] = problemResponse('A dependency (database, key provider, blob storage) is unavailable; retry later');
  return errors;
}

/** Descriptions for success answers whose schema has none (the generator would write "Default Response"). */
const SUCCESS_DESCRIPTIONS: Readonly<Record<string, string>> = { '200': 'OK', '201': 'Created', '202': 'Accepted', '204': 'No content' };

function described(responses: ResponseMap): ResponseMap {
  return Object.fromEntries(
    Object.entries(responses).map(([status, schema]) => {
      const has = typeof (schema as { description?: unknown }).description === 'string';
      return [status, has || !SUCCESS_DESCRIPTIONS[status] ? schema : { ...(schema as object), description: SUCCESS_DESCRIPTIONS[status] }];
    }),
  );
}

/** @fastify/swagger `transform`: adds the error answers, tags, security and operation id to a route's own schema. */
function describeRoute({ schema, url, route }: { schema: FastifySchema | undefined; url: string; route: RouteOptions }): { schema: FastifySchema; url: string } {
  const own = schema ?? {};
  // The staff API (/staff/v1) is the deployment's own operations API, for its staff and not its
  // tenants (docs/identity.md "Staff"): it stays out of the tenant-facing document.
  if (url.startsWith('/staff/')) return { schema: { ...own, hide: true } as FastifySchema, url };
  const method = Array.isArray(route.method) ? String(route.method[0]) : String(route.method);
  const resource = url.startsWith('/.well-known/') ? 'well-known' : (url.split('/').filter(Boolean)[url.startsWith('/v1/') ? 1 : 0] ?? 'service');
  return {
    schema: {
      ...own,
      operationId: operationId(method, url),
      tags: [resource],
      security: securityOf(method, ruleOf(method, url)),
      // The route's own entries win: a route may describe an error more precisely.
      response: { ...errorResponses(method, url, own), ...described((own.response as ResponseMap | undefined) ?? {}) },
    } as FastifySchema,
    url,
  };
}

/**
 * OpenAPI 3.1 from the route schemas (@fastify/swagger), served at `/v1/openapi.json`, and
 * Swagger UI at `/docs` with its assets bundled in the package (@fastify/swagger-ui). Register
 * before any route: the document is built from the routes registered after it.
 */
export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Sealpost API',
        version: SEALPOST_VERSION,
        description:
          'Security-first payload relay: HTTPS and SMTP ingress, encryption at rest, signed forwarding and receipts. Errors are RFC 9457 problem+json with a stable `code`.',
        license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
      },
      components: {
        securitySchemes: {
          apiKey: { type: 'http', scheme: 'bearer', description: 'An API key (`sp_live_…`) as a bearer token' },
          session: {
            type: 'apiKey',
            in: 'cookie',
            name: SESSION_COOKIE,
            description: 'An operator session (`POST /v1/auth/login`, or SSO); most routes need its second factor completed',
          },
          staffSession: {
            type: 'apiKey',
            in: 'cookie',
            name: '__Host-sealpost_staff',
            description: 'A staff session (the deployment\'s own OIDC provider, then WebAuthn with user verification); tenant data also needs the `sealpost-staff-grant` header naming an approved grant',
          },
          csrf: {
            type: 'apiKey',
            in: 'header',
            name: CSRF_HEADER,
            description: 'The session\'s CSRF token (`csrf_token` of the sign-in answer), required with the session cookie on every state-changing request',
          },
        },
      },
    },
    transform: describeRoute,
  });

  app.get(OPENAPI_PATH, { schema: { hide: true } }, async (_request, reply) =>
    // Sent as the cached document's JSON text: no response schema may reshape it.
    reply.type('application/json; charset=utf-8').header('cache-control', 'public, max-age=300').send(JSON.stringify(app.swagger())),
  );

  await app.register(swaggerUi, {
    routePrefix: DOCS_PATH,
    staticCSP: DOCS_CSP,
    // Without a logo option the plugin inlines its own as a data: URL; no logo keeps the page plain.
    logo: null as unknown as undefined,
    uiConfig: { deepLinking: true, tryItOutEnabled: false },
  });
}
