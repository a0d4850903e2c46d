import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { idPattern } from '../../crypto/ids.js';
import { authOf, sessionOf } from '../../http/auth.plugin.js';
import { ROLES } from '../permissions.js';
import type { Member } from './operator.repository.js';
import type { MemberService } from './member.service.js';

const RoleSchema = Type.Union(ROLES.map((r) => Type.Literal(r)));
const InviteBody = Type.Object({ email: Type.String({ minLength: 3, maxLength: 254, pattern: '^[^\\s@]+@[^\\s@]+$' }), role: RoleSchema }, { additionalProperties: false });
const RoleBody = Type.Object({ role: RoleSchema }, { additionalProperties: false });
const IdParams = Type.Object({ id: Type.String({ pattern: idPattern('operator') }) });
const RemoveQuery = Type.Object({ keys: Type.Optional(Type.Union([Type.Literal('revoke'), Type.Literal('hand_over')])) }, { additionalProperties: false });

const MemberView = Type.Object({ id: Type.String(), email: Type.String(), role: RoleSchema, created_at: Type.String({ format: 'date-time' }) });
const RemovedView = Type.Object({
  sessions_revoked: Type.Integer({ description: 'the member\'s sessions ended' }),
  keys: Type.Integer({ description: 'the member\'s API keys revoked or handed over' }),
  key_action: Type.Union([Type.Literal('revoke'), Type.Literal('hand_over')]),
});

function view(member: Member): Record<string, unknown> {
  return { id: member.operatorId, email: member.email, role: member.role, created_at: new Date(member.createdAt).toISOString() };
}

/** `/v1/members`: the tenant's operators and their roles (permission table: members:read / members:manage). */
export async function memberRoutes(app: FastifyInstance, deps: { members: MemberService }): Promise<void> {
  app.get('/v1/members', { schema: { response: { 200: Type.Object({ data: Type.Array(MemberView) }) } } }, async (request) => ({ data: (await deps.members.list(authOf(request).tenantId)).map(view) }));

  app.post<{ Body: Static<typeof InviteBody> }>('/v1/members', { schema: { body: InviteBody, response: { 201: MemberView } } }, async (request, reply) => {
    const member = await deps.members.invite(sessionOf(request), request.body.email, request.body.role);
    return reply.code(201).send(view(member));
  });

  app.patch<{ Params: Static<typeof IdParams>; Body: Static<typeof RoleBody> }>('/v1/members/:id', { schema: { params: IdParams, body: RoleBody, response: { 200: MemberView } } }, async (request) =>
    view(await deps.members.changeRole(sessionOf(request), request.params.id, request.body.role)),
  );

  app.delete<{ Params: Static<typeof IdParams>; Querystring: Static<typeof RemoveQuery> }>(
    '/v1/members/:id',
    { schema: { params: IdParams, querystring: RemoveQuery, response: { 200: RemovedView } } },
    async (request) => {
      const removed = await deps.members.remove(sessionOf(request), request.params.id, request.query.keys ?? 'revoke');
      return { sessions_revoked: removed.sessionsRevoked, keys: removed.keys, key_action: request.query.keys ?? 'revoke' };
    },
  );
}
