import { Type, type Static } from '@sinclair/typebox';
import type { AuthenticationResponseJSON, RegistrationResponseJSON } from '@simplewebauthn/server';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { idPattern } from '../../crypto/ids.js';
import { authOf, staffOf } from '../../http/auth.plugin.js';
import { PLANS } from '../scopes.js';
import type { TenantService } from '../tenant.service.js';
import { GRANT_SCOPES } from './grant.repository.js';
import type { GrantService } from './grant.service.js';
import { LOGIN_STATE_TTL_MS } from '../sso/oidc-login.service.js';
import { bindingCookie, cookieValue, STAFF_BINDING_COOKIE } from './staff-cookie.js';
import type { IssuedStaffSession, StaffSignInService } from './staff-sign-in.service.js';

const WebauthnResponse = Type.Object({ id: Type.String({ minLength: 1, maxLength: 1024 }), type: Type.Literal('public-key') }, { additionalProperties: true, maxProperties: 8 });
const RegistrationBody = Type.Object({ webauthn: WebauthnResponse, enrolment_code: Type.String({ pattern: '^[A-Za-z0-9_-]{22}$' }) }, { additionalProperties: false });
const AssertionBody = Type.Object({ webauthn: WebauthnResponse }, { additionalProperties: false });
/** A reason long enough to mean something, short enough to sit in an audit event (2 KB of details). */
const GrantBody = Type.Object(
  {
    tenant: Type.String({ pattern: idPattern('tenant') }),
    scope: Type.Union(GRANT_SCOPES.map((s) => Type.Literal(s))),
    reason: Type.String({ minLength: 10, maxLength: 300 }),
    duration_minutes: Type.Integer({ minimum: 1, maximum: 240 }),
  },
  { additionalProperties: false },
);
type GrantBody = Static<typeof GrantBody>;
const GrantParams = Type.Object({ id: Type.String({ pattern: idPattern('staffGrant') }) });
const TenantParams = Type.Object({ id: Type.String({ pattern: idPattern('tenant') }) });
const PlanBody = Type.Object({ plan: Type.Union(PLANS.map((p) => Type.Literal(p))) }, { additionalProperties: false });

export interface StaffRouteDeps {
  readonly signIn: StaffSignInService;
  readonly grants: GrantService;
  readonly tenants: TenantService;
  /** Whether a refused sign-in from this client is still stored as its own event (the API's refusal counter). */
  readonly admitRefusal?: (ip: string) => boolean;
}

function withStaffSession(reply: FastifyReply, issued: IssuedStaffSession, body: Record<string, unknown>): Record<string, unknown> {
  reply.header('set-cookie', issued.setCookie);
  reply.header('cache-control', 'no-store');
  return { ...body, session: issued.sessionId, csrf_token: issued.csrfToken };
}

function queryOf(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? '' : url.slice(q + 1);
}

const grantInput = (body: GrantBody) => ({ tenantId: body.tenant, scope: body.scope, reason: body.reason, durationMs: body.duration_minutes * 60_000 });

/**
 * The staff API (`/staff/v1`): sign-in through the deployment's OIDC provider and WebAuthn,
 * just-in-time grants, tenants and their plans. Every route but the OIDC entry points needs a
 * staff session (permissions.ts `staff` rules); tenant credentials never reach it.
 */
