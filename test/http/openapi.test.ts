import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONSOLE_PATH, VERIFY_PATH } from '../../src/http/console.routes.js';
import { DOCS_CSP, DOCS_PATH, OPENAPI_PATH } from '../../src/http/openapi.js';
import { PROBLEM_MEDIA_TYPE } from '../../src/http/problem.schema.js';
import { ruleFor } from '../../src/identity/permissions.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

interface Operation {
  operationId?: string;
  parameters?: { in: string; name: string }[];
  requestBody?: { content: Record<string, unknown> };
  responses: Record<string, { description: string; content?: Record<string, { schema?: unknown }> }>;
  security?: unknown[];
}
interface Document {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
}

/** The routes that are the documentation itself, and the operator console and /verify (applications for people, not API operations). */
const isDocumentationRoute = (url: string): boolean =>
  url === OPENAPI_PATH || url === DOCS_PATH || url.startsWith(`${DOCS_PATH}/`) || url === CONSOLE_PATH || url.startsWith(`${CONSOLE_PATH}/`) || url === VERIFY_PATH;

/** POST routes that take no body: the action is in the URL (and the session). */
const BODYLESS = new Set([
  'POST /v1/deliveries/:id/retry',
  'POST /v1/destinations/:id/test',
  'POST /v1/sso/domains/:domain/verify',
  'POST /v1/auth/webauthn/authentication-options',
  'POST /v1/auth/webauthn/registration-options',
  'POST /v1/auth/totp/enrolment',
  'POST /v1/auth/recovery-codes',
  'POST /v1/auth/logout',
]);

/** What the permission table says the document must show as the route's security. */
function expectedSecurity(method: string, url: string): unknown[] {
  const rule = ruleFor(method, url);
  if (rule === undefined || rule.access === 'public') return [];
  const session = ['GET', 'HEAD'].includes(method) ? { session: [] } : { session: [], csrf: [] };
  if (rule.access === 'api_key') return [{ apiKey: [] }];
  if (rule.access === 'session') return [session];
  return [{ apiKey: [] }, session];
}

/** Fastify `/a/:id` → OpenAPI `/a/{id}`. */
const openApiPath = (url: string): string => url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

