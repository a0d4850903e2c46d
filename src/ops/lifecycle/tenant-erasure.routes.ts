import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { sessionOf } from '../../http/auth.plugin.js';
import { ERASURE_CONFIRM_WINDOW_MS, type TenantErasureService } from './tenant-erasure.service.js';

const ErasureBody = Type.Object(
  { confirmation_token: Type.Optional(Type.String({ pattern: '^spe_[A-Za-z0-9_-]{43}$' })) },
  { additionalProperties: false },
);

const ConfirmationView = Type.Object({
  status: Type.Literal('confirmation_required'),
  tenant: Type.String(),
  confirmation_token: Type.String({ description: 'send it back within ten minutes, with the same credential, to erase' }),
  expires_at: Type.String({ format: 'date-time' }),
  warning: Type.String(),
});
const ErasedView = Type.Object({ status: Type.Literal('erased'), tenant: Type.String(), erased_at: Type.String({ format: 'date-time' }) });

/**
 * `POST /v1/tenant/erasure`: the owner erases its own tenant, in two steps. Without a body (or
 * `{}`) the answer is a confirmation token; sending it back from the same session within ten
 * minutes erases the tenant. Only an owner's session with its second factor reaches it
 * (`tenant:erase`, which no API-key scope grants): a leaked key must not be able to destroy a
 * tenant, and a token shown to one session is worth nothing to another.
 */
export async function tenantErasureRoutes(app: FastifyInstance, deps: { erasure: TenantErasureService }): Promise<void> {
  app.post<{ Body: Static<typeof ErasureBody> | undefined }>(
    '/v1/tenant/erasure',
    { schema: { body: Type.Optional(ErasureBody), response: { 200: ErasedView, 202: ConfirmationView } } },
    async (request, reply) => {
      const auth = sessionOf(request);
      const actor = auth.actor;
      const confirmation = request.body?.confirmation_token;
      if (confirmation === undefined) {
        const pending = await deps.erasure.requestConfirmation(auth.tenantId, auth.sessionId, actor);
        return reply.code(202).send({
          status: 'confirmation_required',
          tenant: auth.tenantId,
          confirmation_token: pending.token,
          expires_at: new Date(pending.expiresAt).toISOString(),
          warning: `Confirming destroys this tenant's encryption keys: every payload, attachment, e-mail and receipt becomes unreadable for good, in every backup too. Send {"confirmation_token": …} to this route from the same session within ${ERASURE_CONFIRM_WINDOW_MS / 60_000} minutes.`,
        });
      }
      const erased = await deps.erasure.confirm(auth.tenantId, auth.sessionId, confirmation, actor);
      return reply.code(200).send({ status: 'erased', tenant: erased.tenant, erased_at: new Date(erased.erasedAt).toISOString() });
    },
  );
}
