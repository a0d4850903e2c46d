import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { idPattern } from '../../crypto/ids.js';
import { isSealpostError } from '../../errors/sealpost-error.js';
import type { OidcLoginService } from './oidc-login.service.js';
import type { SamlLoginService } from './saml-login.service.js';
import { LOGIN_STATE_TTL_MS } from './oidc-login.service.js';
import type { SsoLoginAudit } from './sso-login.audit.js';
import { refusalDetails } from './sso-refusal.js';
import { mediaResponse } from '../../http/problem.schema.js';
import { SignedInView } from '../sessions/session.schemas.js';
import type { SsoSignIn, VerifiedSsoIdentity } from './sso-sign-in.port.js';

/**
 * Binds an OIDC login to the browser that started it (login CSRF: without it, an attacker could
 * send a victim the callback URL of the attacker's own login). `__Host-`: Secure, path /, no
 * Domain, so no sibling host can set or read it; SameSite=Lax: sent on the IdP's top-level
 * redirect back.
 */
export const SSO_BINDING_COOKIE = '__Host-sealpost_sso';

const TenantParams = Type.Object({ tenant: Type.String({ pattern: idPattern('tenant') }) });
type TenantParams = Static<typeof TenantParams>;
/** A signed SAML response with a few certificates and attributes is 10–30 KB; base64 adds a third. */
const MAX_SAML_FORM_BYTES = 256 * 1024;
const ToIdp = Type.Unsafe<undefined>({
  type: 'null',
  description: 'Redirect to the IdP\'s authorization endpoint (`location`); sets the one-time browser-binding cookie',
  headers: { location: { type: 'string', format: 'uri' } },
});
// The sign-in port decides the answer (an operator session by default, as `POST /v1/auth/login`),
// so the schema lists its fields without requiring them and passes on what it adds.
const SsoSignedIn = Type.Partial(SignedInView, { additionalProperties: true, description: 'signed in: the session cookie is set (the second factor may still be due)' });
const SamlMetadata = mediaResponse('this tenant\'s SAML service provider metadata, for the IdP', ['application/samlmetadata+xml'], Type.String());

const AcsBody = Type.Object(
  { SAMLResponse: Type.String({ minLength: 1, maxLength: MAX_SAML_FORM_BYTES }), RelayState: Type.Optional(Type.String({ maxLength: 1024 })) },
  { additionalProperties: false },
);

function bindingCookie(value: string, maxAgeSeconds: number): string {
  return `${SSO_BINDING_COOKIE}=${value}; Path=/; Max-Age=${maxAgeSeconds}; HttpOnly; Secure; SameSite=Lax`;
}

