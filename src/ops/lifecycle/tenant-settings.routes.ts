import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { authOf } from '../../http/auth.plugin.js';
import type { TenantSettings, TenantSettingsService } from './tenant-settings.service.js';

// The range is the service's to check (it depends on the plan), so the answer can name it.
const PatchBody = Type.Object({ retention_days: Type.Integer() }, { additionalProperties: false, minProperties: 1 });

const TenantView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  plan: Type.String(),
  retention_days: Type.Integer({ description: 'payloads older than this are deleted with their attachments, e-mail and deliveries' }),
  max_retention_days: Type.Integer({ description: 'the longest retention the plan allows' }),
});

function view(settings: TenantSettings): Record<string, unknown> {
  return { id: settings.id, name: settings.name, plan: settings.plan, retention_days: settings.retentionDays, max_retention_days: settings.maxRetentionDays };
}

/**
 * `GET /v1/tenant` (`tenant:read`: every key and role) and `PATCH /v1/tenant` (`tenant:manage`:
 * owner and admin sessions, no key scope): the caller's own tenant only.
 */
export async function tenantSettingsRoutes(app: FastifyInstance, deps: { settings: TenantSettingsService }): Promise<void> {
  app.get('/v1/tenant', { schema: { response: { 200: TenantView } } }, async (request) => view(await deps.settings.get(authOf(request).tenantId)));

  app.patch<{ Body: Static<typeof PatchBody> }>('/v1/tenant', { schema: { body: PatchBody, response: { 200: TenantView } } }, async (request) => {
    const auth = authOf(request);
    return view(await deps.settings.setRetention(auth.tenantId, request.body.retention_days, auth.actor));
  });
}
