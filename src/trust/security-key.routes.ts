import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { mediaResponse, problemResponse } from '../http/problem.schema.js';
import type { SecurityKeyService } from './security-key.service.js';

/** The security.txt `Encryption` URL (RFC 9116 §2.5.4): the deployment's OpenPGP public key. */
export const SECURITY_KEY_PATH = '/security/pgp-key.asc';

/** Public, read-only: the armored public key, never the private one; no tenant data. */
export async function securityKeyRoutes(app: FastifyInstance, deps: { keys: SecurityKeyService }): Promise<void> {
  const schema = {
    response: {
      200: mediaResponse('the OpenPGP public key (ASCII armor) to encrypt security reports to and to verify security.txt with', ['application/pgp-keys'], Type.String()),
      404: problemResponse('This deployment has no security key yet (SP_ERR_TRUST_KEY_MISSING)'),
    },
  };
  app.get(SECURITY_KEY_PATH, { schema }, async (_request, reply) => {
    const key = await deps.keys.require();
    return reply.type('application/pgp-keys').header('cache-control', 'public, max-age=300').send(key.publicKeyArmored);
  });
}
