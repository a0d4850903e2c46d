import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { mediaResponse } from '../http/problem.schema.js';
import type { LogKeyService } from './log-key.service.js';

/**
 * Public, unauthenticated: the audit log's C2SP verifier key (`<name>+<key ID>+<base64 key>`),
 * which checks every checkpoint. Auditors should pin it once, not fetch it next to the note
 * they are checking.
 */
export async function logKeyRoutes(app: FastifyInstance, deps: { keys: LogKeyService }): Promise<void> {
  const schema = { response: { 200: mediaResponse('the C2SP verifier key, one line', ['text/plain'], Type.String({ description: '<name>+<key ID>+<base64 key>' })) } };
  app.get('/.well-known/sealpost-log-key', { schema }, async (_request, reply) => {
    const key = await deps.keys.currentKey();
    return reply.type('text/plain; charset=utf-8').header('cache-control', 'public, max-age=3600').send(`${key.verifierKey}\n`);
  });
}
