/**
 * The one permission table (issue 11): every `/v1` route, by method and URL pattern, names what
 * its caller must hold. API-key scopes (scopes.ts) and operator roles map onto the same
 * permissions, and one hook (src/http/auth.plugin.ts `authorizeHook`) consults this table for
 * every request; a route missing here is refused (fail closed), and test/identity/permission-table
 * walks every registered route for every role.
 */
export const PERMISSIONS = [
  'payloads:write',
  'payloads:read',
  'destinations:manage',
  'keys:manage',
  'audit:read',
  // The tenant's public signing keys: every credential of the tenant may read them.
  'signing_keys:read',
  'members:read',
  'members:manage',
  'policies:read',
  'policies:manage',
  // The tenant's own settings (GET /v1/tenant): every credential of the tenant may read them.
  'tenant:read',
  // Changing them (payload retention): it bounds what evidence the tenant keeps, a people's decision.
  'tenant:manage',
  // Erasing the tenant for good: the owner's decision alone.
  'tenant:erase',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

/** Operator roles, narrowest first: a role's rank says whom it may grant (never above itself). */
export const ROLES = ['viewer', 'developer', 'admin', 'owner'] as const;
export type Role = (typeof ROLES)[number];

const VIEWER: readonly Permission[] = ['payloads:read', 'audit:read', 'signing_keys:read', 'tenant:read', 'members:read', 'policies:read'];
const DEVELOPER: readonly Permission[] = [...VIEWER, 'destinations:manage'];
const ADMIN: readonly Permission[] = [...DEVELOPER, 'keys:manage', 'members:manage', 'tenant:manage'];

/**
 * What each role may do. Ingest (`payloads:write`) is for API keys only: the envelope's `source`
 * names the key that sent it (DESIGN §4), and people do not send payloads. The security policy
 * (2FA, WebAuthn only, SSO only) and the tenant's erasure are the owner's alone.
 */
export const ROLE_PERMISSIONS: Readonly<Record<Role, readonly Permission[]>> = {
  viewer: VIEWER,
  developer: DEVELOPER,
  admin: ADMIN,
  owner: [...ADMIN, 'policies:manage', 'tenant:erase'],
};

export function roleRank(role: Role): number {
  return ROLES.indexOf(role);
}

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

/**
 * What a staff grant (src/identity/staff/) gives on the tenant's `/v1` routes: `read` is a
 * viewer's, `operate` a developer's. Never key, member or policy management, whatever the scope.
 */
export const GRANT_PERMISSIONS: Readonly<Record<'read' | 'operate', readonly Permission[]>> = {
  read: VIEWER,
  operate: DEVELOPER,
};

/**
 * Who may call a route:
 * - `public`: no credentials (sign-in, one-time password links, SSO entry points);
 * - `any`: an API key or an operator session holding `permission`;
 * - `api_key`: an API key holding `permission` (ingest);
 * - `session`: an operator session of the tenant, for one's own account (`permission` optional);
 * - `staff`: a staff session on the staff API (`/staff/v1`); never a tenant's credential.
 * A staff member reaches a tenant's `any` routes only under a live grant, with the grant's
 * permissions (GRANT_PERMISSIONS). `beforeSecondFactor` marks the few routes a session reaches before its second factor is
 * satisfied: the second-factor step itself, enrolment, the session view and logout.
 */
export type RouteRule =
  | { readonly access: 'public' }
  | { readonly access: 'any' | 'api_key'; readonly permission: Permission }
  | { readonly access: 'session'; readonly permission?: Permission; readonly beforeSecondFactor?: true }
  | { readonly access: 'staff'; readonly beforeSecondFactor?: true };

const any = (permission: Permission): RouteRule => ({ access: 'any', permission });
const self: RouteRule = { access: 'session' };
const enrolment: RouteRule = { access: 'session', beforeSecondFactor: true };
const publicRoute: RouteRule = { access: 'public' };
const staff: RouteRule = { access: 'staff' };
/** A staff session after OIDC, before its WebAuthn step (user verification required). */
const staffWebauthnStep: RouteRule = { access: 'staff', beforeSecondFactor: true };

/** Every `/v1` and `/staff/v1` route. Keys are `<METHOD> <pattern>` exactly as registered with Fastify. */
export const ROUTE_RULES: Readonly<Record<string, RouteRule>> = {
  'POST /v1/payloads': { access: 'api_key', permission: 'payloads:write' },
  'GET /v1/payloads': any('payloads:read'),
  'GET /v1/payloads/:id': any('payloads:read'),
  'GET /v1/payloads/:id/raw': any('payloads:read'),
  'GET /v1/payloads/:id/receipts': any('payloads:read'),
  'GET /v1/attachments/:id': any('payloads:read'),
  'GET /v1/receipts/:id': any('payloads:read'),
  'GET /v1/receipts/:id/proof': any('payloads:read'),
  'GET /v1/deliveries': any('payloads:read'),
  'GET /v1/deliveries/:id': any('payloads:read'),
  'GET /v1/deliveries/:id/attempts': any('payloads:read'),
  'POST /v1/deliveries/:id/retry': any('destinations:manage'),
  'POST /v1/deliveries/retry': any('destinations:manage'),
  'POST /v1/destinations': any('destinations:manage'),
  'GET /v1/destinations': any('destinations:manage'),
  'GET /v1/destinations/:id': any('destinations:manage'),
  'PATCH /v1/destinations/:id': any('destinations:manage'),
  'DELETE /v1/destinations/:id': any('destinations:manage'),
  'POST /v1/destinations/:id/replay': any('destinations:manage'),
  // A real outbound request to the destination's URL: whoever may change the URL may test it.
  'POST /v1/destinations/:id/test': any('destinations:manage'),
  'POST /v1/inboxes': any('destinations:manage'),
  'GET /v1/inboxes': any('destinations:manage'),
  'DELETE /v1/inboxes/:id': any('destinations:manage'),
  'POST /v1/api-keys': any('keys:manage'),
  'GET /v1/api-keys': any('keys:manage'),
  'DELETE /v1/api-keys/:id': any('keys:manage'),
  'POST /v1/api-keys/:id/rotate': any('keys:manage'),
  'GET /v1/audit/checkpoint': any('audit:read'),
  'GET /v1/audit/proof/inclusion': any('audit:read'),
  'GET /v1/audit/proof/consistency': any('audit:read'),
  'GET /v1/audit/events': any('audit:read'),
  'POST /v1/audit/exports': any('audit:read'),
  'GET /v1/signing-keys': any('signing_keys:read'),

  // Operators: sign-in and one's own account.
  'POST /v1/auth/login': publicRoute,
  'POST /v1/auth/password/setup': publicRoute,
  'POST /v1/auth/password/reset-request': publicRoute,
  'POST /v1/auth/password/reset': publicRoute,
  'POST /v1/auth/second-factor': enrolment,
  'POST /v1/auth/webauthn/authentication-options': enrolment,
  'POST /v1/auth/logout': enrolment,
  'GET /v1/auth/session': enrolment,
  'POST /v1/auth/totp/enrolment': enrolment,
  'POST /v1/auth/totp/confirmation': enrolment,
  'POST /v1/auth/webauthn/registration-options': enrolment,
  'POST /v1/auth/webauthn/registration': enrolment,
  'POST /v1/auth/recovery-codes': self,
  'GET /v1/auth/sessions': self,
  'DELETE /v1/auth/sessions/:id': self,
  // SSO entry points (src/identity/sso/): the IdP's answer is the credential.
  'GET /v1/auth/oidc/:tenant/start': publicRoute,
  'GET /v1/auth/oidc/:tenant/callback': publicRoute,
  'GET /v1/auth/saml/:tenant/metadata': publicRoute,
  'POST /v1/auth/saml/:tenant/acs': publicRoute,
  // The tenant itself (src/ops/lifecycle/): its settings, its data export, its erasure. No key
  // scope grants tenant:manage or tenant:erase: retention and erasure are decided by people in
  // sessions with a second factor, and the erasure's confirmation is bound to the session.
  'GET /v1/tenant': any('tenant:read'),
  'PATCH /v1/tenant': any('tenant:manage'),
  'POST /v1/exports': any('payloads:read'),
  'POST /v1/tenant/erasure': { access: 'session', permission: 'tenant:erase' },
  // SSO settings (src/identity/sso/sso-config.routes.ts) decide who signs in to the tenant and
  // whether Sealpost asks for its own second factor: a security policy, so the policy rule (owners
  // change it; no API-key scope grants it).
  'GET /v1/sso/oidc': any('policies:read'),
  'PUT /v1/sso/oidc': any('policies:manage'),
  'DELETE /v1/sso/oidc': any('policies:manage'),
  'GET /v1/sso/saml': any('policies:read'),
  'PUT /v1/sso/saml': any('policies:manage'),
  'DELETE /v1/sso/saml': any('policies:manage'),
  'GET /v1/sso/domains': any('policies:read'),
  'POST /v1/sso/domains': any('policies:manage'),
  'POST /v1/sso/domains/:domain/verify': any('policies:manage'),
  'DELETE /v1/sso/domains/:domain': any('policies:manage'),

  // The tenant's people and security policy: sessions only in practice (no scope grants these).
  'GET /v1/members': any('members:read'),
  'POST /v1/members': any('members:manage'),
  'PATCH /v1/members/:id': any('members:manage'),
  'DELETE /v1/members/:id': any('members:manage'),
  'GET /v1/policies': any('policies:read'),
  'PUT /v1/policies': any('policies:manage'),

  // Where breach notices go (src/ops/security-contacts/): a security policy, so the policy rule.
  // Redirecting them would hide a breach from the tenant: owners decide, no key scope grants it.
  'GET /v1/security-contacts': any('policies:read'),
  'PUT /v1/security-contacts': any('policies:manage'),

  // The one-time acknowledgement link of a breach notice: the token is the credential. GET shows a
  // button (mail scanners that fetch links must not acknowledge), POST records it.
  'GET /v1/breach-notices/ack': publicRoute,
  'POST /v1/breach-notices/ack': publicRoute,

  // Access transparency: the staff grants on this tenant, for whoever may read its audit log.
  'GET /v1/staff-access': any('audit:read'),

  // The staff API (src/identity/staff/): the deployment's own people, never a tenant's credential.
  'GET /staff/v1/auth/oidc/start': publicRoute,
  'GET /staff/v1/auth/oidc/callback': publicRoute,
  'POST /staff/v1/auth/webauthn/registration-options': staffWebauthnStep,
  'POST /staff/v1/auth/webauthn/registration': staffWebauthnStep,
  'POST /staff/v1/auth/webauthn/authentication-options': staffWebauthnStep,
  'POST /staff/v1/auth/webauthn': staffWebauthnStep,
  'GET /staff/v1/auth/session': staffWebauthnStep,
  'POST /staff/v1/auth/logout': staffWebauthnStep,
  'GET /staff/v1/tenants': staff,
  'PUT /staff/v1/tenants/:id/plan': staff,
  'GET /staff/v1/grants': staff,
  'POST /staff/v1/grants': staff,
  'POST /staff/v1/grants/break-glass': staff,
  'POST /staff/v1/grants/:id/approve': staff,
  'POST /staff/v1/grants/:id/deny': staff,
  'POST /staff/v1/grants/:id/revoke': staff,
  // The 72-hour breach workflow (src/ops/breach/): staff declare and follow breaches.
  'GET /staff/v1/breaches': staff,
  'POST /staff/v1/breaches': staff,
  'GET /staff/v1/breaches/:id': staff,
  'POST /staff/v1/breaches/:id/tenants/:tenant/notified': staff,
  'POST /staff/v1/breaches/:id/tenants/:tenant/ack': staff,
  // The status page (src/status/): incidents, updates, postmortems and maintenance windows.
  'POST /staff/v1/status/incidents': staff,
  'POST /staff/v1/status/incidents/:id/updates': staff,
  'PUT /staff/v1/status/incidents/:id/postmortem': staff,
  'POST /staff/v1/status/incidents/:id/postmortem-waiver': staff,
  'GET /staff/v1/status/maintenance': staff,
  'POST /staff/v1/status/maintenance': staff,
  'POST /staff/v1/status/maintenance/:id/cancel': staff,
};

/** The rule of a registered route; HEAD is answered by the GET route and shares its rule. */
export function ruleFor(method: string, url: string, rules: Readonly<Record<string, RouteRule>> = ROUTE_RULES): RouteRule | undefined {
  const key = `${method === 'HEAD' ? 'GET' : method} ${url}`;
  return Object.hasOwn(rules, key) ? rules[key] : undefined;
}
