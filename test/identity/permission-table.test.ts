import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorizeHook } from '../../src/http/auth.plugin.js';
import { registerErrorHandling } from '../../src/http/error-handler.js';
import { ROLE_PERMISSIONS, ROLES, ruleFor, type Role } from '../../src/identity/permissions.js';
import { scopesWithin } from '../../src/identity/scopes.js';
import { asOperator, signInAs, TestClock, type SignedInOperator } from '../support/operators.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { testDialects } from '../support/test-database.js';

/** Answers that mean "the permission table refused this caller". */
const REFUSALS = new Set(['SP_ERR_AUTH_SCOPE_MISSING', 'SP_ERR_AUTH_API_KEY_REQUIRED', 'SP_ERR_AUTH_SESSION_REQUIRED']);
/** Routes the walk does not call: logging out would end the session the walk uses (covered in sessions.test.ts). */
const NOT_WALKED = new Set(['POST /v1/auth/logout']);

describe.each(testDialects())('the permission table on %s', { timeout: 240_000 }, (dialect) => {
  let app: TestApp;
  let tenant: string;
  const clock = new TestClock();
  const sessions = new Map<Role, SignedInOperator>();
  const keys = new Map<Role, string>();

  beforeAll(async () => {
    app = await startTestApp(dialect, { env: { SEALPOST_RATE_LIMIT_PER_KEY: '100000' }, overrides: { identityClock: clock.now } });
    const created = await app.createTenant('operation');
    tenant = created.tenant;
    for (const role of ROLES) {
      sessions.set(role, await signInAs(app, clock, tenant, role));
      const res = await app.fetch('/v1/api-keys', { method: 'POST', token: created.apiKey, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: role, scopes: scopesWithin(new Set(ROLE_PERMISSIONS[role])) }) });
      keys.set(role, ((await res.json()) as { api_key: string }).api_key);
    }
  });
  afterAll(async () => {
    await app?.close();
  });

  const walked = () => app.services.routes.filter((r) => r.method !== 'HEAD' && !NOT_WALKED.has(`${r.method} ${r.url}`));
  const urlOf = (pattern: string): string => pattern.replace(':tenant', tenant).replace(/:[a-z_]+/g, 'x');

  async function call(method: string, url: string, headers: Record<string, string>): Promise<{ status: number; code: string | undefined }> {
    const res = await app.fetch(urlOf(url), { method, headers });
    const text = await res.text();
    let code: string | undefined;
    try {
      code = (JSON.parse(text) as { code?: string }).code;
    } catch {
      code = undefined;
    }
    return { status: res.status, code };
  }

  it('has a rule for every registered /v1 route', () => {
    expect(app.services.routes.length).toBeGreaterThan(40);
    expect(app.services.routes.filter((r) => !ruleFor(r.method, r.url)).map((r) => `${r.method} ${r.url}`)).toEqual([]);
  });

  it('refuses a route missing from the table (fail closed)', async () => {
    const bare = Fastify();
    registerErrorHandling(bare);
    await bare.register(async (v1) => {
      v1.addHook('onRequest', authorizeHook({ keys: app.services.keys, origin: app.context.origin, now: Date.now }));
      v1.get('/v1/unlisted', async () => ({ leaked: true }));
    });
    const res = await bare.inject({ method: 'GET', url: '/v1/unlisted', headers: { authorization: `Bearer ${keys.get('owner')!}` } });
    await bare.close();
    expect(res.statusCode).toBe(403);
    expect(res.json()).toMatchObject({ code: 'SP_ERR_AUTH_SCOPE_MISSING' });
  });

  it.each(ROLES)('gives a %s session exactly the routes its role allows', async (role) => {
    const held = new Set(ROLE_PERMISSIONS[role]);
    const mismatches: string[] = [];
    for (const route of walked()) {
      const rule = ruleFor(route.method, route.url)!;
      if (rule.access === 'public') continue;
      const allowed = rule.access !== 'api_key' && (!('permission' in rule) || rule.permission === undefined || held.has(rule.permission));
      const answer = await call(route.method, route.url, asOperator(sessions.get(role)!));
      const refused = answer.status === 403 && REFUSALS.has(answer.code ?? '');
      if (refused === allowed || answer.status === 401) mismatches.push(`${route.method} ${route.url}: ${answer.status} ${answer.code ?? ''}`);
    }
    expect(mismatches).toEqual([]);
  });

  it.each(ROLES)('answers an API key and a %s session with the same permissions alike', async (role) => {
    const session = asOperator(sessions.get(role)!);
    const key = { authorization: `Bearer ${keys.get(role)!}` };
    const differences: string[] = [];
    for (const route of walked()) {
      const rule = ruleFor(route.method, route.url)!;
      // Only routes both kinds of credential may be given: no scope grants member or policy permissions.
      if (rule.access !== 'any' || ['members:read', 'members:manage', 'policies:read', 'policies:manage'].includes(rule.permission)) continue;
      // Creating twice would differ by the second one's conflict, not by the credential.
      if (route.method === 'POST' && route.url === '/v1/inboxes') continue;
      const [byKey, bySession] = [await call(route.method, route.url, key), await call(route.method, route.url, session)];
      if (byKey.status !== bySession.status || byKey.code !== bySession.code) {
        differences.push(`${route.method} ${route.url}: key ${byKey.status} ${byKey.code ?? ''} / session ${bySession.status} ${bySession.code ?? ''}`);
      }
    }
    expect(differences).toEqual([]);
  });
});