describe('OpenAPI document and docs page', () => {
  let app: TestApp;
  let document: Document;

  beforeAll(async () => {
    app = await startTestApp('sqlite');
    const res = await app.fetch(OPENAPI_PATH);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    document = (await res.json()) as Document;
  });
  afterAll(async () => {
    await app?.close();
  });

  it('is a valid OpenAPI 3.1 document', async () => {
    expect(document.openapi).toBe('3.1.0');
    const result = await new Validator().validate(document as unknown as Record<string, unknown>);
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
  });

  it('is served without an API key', async () => {
    const res = await app.fetch(OPENAPI_PATH, { token: 'sp_live_not-a-key' });
    expect(res.status).toBe(200);
    expect(((await res.json()) as Document).paths).toEqual(document.paths);
  });

  it('leaves the staff API out of the tenant-facing document', () => {
    const staffRoutes = app.server.routes.filter((r) => r.url.startsWith('/staff/'));
    expect(staffRoutes.length).toBeGreaterThan(0);
    expect(Object.keys(document.paths).filter((p) => p.startsWith('/staff/'))).toEqual([]);
  });

  it('documents every registered route with its request schemas, its success answer and its error answers', () => {
    // The staff API (/staff/v1) serves the deployment's own people, not tenants: docs/identity.md.
    const routes = app.server.routes.filter((r) => r.method !== 'HEAD' && !isDocumentationRoute(r.url) && !r.url.startsWith('/staff/'));
    expect(routes.length).toBeGreaterThan(25);
    const problems: string[] = [];
    for (const route of routes) {
      const where = `${route.method} ${route.url}`;
      const op = document.paths[openApiPath(route.url)]?.[route.method.toLowerCase()];
      if (op === undefined) {
        problems.push(`${where}: missing from the document`);
        continue;
      }
      const schema = route.schema ?? {};
      const statuses = Object.keys(op.responses);
      // The success answer comes from the route's own response schema, not the generator's placeholder
      // (a redirect, for the SSO entry points that send the browser to the IdP).
      const ownSuccess = Object.keys((schema.response as Record<string, unknown> | undefined) ?? {}).filter((s) => /^[23]/.test(s));
      if (ownSuccess.length === 0) problems.push(`${where}: no 2xx or 3xx response schema on the route`);
      for (const status of ownSuccess) {
        const response = op.responses[status];
        if (!response) problems.push(`${where}: ${status} missing`);
        else if (/^2/.test(status) && status !== '204' && response.content === undefined) problems.push(`${where}: ${status} has no content`);
      }
      const pathParams = [...route.url.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => m[1]);
      for (const name of pathParams) {
        if (!op.parameters?.some((p) => p.in === 'path' && p.name === name)) problems.push(`${where}: path parameter ${name} undocumented`);
      }
      if (schema.querystring !== undefined && !op.parameters?.some((p) => p.in === 'query')) problems.push(`${where}: query undocumented`);
      if (schema.body !== undefined && op.requestBody === undefined) problems.push(`${where}: request body undocumented`);
      if (['POST', 'PUT', 'PATCH'].includes(route.method) && schema.body === undefined && !BODYLESS.has(where)) {
        problems.push(`${where}: takes a body but has no body schema`);
      }

      const security = expectedSecurity(route.method, route.url);
      const expectedErrors = ['429', '500', ...(security.length > 0 ? ['401', '403'] : []), ...(pathParams.length > 0 ? ['404', '400'] : [])];
      for (const status of expectedErrors) {
        if (!statuses.includes(status)) problems.push(`${where}: error ${status} undocumented`);
      }
      for (const status of statuses.filter((s) => /^[45]/.test(s))) {
        if (op.responses[status]?.content?.[PROBLEM_MEDIA_TYPE] === undefined) problems.push(`${where}: ${status} is not problem+json`);
      }
      if (JSON.stringify(op.security) !== JSON.stringify(security)) problems.push(`${where}: security ${JSON.stringify(op.security)}, the permission table says ${JSON.stringify(security)}`);
    }
    expect(problems).toEqual([]);
  });

  it('documents both credentials: an API key, or a session cookie with its CSRF header', () => {
    const schemes = (document as unknown as { components: { securitySchemes: Record<string, Record<string, string>> } }).components.securitySchemes;
    expect(schemes.apiKey).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(schemes.session).toMatchObject({ type: 'apiKey', in: 'cookie', name: '__Host-sealpost_session' });
    expect(schemes.csrf).toMatchObject({ type: 'apiKey', in: 'header', name: 'x-sealpost-csrf' });
    // Public: sign-in and the SSO entry points; a session-only route takes no API key.
    expect(document.paths['/v1/auth/login']?.post?.security).toEqual([]);
    expect(document.paths['/v1/auth/oidc/{tenant}/start']?.get?.responses['302']).toBeDefined();
    expect(document.paths['/v1/auth/sessions']?.get?.security).toEqual([{ session: [] }]);
    expect(document.paths['/v1/payloads']?.post?.security).toEqual([{ apiKey: [] }]);
    expect(document.paths['/v1/members']?.post?.security).toEqual([{ apiKey: [] }, { session: [], csrf: [] }]);
  });

  it('gives every operation a unique operation id', () => {
    const ids = Object.values(document.paths).flatMap((methods) => Object.values(methods).map((op) => op.operationId));
    expect(ids.every((id) => typeof id === 'string')).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('serves the docs page from bundled assets under a strict CSP', async () => {
    const res = await app.fetch(DOCS_PATH);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('content-security-policy')).toBe(DOCS_CSP);
    const html = await res.text();
    // Every script and stylesheet is a path on this server: no CDN, nothing inline.
    const sources = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(sources.length).toBeGreaterThan(2);
    for (const source of sources) expect(source).toMatch(/^\/docs\/static\/[\w.-]+$/);
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    for (const source of sources.filter((s) => s.endsWith('.js'))) {
      const asset = await app.fetch(source);
      expect(asset.status, source).toBe(200);
      await asset.arrayBuffer();
    }
  });

  it('the docs page loads the same document', async () => {
    const res = await app.fetch(`${DOCS_PATH}/json`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(document);
  });
});
