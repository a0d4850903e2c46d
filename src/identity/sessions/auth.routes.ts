import { Type, type Static } from '@sinclair/typebox';
import type { AuthenticationResponseJSON, RegistrationResponseJSON } from '@simplewebauthn/server';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { SealpostError } from '../../errors/sealpost-error.js';
import { originAllowed, sessionOf } from '../../http/auth.plugin.js';
import { idPattern } from '../../crypto/ids.js';
import type { MemberService } from '../operators/member.service.js';
import { MAX_PASSWORD_CHARS } from '../operators/password.js';
import type { PolicyService } from '../policies/policy.service.js';
import type { SessionPrincipal } from '../principal.js';
import type { SecondFactorService } from '../second-factor/second-factor.service.js';
import { NoContent } from '../../http/problem.schema.js';
import { clearedSessionCookie } from './session-cookie.js';
import { RecoveryCodesView, SecondFactorView, SessionListView, SessionView, SignedInView, webauthnOptions } from './session.schemas.js';
import type { LoginService } from './login.service.js';
import type { IssuedSession, SessionService } from './session.service.js';

const Email = Type.String({ minLength: 3, maxLength: 254, pattern: '^[^\\s@]+@[^\\s@]+$' });
const Password = Type.String({ minLength: 1, maxLength: MAX_PASSWORD_CHARS * 4 });
const LoginBody = Type.Object({ email: Email, password: Password, tenant: Type.Optional(Type.String({ pattern: idPattern('tenant') })) }, { additionalProperties: false });
// A WebAuthn response is checked by @simplewebauthn/server; here only its outline and size.
const WebauthnResponse = Type.Object({ id: Type.String({ minLength: 1, maxLength: 1024 }), type: Type.Literal('public-key') }, { additionalProperties: true, maxProperties: 8 });
const SecondFactorBody = Type.Union([
  Type.Object({ totp: Type.String({ pattern: '^[0-9]{6}$' }) }, { additionalProperties: false }),
  Type.Object({ recovery_code: Type.String({ minLength: 10, maxLength: 40 }) }, { additionalProperties: false }),
  Type.Object({ webauthn: WebauthnResponse }, { additionalProperties: false }),
]);
const TotpConfirmBody = Type.Object({ totp: Type.String({ pattern: '^[0-9]{6}$' }) }, { additionalProperties: false });
const RegistrationBody = Type.Object({ webauthn: WebauthnResponse }, { additionalProperties: false });
const LinkBody = Type.Object({ token: Type.String({ pattern: '^[A-Za-z0-9_-]{43}$' }), password: Password }, { additionalProperties: false });
const ResetRequestBody = Type.Object({ email: Email }, { additionalProperties: false });
const TotpEnrolmentView = Type.Object({ secret: Type.String({ description: 'base32, shown once' }), otpauth_uri: Type.String() });
const SessionIdParams = Type.Object({ id: Type.String({ pattern: idPattern('session') }) });

export interface AuthRouteDeps {
  readonly login: LoginService;
  readonly sessions: SessionService;
  readonly secondFactors: SecondFactorService;
  readonly members: MemberService;
  readonly policies: PolicyService;
  /** Sealpost's own origin: the only Origin a browser may sign in from. */
  readonly origin: string;
}

function crossSite(): SealpostError {
  return new SealpostError('SP_ERR_AUTH_CSRF', 'Cross-site request refused');
}

/** Sets `retry-after` on a throttled sign-in or second-factor attempt before the error handler answers 429. */
async function withRetryAfter<T>(reply: FastifyReply, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof SealpostError && err.code === 'SP_ERR_AUTH_LOGIN_THROTTLED') reply.header('retry-after', String(err.logDetail?.retryAfter ?? 1));
    throw err;
  }
}

/** The answer of a route that issued or rotated the session: the cookie, and the CSRF token the page must echo. */
function withSession(reply: FastifyReply, issued: IssuedSession, body: Record<string, unknown>): Record<string, unknown> {
  reply.header('set-cookie', issued.setCookie);
  reply.header('cache-control', 'no-store');
  return { ...body, session: { id: issued.session.id, second_factor_satisfied: issued.session.secondFactorSatisfied }, csrf_token: issued.csrfToken };
}

