import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { SigningKeyService } from '../crypto/signing-key.service.js';
import { authOf } from '../http/auth.plugin.js';
import { JwkSetSchema, tenantJwksArchivePath, tenantJwksPath } from './jwks.routes.js';

const SigningKeysView = Type.Object({
  tenant: Type.String(),
  current_kid: Type.String({ description: 'the key that signs this tenant\'s webhooks and receipts now' }),
  previous_kid: Type.Union([Type.String(), Type.Null()], { description: 'the key it replaced, while still valid for verification (90 days)' }),
  next_rotation_at: Type.String({ format: 'date-time' }),
  jwks_url: Type.String({ description: 'hand this to your receivers: the public keys of this tenant only' }),
  jwks_archive_url: Type.String({ description: 'retired keys, for receipts of any age' }),
  keys: JwkSetSchema.properties.keys,
});

/**
 * `GET /v1/signing-keys`: the caller's tenant's public signing keys (DESIGN §6), with the
 * current and previous kid, the next rotation and the tenant's JWKS URLs. Any valid API key of
 * the tenant may read it, whatever its scopes: these are public keys, and an integration that
 * only sends payloads still needs to tell its receivers where to fetch them.
 */
export async function signingKeyRoutes(app: FastifyInstance, deps: { keys: SigningKeyService; publicUrl: string }): Promise<void> {
  const base = deps.publicUrl.replace(/\/$/, '');
  app.get('/v1/signing-keys', { schema: { response: { 200: SigningKeysView } } }, async (request) => {
    const { tenantId } = authOf(request);
    const keys = await deps.keys.tenantKeys(tenantId);
    return {
      tenant: keys.tenant,
      current_kid: keys.current,
      previous_kid: keys.previous,
      next_rotation_at: new Date(keys.nextRotationAt).toISOString(),
      jwks_url: `${base}${tenantJwksPath(tenantId)}`,
      jwks_archive_url: `${base}${tenantJwksArchivePath(tenantId)}`,
      keys: keys.jwks.keys,
    };
  });
}
