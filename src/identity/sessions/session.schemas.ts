import { Type } from '@sinclair/typebox';
import { ROLES } from '../permissions.js';

/*
 * Answers of the sign-in routes (auth.routes.ts, the SSO callbacks), for their response schemas
 * and the OpenAPI document. Response schemas also serialise: a field not listed here is not sent.
 */

const SessionRef = Type.Object({ id: Type.String(), second_factor_satisfied: Type.Boolean() });
const CsrfToken = Type.String({ description: 'echo it in the `x-sealpost-csrf` header on every state-changing request of this session' });

/** `POST /v1/auth/login` and an SSO login: the session cookie is set; its second factor may still be due. */
export const SignedInView = Type.Object({
  second_factor_required: Type.Boolean(),
  enrolment_required: Type.Boolean({ description: 'the tenant requires a second factor and the operator has none yet' }),
  session: SessionRef,
  csrf_token: CsrfToken,
});

/** `POST /v1/auth/second-factor`: the session is rotated (a new cookie and CSRF token). */
export const SecondFactorView = Type.Object({ enrolment_required: Type.Boolean(), session: SessionRef, csrf_token: CsrfToken });

/** Enrolment and regeneration answers: the recovery codes, shown once; a rotated session when enrolment completed the second factor. */
export const RecoveryCodesView = Type.Object({
  recovery_codes: Type.Array(Type.String(), { description: 'ten one-time codes, shown only here' }),
  session: Type.Optional(SessionRef),
  csrf_token: Type.Optional(CsrfToken),
});

/** WebAuthn options for the browser, as @simplewebauthn/server builds them (passed through whole). */
export function webauthnOptions(description: string): ReturnType<typeof Type.Object> {
  return Type.Object({ challenge: Type.String() }, { additionalProperties: true, description });
}

export const SessionView = Type.Object({
  session: Type.Object({ id: Type.String(), method: Type.String({ description: 'password, oidc or saml' }), second_factor_satisfied: Type.Boolean() }),
  tenant: Type.String(),
  operator: Type.Object({ id: Type.String(), email: Type.String(), role: Type.Union(ROLES.map((r) => Type.Literal(r))) }),
  permissions: Type.Array(Type.String()),
  second_factors: Type.Object({ totp: Type.Boolean(), webauthn: Type.Integer(), recovery_codes_left: Type.Integer() }),
  policy: Type.Object({ enforce_2fa: Type.Boolean(), webauthn_only: Type.Boolean(), sso_only: Type.Boolean() }),
  csrf_token: CsrfToken,
});

export const SessionListView = Type.Object({
  data: Type.Array(
    Type.Object({
      id: Type.String(),
      method: Type.String(),
      second_factor_satisfied: Type.Boolean(),
      created_at: Type.String({ format: 'date-time' }),
      last_seen_at: Type.String({ format: 'date-time' }),
      current: Type.Boolean({ description: 'the session making this request' }),
    }),
  ),
});
