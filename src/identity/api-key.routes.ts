import { SealpostError } from '../errors/sealpost-error.js';
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { authOf } from '../http/auth.plugin.js';
import { DEFAULT_ROTATION_OVERLAP_DAYS, MAX_ROTATION_OVERLAP_DAYS, keyAgeWarning, keyExpiryWarning, type ApiKeyService, type AuthContext, type KeyManager } from './api-key.service.js';
import type { ApiKeyRecord } from './api-key.repository.js';
import { SCOPES, scopesWithin } from './scopes.js';
import { idPattern } from '../crypto/ids.js';
import { NoContent } from '../http/problem.schema.js';

const ScopeSchema = Type.Union(SCOPES.map((s) => Type.Literal(s)));
const CreateBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100 }),
    scopes: Type.Array(ScopeSchema, { minItems: 1, maxItems: SCOPES.length }),
    expires_at: Type.Optional(Type.Union([Type.String({ format: 'date-time' }), Type.Null()])),
  },
  { additionalProperties: false },
);
const RotateBody = Type.Object(
  { overlap_days: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_ROTATION_OVERLAP_DAYS })) },
  { additionalProperties: false },
);
const IdParams = Type.Object({ id: Type.String({ pattern: idPattern('apiKey') }) });

const NullableTime = Type.Union([Type.String({ format: 'date-time' }), Type.Null()]);
/** A key as listed: never its secret, which only the answer that creates it carries. */
const ApiKeyView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  prefix: Type.String({ description: 'the first characters of the key, to recognise it' }),
  scopes: Type.Array(ScopeSchema),
  created_at: Type.String({ format: 'date-time' }),
  expires_at: NullableTime,
  revoked_at: NullableTime,
  last_used_at: NullableTime,
  rotated_from: Type.Union([Type.String(), Type.Null()]),
  age_warning: Type.Boolean({ description: 'older than 365 days: rotate it' }),
  expiry_warning: Type.Boolean({ description: 'live, and expires within 14 days: roll out a successor' }),
});
const IssuedKeyView = Type.Object({
  ...ApiKeyView.properties,
  api_key: Type.String({ description: 'the secret key, shown this once only' }),
});
const RotatedKeyView = Type.Object({
  ...IssuedKeyView.properties,
  previous: Type.Object(ApiKeyView.properties, { description: 'the replaced key, valid until the end of the overlap' }),
});

/** The calling key acts with its own scopes as its authority over other keys. */
function managerOf(auth: AuthContext): KeyManager {
  if (auth.kind === 'api_key') return { actor: auth.actor, scopes: auth.scopes };
  // No grant carries keys:manage (permissions.ts GRANT_PERMISSIONS); refused here too, should the table ever change.
  if (auth.kind === 'staff') throw new SealpostError('SP_ERR_AUTH_SCOPE_MISSING', 'Staff never manage API keys');
  // An operator may put on a key only the scopes whose permissions their role holds.
  return { actor: auth.actor, scopes: scopesWithin(auth.permissions), operatorId: auth.operatorId };
}

function view(record: ApiKeyRecord, now: number): Record<string, unknown> {
  const iso = (t: number | null): string | null => (t === null ? null : new Date(t).toISOString());
  return {
    id: record.id,
    name: record.name,
    prefix: `sp_live_${record.prefix}`,
    scopes: record.scopes,
    created_at: iso(record.createdAt),
    expires_at: iso(record.expiresAt),
    revoked_at: iso(record.revokedAt),
    last_used_at: iso(record.lastUsedAt),
    rotated_from: record.rotatedFrom,
    age_warning: keyAgeWarning(record, now),
    expiry_warning: keyExpiryWarning(record, now),
  };
}

export async function apiKeyRoutes(app: FastifyInstance, deps: { keys: ApiKeyService }): Promise<void> {

  app.post<{ Body: Static<typeof CreateBody> }>('/v1/api-keys', { schema: { body: CreateBody, response: { 201: IssuedKeyView } } }, async (request, reply) => {
    const expiresAt = request.body.expires_at ? Date.parse(request.body.expires_at) : null;
    const auth = authOf(request);
    const issued = await deps.keys.issueAudited(auth.tenantId, { name: request.body.name, scopes: request.body.scopes, expiresAt }, managerOf(auth));
    return reply.code(201).send({ ...view(issued.record, Date.now()), api_key: issued.token });
  });

  app.get('/v1/api-keys', { schema: { response: { 200: Type.Object({ data: Type.Array(ApiKeyView) }) } } }, async (request) => {
    const now = Date.now();
    return { data: (await deps.keys.list(authOf(request).tenantId)).map((k) => view(k, now)) };
  });

  app.delete<{ Params: Static<typeof IdParams> }>('/v1/api-keys/:id', { schema: { params: IdParams, response: { 204: NoContent } } }, async (request, reply) => {
    const auth = authOf(request);
    await deps.keys.revoke(auth.tenantId, request.params.id, managerOf(auth));
    return reply.code(204).send();
  });

  app.post<{ Params: Static<typeof IdParams>; Body: Static<typeof RotateBody> | undefined }>(
    '/v1/api-keys/:id/rotate',
    { schema: { params: IdParams, body: Type.Optional(RotateBody), response: { 201: RotatedKeyView } } },
    async (request, reply) => {
      const auth = authOf(request);
      const tenantId = auth.tenantId;
      const successor = await deps.keys.rotate(tenantId, request.params.id, request.body?.overlap_days ?? DEFAULT_ROTATION_OVERLAP_DAYS, managerOf(auth));
      const previous = await deps.keys.get(tenantId, request.params.id);
      return reply.code(201).send({ ...view(successor.record, Date.now()), api_key: successor.token, previous: view(previous, Date.now()) });
    },
  );
}
