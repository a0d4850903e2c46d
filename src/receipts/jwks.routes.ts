import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { SigningKeyService } from '../crypto/signing-key.service.js';

/**
 * A new key signs as soon as it is made, and verifiers fetch the set again when they meet an
 * unknown kid: a minute bounds how long a shared cache can hide a new key from them.
 */
const JWKS_MAX_AGE_SECONDS = 60;
/** The archive changes only when a key retires, 90 days after its replacement. */
const ARCHIVE_MAX_AGE_SECONDS = 3_600;

const Jwk = Type.Object({
  kty: Type.Literal('OKP'),
  crv: Type.Literal('Ed25519'),
  kid: Type.String(),
  x: Type.String(),
  use: Type.Literal('sig'),
  nbf: Type.Integer({ description: 'unix seconds' }),
  exp: Type.Integer({ description: 'unix seconds' }),
});
const JwkSetSchema = Type.Object({ keys: Type.Array(Jwk) });

/**
 * Public, unauthenticated (DESIGN §6): `GET /.well-known/jwks.json` lists every signing key
 * valid now, as RFC 8037 OKP JWKs with their validity window (`nbf`/`exp`, unix seconds);
 * `GET /.well-known/jwks-archive.json` lists the retired ones, so old receipts stay verifiable.
 */
export async function jwksRoutes(app: FastifyInstance, deps: { keys: SigningKeyService }): Promise<void> {
  app.get('/.well-known/jwks.json', { schema: { response: { 200: JwkSetSchema } } }, async (_request, reply) => {
    const jwks = await deps.keys.jwks();
    return reply.type('application/jwk-set+json').header('cache-control', `public, max-age=${JWKS_MAX_AGE_SECONDS}`).send(jwks);
  });

  app.get('/.well-known/jwks-archive.json', { schema: { response: { 200: JwkSetSchema } } }, async (_request, reply) => {
    const jwks = await deps.keys.jwksArchive();
    return reply.type('application/jwk-set+json').header('cache-control', `public, max-age=${ARCHIVE_MAX_AGE_SECONDS}`).send(jwks);
  });
}
