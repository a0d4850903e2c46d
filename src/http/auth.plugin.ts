import type { FastifyReply, FastifyRequest, preHandlerHookHandler } from 'fastify';
import { SealpostError } from '../errors/sealpost-error.js';
import { keyAgeWarning, type ApiKeyService, type AuthContext } from '../identity/api-key.service.js';
import type { Scope } from '../identity/scopes.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by `authenticate` on every /v1 route; absent on public routes. */
    auth?: AuthContext;
  }
}

export const KEY_AGE_WARNING_HEADER = 'sealpost-key-age-warning';

function bearer(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  return match?.[1];
}

/** onRequest hook: resolves the API key to its tenant and scopes, or answers 401. */
export function authenticateHook(keys: ApiKeyService) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const auth = await keys.authenticate(bearer(request));
    request.auth = auth;
    if (keyAgeWarning({ createdAt: auth.keyCreatedAt }, Date.now())) {
      reply.header(KEY_AGE_WARNING_HEADER, 'API key is older than 365 days; rotate it (POST /v1/api-keys/:id/rotate)');
    }
  };
}

/** The caller's auth context; routes behind authenticateHook always have one. */
export function authOf(request: FastifyRequest): AuthContext {
  if (!request.auth) throw new SealpostError('SP_ERR_AUTH_UNAUTHENTICATED', 'Missing or invalid API key');
  return request.auth;
}

/** preHandler that requires one scope. */
export function requireScope(scope: Scope): preHandlerHookHandler {
  return (request, _reply, done) => {
    if (!authOf(request).scopes.includes(scope)) {
      done(new SealpostError('SP_ERR_AUTH_SCOPE_MISSING', `This API key lacks the ${scope} scope`));
      return;
    }
    done();
  };
}
