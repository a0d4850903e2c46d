import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { mediaResponse } from '../http/problem.schema.js';
import { SECURITY_TXT_PATH, type SecurityTxtService } from './security-txt.js';

/** Public, read-only, the same for every caller: RFC 9116 security.txt, clear-signed when a security key exists. */
export async function securityTxtRoutes(app: FastifyInstance, deps: { securityTxt: SecurityTxtService }): Promise<void> {
  const schema = { response: { 200: mediaResponse('RFC 9116 security.txt, OpenPGP clear-signed by the deployment\'s security key', ['text/plain'], Type.String()) } };
  app.get(SECURITY_TXT_PATH, { schema }, async (_request, reply) => {
    const document = await deps.securityTxt.document();
    // An hour: well inside the 30 days between re-signing and expiry.
    return reply.type('text/plain; charset=utf-8').header('cache-control', 'public, max-age=3600').send(document.body);
  });
}
