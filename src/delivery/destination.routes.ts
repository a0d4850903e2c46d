import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AuditActor } from '../audit/audit-event.js';
import { pageLimit, pageOf, pageQuery } from '../http/pagination.js';
import { authOf } from '../http/auth.plugin.js';
import type { Destination } from './destination.repository.js';
import { MAX_URL_LENGTH, type DestinationService } from './destination.service.js';
import { MAX_CUSTOM_HEADERS } from './forwarded-request.js';
import { idPattern } from '../crypto/ids.js';
import { NoContent, problemResponse } from '../http/problem.schema.js';

/** Request timeouts a destination may choose: long enough for slow receivers, short enough to keep leases short. */
const MIN_TIMEOUT_MS = 1_000;
const MAX_TIMEOUT_MS = 300_000;
const MAX_DESTINATION_CONCURRENCY = 100;

const IdParams = Type.Object({ id: Type.String({ pattern: idPattern('destination') }) });
// One JSON type list rather than anyOf: Fastify's type coercion could otherwise rewrite a null into an array.
const EventTypes = Type.Unsafe<string[] | null>({
  type: ['array', 'null'],
  items: { type: 'string', pattern: '^[a-z][a-z0-9_.-]{0,99}$' },
  maxItems: 50,
  uniqueItems: true,
});
const fields = {
  url: Type.String({ minLength: 1, maxLength: MAX_URL_LENGTH }),
  event_types: Type.Optional(EventTypes),
  enabled: Type.Optional(Type.Boolean()),
  headers: Type.Optional(Type.Record(Type.String(), Type.String({ maxLength: 4_096 }), { maxProperties: MAX_CUSTOM_HEADERS })),
  timeout_ms: Type.Optional(Type.Integer({ minimum: MIN_TIMEOUT_MS, maximum: MAX_TIMEOUT_MS })),
  max_concurrency: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_DESTINATION_CONCURRENCY })),
};
const CreateBody = Type.Object(fields, { additionalProperties: false });
const PatchBody = Type.Object({ ...fields, url: Type.Optional(fields.url) }, { additionalProperties: false, minProperties: 1 });
const ListQuery = pageQuery(Type.String({ pattern: idPattern('destination') }));
const ReplayBody = Type.Object(
  { from: Type.String({ format: 'date-time' }), to: Type.String({ format: 'date-time' }) },
  { additionalProperties: false },
);

const NullableString = Type.Union([Type.String(), Type.Null()]);
/** Header values may be credentials: only their names are ever shown. */
const DestinationView = Type.Object({
  id: Type.String(),
  url: Type.String(),
  event_types: Type.Union([Type.Array(Type.String()), Type.Null()]),
  enabled: Type.Boolean(),
  disabled_reason: NullableString,
  header_names: Type.Array(Type.String()),
  timeout_ms: Type.Integer(),
  max_concurrency: Type.Integer(),
  failing_since: NullableString,
  created_at: Type.String(),
  updated_at: Type.String(),
});
const ListView = Type.Object({ data: Type.Array(DestinationView), next_cursor: NullableString });

function iso(t: number | null): string | null {
  return t === null ? null : new Date(t).toISOString();
}

function view(d: Destination): Static<typeof DestinationView> {
  return {
    id: d.id,
    url: d.url,
    event_types: d.eventTypes === null ? null : [...d.eventTypes],
    enabled: d.enabled,
    disabled_reason: d.disabledReason,
    header_names: Object.keys(d.headers),
    timeout_ms: d.timeoutMs,
    max_concurrency: d.maxConcurrency,
    failing_since: iso(d.failingSince),
    created_at: new Date(d.createdAt).toISOString(),
    updated_at: new Date(d.updatedAt).toISOString(),
  };
}

function toInput(body: Partial<Static<typeof CreateBody>>) {
  return {
    ...(body.url === undefined ? {} : { url: body.url }),
    ...(body.event_types === undefined ? {} : { eventTypes: body.event_types }),
    ...(body.enabled === undefined ? {} : { enabled: body.enabled }),
    ...(body.headers === undefined ? {} : { headers: body.headers }),
    ...(body.timeout_ms === undefined ? {} : { timeoutMs: body.timeout_ms }),
    ...(body.max_concurrency === undefined ? {} : { maxConcurrency: body.max_concurrency }),
  };
}

/** `/v1/destinations`: CRUD and bulk replay. Needs the destinations:manage scope. */
export async function destinationRoutes(app: FastifyInstance, deps: { destinations: DestinationService }): Promise<void> {
  const { destinations } = deps;
  const actor = (request: FastifyRequest): AuditActor => authOf(request).actor;

  app.post<{ Body: Static<typeof CreateBody> }>(
    '/v1/destinations',
    { schema: { body: CreateBody, response: { 201: DestinationView, 409: problemResponse('The tenant has as many destinations as it may') } } },
    async (request, reply) => {
      const created = await destinations.create(authOf(request).tenantId, { ...toInput(request.body), url: request.body.url }, actor(request));
      return reply.code(201).send(view(created));
    },
  );

  app.get<{ Querystring: Static<typeof ListQuery> }>(
    '/v1/destinations',
    { schema: { querystring: ListQuery, response: { 200: ListView } } },
    async (request) => {
      const limit = pageLimit(request.query);
      const page = await destinations.list(authOf(request).tenantId, { after: request.query.cursor, limit });
      return pageOf(page, limit, view, (d) => d.id);
    },
  );

  app.get<{ Params: Static<typeof IdParams> }>(
    '/v1/destinations/:id',
    { schema: { params: IdParams, response: { 200: DestinationView } } },
    async (request) => view(await destinations.get(authOf(request).tenantId, request.params.id)),
  );

  app.patch<{ Params: Static<typeof IdParams>; Body: Static<typeof PatchBody> }>(
    '/v1/destinations/:id',
    { schema: { params: IdParams, body: PatchBody, response: { 200: DestinationView } } },
    async (request) => view(await destinations.update(authOf(request).tenantId, request.params.id, toInput(request.body), actor(request))),
  );

  app.delete<{ Params: Static<typeof IdParams> }>('/v1/destinations/:id', { schema: { params: IdParams, response: { 204: NoContent } } }, async (request, reply) => {
    await destinations.delete(authOf(request).tenantId, request.params.id, actor(request));
    return reply.code(204).send();
  });

  app.post<{ Params: Static<typeof IdParams>; Body: Static<typeof ReplayBody> }>(
    '/v1/destinations/:id/replay',
    { schema: { params: IdParams, body: ReplayBody, response: { 200: Type.Object({ count: Type.Integer() }) } } },
    async (request) => ({ count: await destinations.replay(authOf(request).tenantId, request.params.id, request.body, actor(request)) }),
  );
}
