import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { authOf } from '../../http/auth.plugin.js';
import { ROLES } from '../permissions.js';
import type { TenantPolicy } from './policy.repository.js';
import type { PolicyService } from './policy.service.js';

const PolicyBody = Type.Object(
  {
    enforce_2fa: Type.Optional(Type.Boolean()),
    webauthn_only: Type.Optional(Type.Boolean()),
    sso_only: Type.Optional(Type.Boolean()),
    sso_default_role: Type.Optional(Type.Union(ROLES.filter((r) => r !== 'owner').map((r) => Type.Literal(r)))),
  },
  // `Never`, not `false`: Fastify's Ajv silently strips unknown fields under `false`, so a field
  // that does not exist (e.g. the retired `sso_mfa_values`) would answer 200 and do nothing.
  { additionalProperties: Type.Never(), minProperties: 1 },
);

const RoleName = Type.Union(ROLES.map((r) => Type.Literal(r)));
const PolicyView = Type.Object({
  enforce_2fa: Type.Boolean(),
  webauthn_only: Type.Boolean(),
  sso_only: Type.Boolean(),
  sso_default_role: RoleName,
  updated_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});

function view(policy: TenantPolicy): Record<string, unknown> {
  return {
    enforce_2fa: policy.enforce2fa,
    webauthn_only: policy.webauthnOnly,
    sso_only: policy.ssoOnly,
    sso_default_role: policy.ssoDefaultRole,
    updated_at: policy.updatedAt === null ? null : new Date(policy.updatedAt).toISOString(),
  };
}

/** `/v1/policies`: the tenant's security policy (docs/identity.md). */
export async function policyRoutes(app: FastifyInstance, deps: { policies: PolicyService }): Promise<void> {
  app.get('/v1/policies', { schema: { response: { 200: PolicyView } } }, async (request) => view(await deps.policies.get(authOf(request).tenantId)));

  app.put<{ Body: Static<typeof PolicyBody> }>('/v1/policies', { schema: { body: PolicyBody, response: { 200: PolicyView } } }, async (request) => {
    const b = request.body;
    const updated = await deps.policies.update(authOf(request), {
      ...(b.enforce_2fa === undefined ? {} : { enforce2fa: b.enforce_2fa }),
      ...(b.webauthn_only === undefined ? {} : { webauthnOnly: b.webauthn_only }),
      ...(b.sso_only === undefined ? {} : { ssoOnly: b.sso_only }),
      ...(b.sso_default_role === undefined ? {} : { ssoDefaultRole: b.sso_default_role }),
    });
    return view(updated);
  });
}
