import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { SigningKeyService } from '../crypto/signing-key.service.js';

/**
 * A new key signs as soon as it is made, and verifiers fetch the set again when they meet an
 * unknown kid: a minute bounds how long a shared cache can hide a new key from them.
 */
const JWKS_MAX_AGE_SECONDS = 60;
/** The archive changes only when a key retires, 90 days after its replacement. */
const ARCHIVE_MAX_AGE_SECONDS = 3_600;

/** The tenant ids Sealpost issues (and receipts carry): anything else is not looked up. */
export const TENANT_ID_PATTERN = '^ten_[0-9A-Za-z]{1,64}$';

/** Path of a tenant's public JWKS (DESIGN §6), the URL a tenant hands to its receivers. */
export function tenantJwksPath(tenantId: string): string {
  return `/.well-known/sealpost/tenants/${tenantId}/jwks.json`;
}

/** Path of a tenant's archive of retired keys, beside its JWKS. */
export function tenantJwksArchivePath(tenantId: string): string {
  return `/.well-known/sealpost/tenants/${tenantId}/jwks-archive.json`;
}

export const JwkSchema = Type.Object({
  kty: Type.Literal('OKP'),
  crv: Type.Literal('Ed25519'),
  kid: Type.String(),
  x: Type.String(),
  use: Type.Literal('sig'),
  nbf: Type.Integer({ description: 'unix seconds' }),
  exp: Type.Integer({ description: 'unix seconds' }),
});
export const JwkSetSchema = Type.Object({ keys: Type.Array(JwkSchema) });
const TenantParams = Type.Object({ tenant: Type.String({ pattern: TENANT_ID_PATTERN }) });

/**
 * Public, unauthenticated (DESIGN §6). Per tenant, the URLs a tenant hands to its receivers:
 * `GET /.well-known/sealpost/tenants/:tenant/jwks.json` lists that tenant's signing keys valid
 * now, as RFC 8037 OKP JWKs with their validity window (`nbf`/`exp`, unix seconds), and
 * `…/jwks-archive.json` its retired keys plus the legacy deployment-wide keys, so old receipts
 * stay verifiable. An unknown tenant is 404, like any missing resource.
 *
 * `GET /.well-known/jwks.json` and `/.well-known/jwks-archive.json` list only the legacy
 * deployment-wide keys, which signed before per-tenant keys and never sign again.
 */
/** A JWK Set as RFC 7517 §8.5 types it, cacheable for `maxAgeSeconds`. */
function sendJwks(reply: FastifyReply, jwks: unknown, maxAgeSeconds: number): FastifyReply {
  return reply.type('application/jwk-set+json').header('cache-control', `public, max-age=${maxAgeSeconds}`).send(jwks);
}

export async function jwksRoutes(app: FastifyInstance, deps: { keys: SigningKeyService }): Promise<void> {
  app.get('/.well-known/jwks.json', { schema: { response: { 200: JwkSetSchema } } }, async (_request, reply) => {
    const { live } = await deps.keys.legacyJwks();
    return sendJwks(reply, live, JWKS_MAX_AGE_SECONDS);
  });

  app.get('/.well-known/jwks-archive.json', { schema: { response: { 200: JwkSetSchema } } }, async (_request, reply) => {
    const { archive } = await deps.keys.legacyJwks();
    return sendJwks(reply, archive, ARCHIVE_MAX_AGE_SECONDS);
  });

  app.get<{ Params: Static<typeof TenantParams> }>(
    '/.well-known/sealpost/tenants/:tenant/jwks.json',
    { schema: { params: TenantParams, response: { 200: JwkSetSchema } } },
    async (request, reply) => {
      const jwks = await deps.keys.jwks(request.params.tenant);
      return sendJwks(reply, jwks, JWKS_MAX_AGE_SECONDS);
    },
  );

  app.get<{ Params: Static<typeof TenantParams> }>(
    '/.well-known/sealpost/tenants/:tenant/jwks-archive.json',
    { schema: { params: TenantParams, response: { 200: JwkSetSchema } } },
    async (request, reply) => {
      const jwks = await deps.keys.jwksArchive(request.params.tenant);
      return sendJwks(reply, jwks, ARCHIVE_MAX_AGE_SECONDS);
    },
  );
}