export async function staffRoutes(app: FastifyInstance, deps: StaffRouteDeps): Promise<void> {
  app.get('/staff/v1/auth/oidc/start', async (_request, reply) => {
    const started = await deps.signIn.start();
    reply.header('set-cookie', bindingCookie(started.binding, LOGIN_STATE_TTL_MS / 1000));
    reply.header('cache-control', 'no-store');
    return reply.redirect(started.authorizationUrl, 302);
  });

  app.get('/staff/v1/auth/oidc/callback', async (request, reply) => {
    const binding = cookieValue(request.headers.cookie, STAFF_BINDING_COOKIE, false);
    const done = await deps.signIn.callback(queryOf(request.url), binding, () => deps.admitRefusal?.(request.ip || 'unknown') ?? true);
    // The binding is single-use like the state it protects; the staff cookie replaces it.
    reply.header('set-cookie', [bindingCookie('', 0), done.issued.setCookie]);
    reply.header('cache-control', 'no-store');
    return { staff: { id: done.staff.id, email: done.staff.email }, next: done.enrolled ? 'webauthn' : 'webauthn_enrolment', session: done.issued.sessionId, csrf_token: done.issued.csrfToken };
  });

  app.post('/staff/v1/auth/webauthn/registration-options', async (request) => deps.signIn.registrationOptions(staffOf(request)));
  app.post<{ Body: Static<typeof RegistrationBody> }>('/staff/v1/auth/webauthn/registration', { schema: { body: RegistrationBody } }, async (request, reply) =>
    withStaffSession(reply, await deps.signIn.register(staffOf(request), request.body.webauthn as unknown as RegistrationResponseJSON, request.body.enrolment_code), { signed_in: true }),
  );
  app.post('/staff/v1/auth/webauthn/authentication-options', async (request) => deps.signIn.authenticationOptions(staffOf(request)));
  app.post<{ Body: Static<typeof AssertionBody> }>('/staff/v1/auth/webauthn', { schema: { body: AssertionBody } }, async (request, reply) =>
    withStaffSession(reply, await deps.signIn.verify(staffOf(request), request.body.webauthn as unknown as AuthenticationResponseJSON), { signed_in: true }),
  );
  app.get('/staff/v1/auth/session', async (request) => {
    const staff = staffOf(request);
    return { staff: { id: staff.staffId, email: staff.email }, session: staff.sessionId, webauthn_satisfied: staff.webauthnSatisfied, csrf_token: staff.csrfToken };
  });
  app.post('/staff/v1/auth/logout', async (request, reply) => {
    await deps.signIn.logout(staffOf(request));
    reply.header('set-cookie', '__Host-sealpost_staff=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Strict');
    return reply.code(204).send();
  });

  app.get('/staff/v1/tenants', async () => ({
    data: (await deps.tenants.list()).map((t) => ({ id: t.id, name: t.name, plan: t.plan, kind: t.kind, created_at: new Date(t.createdAt).toISOString() })),
  }));
  app.put<{ Params: Static<typeof TenantParams>; Body: Static<typeof PlanBody> }>('/staff/v1/tenants/:id/plan', { schema: { params: TenantParams, body: PlanBody } }, async (request) => {
    const tenant = await deps.tenants.changePlan(request.params.id, request.body.plan, staffOf(request).actor);
    return { id: tenant.id, plan: tenant.plan };
  });

  app.get('/staff/v1/grants', async () => ({ data: await deps.grants.listAll() }));
  app.post<{ Body: GrantBody }>('/staff/v1/grants', { schema: { body: GrantBody } }, async (request, reply) =>
    reply.code(201).send(await deps.grants.request(staffOf(request), grantInput(request.body))),
  );
  app.post<{ Body: GrantBody }>('/staff/v1/grants/break-glass', { schema: { body: GrantBody } }, async (request, reply) =>
    reply.code(201).send(await deps.grants.breakGlass(staffOf(request), grantInput(request.body))),
  );
  app.post<{ Params: Static<typeof GrantParams> }>('/staff/v1/grants/:id/approve', { schema: { params: GrantParams } }, async (request) => deps.grants.decide(staffOf(request), request.params.id, 'approved'));
  app.post<{ Params: Static<typeof GrantParams> }>('/staff/v1/grants/:id/deny', { schema: { params: GrantParams } }, async (request) => deps.grants.decide(staffOf(request), request.params.id, 'denied'));
  app.post<{ Params: Static<typeof GrantParams> }>('/staff/v1/grants/:id/revoke', { schema: { params: GrantParams } }, async (request) => deps.grants.revoke(staffOf(request).actor, request.params.id));
}

const Iso = Type.String({ format: 'date-time' });
const Person = Type.Object({ id: Type.String(), email: Type.Union([Type.String(), Type.Null()]) });
/** What a tenant sees of a staff grant on its data (GrantView). */
const GrantViewSchema = Type.Object({
  id: Type.String(),
  tenant: Type.String(),
  scope: Type.Union(GRANT_SCOPES.map((s) => Type.Literal(s))),
  reason: Type.String(),
  state: Type.Union(['requested', 'approved', 'denied', 'revoked', 'expired', 'stale'].map((s) => Type.Literal(s))),
  break_glass: Type.Boolean(),
  requester: Person,
  approver: Type.Union([Person, Type.Null()]),
  duration_minutes: Type.Number(),
  requested_at: Iso,
  decided_at: Type.Union([Iso, Type.Null()]),
  expires_at: Type.Union([Iso, Type.Null()]),
  revoked_at: Type.Union([Iso, Type.Null()]),
  revoked_by: Type.Union([Type.String(), Type.Null()]),
});

/** `GET /v1/staff-access`: every staff grant on the calling tenant (access transparency; audit:read). */
export async function staffAccessRoutes(app: FastifyInstance, deps: { grants: GrantService }): Promise<void> {
  app.get('/v1/staff-access', { schema: { response: { 200: Type.Object({ data: Type.Array(GrantViewSchema) }) } } }, async (request) => ({
    data: await deps.grants.listForTenant(authOf(request).tenantId),
  }));
}
