import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { authOf } from '../../http/auth.plugin.js';
import type { Inbox } from './inbox.repository.js';
import type { InboxService } from './inbox.service.js';
import { NoContent, problemResponse } from '../../http/problem.schema.js';

const DmarcPolicy = Type.Union([Type.Literal('accept'), Type.Literal('reject')]);
const CreateBody = Type.Object({ dmarc_policy: Type.Optional(DmarcPolicy) }, { additionalProperties: false });
const IdParams = Type.Object({ id: Type.String({ pattern: '^inb_[0-9A-HJKMNP-TV-Z]{26}$' }) });
const InboxView = Type.Object({
  id: Type.String(),
  address: Type.String(),
  dmarc_policy: DmarcPolicy,
  created_at: Type.String(),
});
const ListView = Type.Object({ data: Type.Array(InboxView) });

/** `/v1/inboxes`: the tenant's inbound e-mail addresses. Managed with the destinations:manage scope, like the other routing settings. */
export async function inboxRoutes(app: FastifyInstance, deps: { inboxes: InboxService }): Promise<void> {
  const view = (inbox: Inbox): Static<typeof InboxView> => ({
    id: inbox.id,
    address: deps.inboxes.address(inbox),
    dmarc_policy: inbox.dmarcPolicy,
    created_at: new Date(inbox.createdAt).toISOString(),
  });

  app.post<{ Body: Static<typeof CreateBody> | undefined }>(
    '/v1/inboxes',
    { schema: { body: Type.Optional(CreateBody), response: { 201: InboxView, 409: problemResponse('The tenant has as many inboxes as its plan allows') } } },
    async (request, reply) => {
      const policy = request.body?.dmarc_policy;
      const auth = authOf(request);
      const inbox = await deps.inboxes.create(auth.tenantId, policy ? { dmarcPolicy: policy } : {}, auth.actor);
      return reply.code(201).send(view(inbox));
    },
  );

  app.get('/v1/inboxes', { schema: { response: { 200: ListView } } }, async (request) => ({
    data: (await deps.inboxes.list(authOf(request).tenantId)).map(view),
  }));

  app.delete<{ Params: Static<typeof IdParams> }>('/v1/inboxes/:id', { schema: { params: IdParams, response: { 204: NoContent } } }, async (request, reply) => {
    const auth = authOf(request);
    await deps.inboxes.delete(auth.tenantId, request.params.id, auth.actor);
    return reply.code(204).send();
  });
}