function cookieValue(request: FastifyRequest, name: string): string | undefined {
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function queryOf(request: FastifyRequest): string {
  const q = request.url.indexOf('?');
  return q < 0 ? '' : request.url.slice(q + 1);
}

export interface SsoLoginDeps {
  readonly oidc: OidcLoginService;
  readonly saml: SamlLoginService;
  readonly signIn: SsoSignIn;
  readonly audit: SsoLoginAudit;
  /**
   * Whether this refusal is still stored as its own event; beyond a few per client and minute the
   * API's refusal counter (audit-request.hook.ts RefusedRequests) counts it into `api.refused`
   * instead, so a flood of forged callbacks costs a bounded number of audit rows.
   */
  readonly admitRefusal?: (ip: string, status: number, tenantId: string) => boolean;
}

/**
 * Runs a login's verification; on success records `sso.login_succeeded` (the IdP's answer passed
 * every check) and hands the identity to the sign-in port, which records its own session events;
 * on refusal, by the checks or by the port, records `sso.login_refused` and rethrows (the error
 * handler answers).
 */
export async function finishLogin(
  deps: Pick<SsoLoginDeps, 'signIn' | 'audit' | 'admitRefusal'>,
  request: FastifyRequest,
  reply: FastifyReply,
  tenantId: string,
  protocol: 'oidc' | 'saml',
  verify: () => Promise<VerifiedSsoIdentity>,
): Promise<unknown> {
  let identity: VerifiedSsoIdentity;
  try {
    identity = await verify();
  } catch (err) {
    const refusal = refusalDetails(err);
    const status = isSealpostError(err) ? err.status : 500;
    if (refusal && (deps.admitRefusal?.(request.ip, status, tenantId) ?? true)) await deps.audit.refused(tenantId, protocol, refusal, request.ip);
    throw err;
  }
  // Recorded before the hand-off, so no one is signed in by SSO without an event (fail closed).
  await deps.audit.succeeded(identity);
  try {
    return await deps.signIn.complete(identity, reply);
  } catch (err) {
    const code = isSealpostError(err) ? err.code : 'SP_ERR_INTERNAL_ERROR';
    await deps.audit.refused(tenantId, protocol, { code, reason: 'sign-in refused' }, request.ip);
    throw err;
  }
}

/** The answer to a browser that finished its SSO login: on to the console, which is signed in. */
const ToConsole = Type.Null({ description: 'to the operator console (`Location: /console/`), for a browser that asked for HTML' });

/**
 * A person's browser arrives here from the IdP (a top-level navigation asking for HTML): it is sent
 * on to the console, whose first request reads the session (and its CSRF token) with the cookie
 * just set. API clients keep the JSON answer. The target is fixed, so this is no open redirect.
 */
function toConsoleIfBrowser(request: FastifyRequest, reply: FastifyReply, signedIn: unknown): unknown {
  const accept = request.headers.accept ?? '';
  if (!/\btext\/html\b/.test(accept)) return signedIn;
  return reply.code(303).header('location', '/console/').send();
}

/** The public SSO login routes (no API key: the browser of a person signing in calls them). */
export async function ssoLoginRoutes(app: FastifyInstance, deps: SsoLoginDeps): Promise<void> {
  app.get<{ Params: TenantParams }>('/v1/auth/oidc/:tenant/start', { schema: { params: TenantParams, response: { 302: ToIdp } } }, async (request, reply) => {
    const started = await deps.oidc.start(request.params.tenant);
    reply.header('set-cookie', bindingCookie(started.binding, LOGIN_STATE_TTL_MS / 1000));
    reply.header('cache-control', 'no-store');
    return reply.redirect(started.authorizationUrl, 302);
  });

  app.get<{ Params: TenantParams }>('/v1/auth/oidc/:tenant/callback', { schema: { params: TenantParams, response: { 200: SsoSignedIn, 303: ToConsole } } }, async (request, reply) => {
    const tenantId = request.params.tenant;
    const binding = cookieValue(request, SSO_BINDING_COOKIE);
    // The binding is single-use like the state it protects.
    reply.header('set-cookie', bindingCookie('', 0));
    reply.header('cache-control', 'no-store');
    return toConsoleIfBrowser(request, reply, await finishLogin(deps, request, reply, tenantId, 'oidc', () => deps.oidc.callback(tenantId, queryOf(request), binding)));
  });

  app.get<{ Params: TenantParams }>('/v1/auth/saml/:tenant/metadata', { schema: { params: TenantParams, response: { 200: SamlMetadata } } }, async (request, reply) => {
    const xml = await deps.saml.metadata(request.params.tenant);
    return reply.type('application/samlmetadata+xml').send(xml);
  });

  // The IdP's page POSTs the form (HTTP-POST binding, SAML Bindings §3.5); this scope alone parses forms.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: MAX_SAML_FORM_BYTES }, (_request, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });
  app.post<{ Params: TenantParams; Body: Static<typeof AcsBody> }>('/v1/auth/saml/:tenant/acs', { schema: { params: TenantParams, body: AcsBody, response: { 200: SsoSignedIn, 303: ToConsole } } }, async (request, reply) => {
    const tenantId = request.params.tenant;
    reply.header('cache-control', 'no-store');
    return toConsoleIfBrowser(request, reply, await finishLogin(deps, request, reply, tenantId, 'saml', () => deps.saml.acs(tenantId, request.body.SAMLResponse)));
  });
}
