import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { pageLimit, pageOf, pageQuery } from '../http/pagination.js';
import { authOf } from '../http/auth.plugin.js';
import type { AttemptRecord, DeliveryRecord } from './delivery.repository.js';
import { MAX_BULK_RETRY, type DeliveryService } from './delivery.service.js';
import { idPattern } from '../crypto/ids.js';


const IdParams = Type.Object({ id: Type.String({ pattern: idPattern('delivery') }) });
const ListQuery = pageQuery(Type.String({ pattern: idPattern('delivery') }), {
  payload: Type.Optional(Type.String({ pattern: idPattern('payload') })),
  destination: Type.Optional(Type.String({ pattern: idPattern('destination') })),
  status: Type.Optional(Type.Union([Type.Literal('pending'), Type.Literal('succeeded'), Type.Literal('dead'), Type.Literal('stopped')])),
});
const AttemptsQuery = pageQuery(Type.Integer({ minimum: 0 }));
const BulkRetryBody = Type.Object(
  { ids: Type.Array(Type.String({ pattern: idPattern('delivery') }), { minItems: 1, maxItems: MAX_BULK_RETRY, uniqueItems: true }) },
  { additionalProperties: false },
);
const BulkRetryView = Type.Object({
  retried: Type.Array(Type.String(), { description: 'due now' }),
  not_retried: Type.Array(Type.String(), { description: 'no such delivery of this tenant, or its destination was deleted' }),
});

const NullableString = Type.Union([Type.String(), Type.Null()]);
const NullableInteger = Type.Union([Type.Integer(), Type.Null()]);
const DeliveryView = Type.Object({
  id: Type.String(),
  payload: Type.String(),
  destination: Type.String(),
  status: Type.String(),
  attempts: Type.Integer(),
  /** Only while pending. */
  next_attempt_at: NullableString,
  last_status_code: NullableInteger,
  last_error: NullableString,
  created_at: Type.String(),
  updated_at: Type.String(),
  completed_at: NullableString,
});
const AttemptView = Type.Object({
  id: Type.String(),
  attempt: Type.Integer(),
  started_at: Type.String(),
  duration_ms: Type.Integer(),
  status_code: NullableInteger,
  error_class: NullableString,
  /** The first 4 KB of the receiver's answer, as UTF-8 (invalid bytes replaced). */
  response_body: NullableString,
});

function iso(t: number | null): string | null {
  return t === null ? null : new Date(t).toISOString();
}

function deliveryView(d: DeliveryRecord): Static<typeof DeliveryView> {
  return {
    id: d.id,
    payload: d.payloadId,
    destination: d.destinationId,
    status: d.status,
    attempts: d.attempts,
    next_attempt_at: d.status === 'pending' ? iso(d.nextAttemptAt) : null,
    last_status_code: d.lastStatusCode,
    last_error: d.lastError,
    created_at: new Date(d.createdAt).toISOString(),
    updated_at: new Date(d.updatedAt).toISOString(),
    completed_at: iso(d.completedAt),
  };
}

function attemptView(a: AttemptRecord): Static<typeof AttemptView> {
  return {
    id: a.id,
    attempt: a.attempt,
    started_at: new Date(a.startedAt).toISOString(),
    duration_ms: a.durationMs,
    status_code: a.statusCode,
    error_class: a.errorClass,
    response_body: a.response === null ? null : a.response.toString('utf8'),
  };
}

/** `/v1/deliveries`: reading deliveries and attempts (payloads:read) and replaying one or a batch (destinations:manage). */
export async function deliveryRoutes(app: FastifyInstance, deps: { deliveries: DeliveryService }): Promise<void> {
  const { deliveries } = deps;

  app.get<{ Querystring: Static<typeof ListQuery> }>(
    '/v1/deliveries',
    { schema: { querystring: ListQuery, response: { 200: Type.Object({ data: Type.Array(DeliveryView), next_cursor: NullableString }) } } },
    async (request) => {
      const { payload, destination, status, cursor } = request.query;
      const limit = pageLimit(request.query);
      const filter = { ...(payload ? { payloadId: payload } : {}), ...(destination ? { destinationId: destination } : {}), ...(status ? { status } : {}) };
      const page = await deliveries.list(authOf(request).tenantId, filter, { before: cursor, limit });
      return pageOf(page, limit, deliveryView, (d) => d.id);
    },
  );

  app.get<{ Params: Static<typeof IdParams> }>(
    '/v1/deliveries/:id',
    { schema: { params: IdParams, response: { 200: DeliveryView } } },
    async (request) => deliveryView(await deliveries.get(authOf(request).tenantId, request.params.id)),
  );

  app.get<{ Params: Static<typeof IdParams>; Querystring: Static<typeof AttemptsQuery> }>(
    '/v1/deliveries/:id/attempts',
    {
      schema: { params: IdParams, querystring: AttemptsQuery, response: { 200: Type.Object({ data: Type.Array(AttemptView), next_cursor: NullableInteger }) } },
    },
    async (request) => {
      const limit = pageLimit(request.query);
      const page = await deliveries.attempts(authOf(request).tenantId, request.params.id, { after: request.query.cursor, limit });
      return pageOf(page, limit, attemptView, (a) => a.attempt);
    },
  );

  app.post<{ Params: Static<typeof IdParams> }>(
    '/v1/deliveries/:id/retry',
    { schema: { params: IdParams, response: { 200: DeliveryView } } },
    async (request) => deliveryView(await deliveries.retry(authOf(request).tenantId, request.params.id)),
  );

  // A bounded batch rather than a server-side job: each call commits in one transaction with its
  // audit event, and the console shows progress batch by batch.
  app.post<{ Body: Static<typeof BulkRetryBody> }>(
    '/v1/deliveries/retry',
    { schema: { body: BulkRetryBody, response: { 200: BulkRetryView } } },
    async (request) => {
      const auth = authOf(request);
      const retried = await deliveries.retryMany(auth.tenantId, request.body.ids, auth.actor);
      const done = new Set(retried);
      return { retried, not_retried: request.body.ids.filter((id) => !done.has(id)) };
    },
  );
}
