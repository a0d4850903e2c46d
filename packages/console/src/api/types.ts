/** The session's view of itself (`GET /v1/auth/session`, src/identity/sessions/session.schemas.ts). */
export interface SessionInfo {
  readonly session: { readonly id: string; readonly method: string; readonly second_factor_satisfied: boolean };
  readonly tenant: string;
  readonly operator: { readonly id: string; readonly email: string; readonly role: Role };
  readonly permissions: readonly Permission[];
  readonly second_factors: { readonly totp: boolean; readonly webauthn: number; readonly recovery_codes_left: number };
  readonly policy: { readonly enforce_2fa: boolean; readonly webauthn_only: boolean; readonly sso_only: boolean };
  readonly csrf_token: string;
}

/** Mirrors src/identity/permissions.ts (the server decides; the console only hides what would be refused). */
export type Permission =
  | 'payloads:write'
  | 'payloads:read'
  | 'destinations:manage'
  | 'keys:manage'
  | 'audit:read'
  | 'signing_keys:read'
  | 'members:read'
  | 'members:manage'
  | 'policies:read'
  | 'policies:manage'
  | 'tenant:read'
  | 'tenant:manage'
  | 'tenant:erase';

export type Role = 'viewer' | 'developer' | 'admin' | 'owner';

/** `POST /v1/auth/login`. */
export interface SignedIn {
  readonly second_factor_required: boolean;
  readonly enrolment_required: boolean;
  readonly session: { readonly id: string; readonly second_factor_satisfied: boolean };
  readonly csrf_token: string;
}

/** A list answer of the API (src/http/pagination.ts). */
export interface Page<T> {
  readonly data: readonly T[];
  readonly next_cursor?: string | null;
}