/** `/v1/auth/*`: sign-in, the second factor, enrolment, one's own sessions, password links (issue 11). */
export async function authRoutes(app: FastifyInstance, deps: AuthRouteDeps): Promise<void> {
  const email = async (principal: SessionPrincipal): Promise<string> => (await deps.members.get(principal.tenantId, principal.operatorId))?.email ?? principal.operatorId;

  app.post<{ Body: Static<typeof LoginBody> }>('/v1/auth/login', { schema: { body: LoginBody, response: { 200: SignedInView } } }, async (request, reply) => {
    // Login CSRF: a foreign page must not sign a victim's browser into the attacker's account.
    if (!originAllowed(request, deps.origin)) throw crossSite();
    const signedIn = await withRetryAfter(reply, () => deps.login.login(request.body, request.ip || 'unknown'));
    return withSession(reply, signedIn.issued, { second_factor_required: signedIn.secondFactorRequired, enrolment_required: signedIn.enrolmentRequired });
  });

  app.post<{ Body: Static<typeof SecondFactorBody> }>('/v1/auth/second-factor', { schema: { body: SecondFactorBody, response: { 200: SecondFactorView } } }, async (request, reply) => {
    const principal = sessionOf(request);
    const body = request.body as { totp: string } | { recovery_code: string } | { webauthn: AuthenticationResponseJSON };
    const done = await withRetryAfter(reply, () => deps.login.secondFactor(principal, body, request.ip || 'unknown'));
    return withSession(reply, done.issued, { enrolment_required: done.enrolmentRequired });
  });

  app.post('/v1/auth/webauthn/authentication-options', { schema: { response: { 200: webauthnOptions('PublicKeyCredentialRequestOptionsJSON for navigator.credentials.get(); its challenge is bound to this session') } } }, async (request) => {
    const principal = sessionOf(request);
    const options = await deps.secondFactors.authenticationOptions(principal.operatorId);
    await deps.sessions.setChallenge(principal, options.challenge);
    return options;
  });

  app.post('/v1/auth/logout', { schema: { response: { 204: NoContent } } }, async (request, reply) => {
    const principal = sessionOf(request);
    await deps.sessions.revoke(principal, principal.sessionId, 'logout');
    reply.header('set-cookie', clearedSessionCookie());
    return reply.code(204).send();
  });

  app.get('/v1/auth/session', { schema: { response: { 200: SessionView } } }, async (request, reply) => {
    const principal = sessionOf(request);
    reply.header('cache-control', 'no-store');
    return {
      session: { id: principal.sessionId, method: principal.method, second_factor_satisfied: principal.secondFactorSatisfied },
      tenant: principal.tenantId,
      operator: { id: principal.operatorId, email: await email(principal), role: principal.role },
      permissions: [...principal.permissions].sort(),
      second_factors: await deps.secondFactors.status(principal.operatorId),
      policy: await deps.policies.get(principal.tenantId).then((p) => ({ enforce_2fa: p.enforce2fa, webauthn_only: p.webauthnOnly, sso_only: p.ssoOnly })),
      csrf_token: principal.csrfToken,
    };
  });

  app.post('/v1/auth/totp/enrolment', { schema: { response: { 200: TotpEnrolmentView } } }, async (request, reply) => {
    const principal = sessionOf(request);
    const started = await deps.secondFactors.startTotp(principal, await email(principal), await deps.policies.get(principal.tenantId));
    reply.header('cache-control', 'no-store');
    return { secret: started.secret, otpauth_uri: started.otpauthUri };
  });

  /** Enrolment proves possession of the new factor, so it also completes the session's second factor. */
  const enrolled = async (principal: SessionPrincipal, reply: FastifyReply, recoveryCodes: string[]): Promise<Record<string, unknown>> => {
    const body = { recovery_codes: recoveryCodes };
    reply.header('cache-control', 'no-store');
    if (principal.secondFactorSatisfied) return body;
    return withSession(reply, await deps.sessions.completeSecondFactor(principal), body);
  };

  app.post<{ Body: Static<typeof TotpConfirmBody> }>('/v1/auth/totp/confirmation', { schema: { body: TotpConfirmBody, response: { 200: RecoveryCodesView } } }, async (request, reply) => {
    const principal = sessionOf(request);
    return enrolled(principal, reply, await deps.secondFactors.confirmTotp(principal, request.body.totp));
  });

  app.post('/v1/auth/webauthn/registration-options', { schema: { response: { 200: webauthnOptions('PublicKeyCredentialCreationOptionsJSON for navigator.credentials.create(); its challenge is bound to this session') } } }, async (request) => {
    const principal = sessionOf(request);
    const options = await deps.secondFactors.registrationOptions(principal, await email(principal));
    await deps.sessions.setChallenge(principal, options.challenge);
    return options;
  });

  app.post<{ Body: Static<typeof RegistrationBody> }>('/v1/auth/webauthn/registration', { schema: { body: RegistrationBody, response: { 200: RecoveryCodesView } } }, async (request, reply) => {
    const principal = sessionOf(request);
    const challenge = await deps.sessions.takeChallenge(principal);
    const codes = await deps.secondFactors.register(principal, request.body.webauthn as unknown as RegistrationResponseJSON, challenge);
    return enrolled(principal, reply, codes);
  });

  app.post('/v1/auth/recovery-codes', { schema: { response: { 200: RecoveryCodesView } } }, async (request, reply) => {
    reply.header('cache-control', 'no-store');
    return { recovery_codes: await deps.secondFactors.regenerateRecoveryCodes(sessionOf(request)) };
  });

  app.get('/v1/auth/sessions', { schema: { response: { 200: SessionListView } } }, async (request) => {
    const principal = sessionOf(request);
    const iso = (t: number): string => new Date(t).toISOString();
    return {
      data: (await deps.sessions.list(principal)).map((s) => ({
        id: s.id,
        method: s.method,
        second_factor_satisfied: s.secondFactorSatisfied,
        created_at: iso(s.createdAt),
        last_seen_at: iso(s.lastSeenAt),
        current: s.id === principal.sessionId,
      })),
    };
  });

  app.delete<{ Params: Static<typeof SessionIdParams> }>('/v1/auth/sessions/:id', { schema: { params: SessionIdParams, response: { 204: NoContent } } }, async (request, reply) => {
    const principal = sessionOf(request);
    await deps.sessions.revoke(principal, request.params.id, 'revoked');
    if (request.params.id === principal.sessionId) reply.header('set-cookie', clearedSessionCookie());
    return reply.code(204).send();
  });

  app.post<{ Body: Static<typeof LinkBody> }>('/v1/auth/password/setup', { schema: { body: LinkBody, response: { 204: NoContent } } }, async (request, reply) => {
    if (!originAllowed(request, deps.origin)) throw crossSite();
    await deps.members.setPassword('setup', request.body.token, request.body.password);
    return reply.code(204).send();
  });

  app.post<{ Body: Static<typeof LinkBody> }>('/v1/auth/password/reset', { schema: { body: LinkBody, response: { 204: NoContent } } }, async (request, reply) => {
    if (!originAllowed(request, deps.origin)) throw crossSite();
    await deps.members.setPassword('reset', request.body.token, request.body.password);
    return reply.code(204).send();
  });

  app.post<{ Body: Static<typeof ResetRequestBody> }>('/v1/auth/password/reset-request', { schema: { body: ResetRequestBody, response: { 202: Type.Object({ status: Type.String() }, { description: 'the same answer whether or not the e-mail is known' }) } } }, async (request, reply) => {
    if (!originAllowed(request, deps.origin)) throw crossSite();
    await deps.members.requestReset(request.body.email);
    // The same answer whether or not the e-mail is known.
    return reply.code(202).send({ status: 'If this e-mail belongs to an account, a reset link is on its way.' });
  });
}
