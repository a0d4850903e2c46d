import { Readable } from 'node:stream';
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { SealpostError } from '../errors/sealpost-error.js';
import { authOf } from '../http/auth.plugin.js';
import { mediaResponse } from '../http/problem.schema.js';
import { AUDIT_ACTIONS } from './audit-event.js';
import type { StoredCheckpoint } from './checkpoint.repository.js';
import { DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT, type AuditService } from './audit.service.js';

const Size = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });
const Base64Hash = Type.String({ description: 'base64 SHA-256' });

const CheckpointView = Type.Object({
  checkpoint: Type.String({ description: 'C2SP signed note (tlog-checkpoint body + Ed25519 signature)' }),
  tree_size: Size,
  root_hash: Base64Hash,
});
const InclusionQuery = Type.Object({ index: Size, tree_size: Type.Optional(Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER })) }, { additionalProperties: false });
const InclusionView = Type.Object({
  index: Size,
  tree_size: Size,
  leaf_hash: Base64Hash,
  proof: Type.Array(Base64Hash),
  checkpoint: Type.Optional(Type.String()),
});
const ConsistencyQuery = Type.Object({ from: Size, to: Size }, { additionalProperties: false });
const ConsistencyView = Type.Object({ from: Size, to: Size, proof: Type.Array(Base64Hash) });
const EventsQuery = Type.Object(
  {
    from: Type.Optional(Type.String({ format: 'date-time' })),
    to: Type.Optional(Type.String({ format: 'date-time' })),
    actor: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    action: Type.Optional(Type.Union(AUDIT_ACTIONS.map((a) => Type.Literal(a)))),
    cursor: Type.Optional(Type.String({ pattern: '^[0-9]{1,16}$' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_LIST_LIMIT })),
  },
  { additionalProperties: false },
);
const EventsView = Type.Object({
  data: Type.Array(Type.Object({ index: Size, event: Type.Unknown() })),
  next_cursor: Type.Union([Type.String(), Type.Null()]),
});
const ExportBody = Type.Object(
  {
    from: Type.String({ format: 'date-time' }),
    to: Type.String({ format: 'date-time' }),
    format: Type.Union([Type.Literal('jsonl'), Type.Literal('csv')]),
  },
  { additionalProperties: false },
);
const ExportFile = mediaResponse('the tenant\'s events in the range, one per line (JSON Lines) or as CSV, streamed', ['application/x-ndjson', 'text/csv']);

function checkpointView(checkpoint: StoredCheckpoint): Static<typeof CheckpointView> {
  return { checkpoint: checkpoint.note, tree_size: checkpoint.treeSize, root_hash: checkpoint.rootHash.toString('base64') };
}

function timeRange(from: string | undefined, to: string | undefined): { from?: number; to?: number } {
  const range = { from: from === undefined ? undefined : Date.parse(from), to: to === undefined ? undefined : Date.parse(to) };
  if (range.from !== undefined && range.to !== undefined && range.from >= range.to) {
    throw new SealpostError('SP_ERR_HTTP_BAD_REQUEST', 'from must be earlier than to');
  }
  return range;
}

/**
 * The tenant-facing audit API. Register inside the authenticated context (the one whose
 * onRequest hook is `authenticateHook`); every route needs the `audit:read` scope. Hashes are
 * base64, as in the checkpoint.
 */
export async function auditRoutes(app: FastifyInstance, deps: { audit: AuditService }): Promise<void> {

  app.get('/v1/audit/checkpoint', { schema: { response: { 200: CheckpointView } } }, async () =>
    checkpointView(await deps.audit.latestCheckpoint()),
  );

  app.get<{ Querystring: Static<typeof InclusionQuery> }>(
    '/v1/audit/proof/inclusion',
    { schema: { querystring: InclusionQuery, response: { 200: InclusionView } } },
    async (request) => {
      const proof = await deps.audit.inclusionProof(authOf(request).tenantId, request.query.index, request.query.tree_size);
      return {
        index: proof.index,
        tree_size: proof.treeSize,
        leaf_hash: proof.leafHash.toString('base64'),
        proof: proof.proof.map((p) => p.toString('base64')),
        ...(proof.checkpoint ? { checkpoint: proof.checkpoint.note } : {}),
      };
    },
  );

  app.get<{ Querystring: Static<typeof ConsistencyQuery> }>(
    '/v1/audit/proof/consistency',
    { schema: { querystring: ConsistencyQuery, response: { 200: ConsistencyView } } },
    async (request) => {
      const { from, to } = request.query;
      const proof = await deps.audit.consistencyProof(from, to);
      return { from, to, proof: proof.map((p) => p.toString('base64')) };
    },
  );

  app.get<{ Querystring: Static<typeof EventsQuery> }>(
    '/v1/audit/events',
    { schema: { querystring: EventsQuery, response: { 200: EventsView } } },
    async (request) => {
      const q = request.query;
      const page = await deps.audit.listEvents(authOf(request).tenantId, {
        ...timeRange(q.from, q.to),
        actor: q.actor,
        action: q.action,
        afterIndex: q.cursor === undefined ? undefined : Number(q.cursor),
        limit: q.limit ?? DEFAULT_LIST_LIMIT,
      });
      return { data: page.events, next_cursor: page.nextAfter === undefined ? null : String(page.nextAfter) };
    },
  );

  app.post<{ Body: Static<typeof ExportBody> }>('/v1/audit/exports', { schema: { body: ExportBody, response: { 200: ExportFile } } }, async (request, reply) => {
    const auth = authOf(request);
    const range = timeRange(request.body.from, request.body.to) as { from: number; to: number };
    const format = request.body.format;
    const started = await deps.audit.startExport(auth.tenantId, auth.actor, { ...range, format });
    const filename = `sealpost-audit-${auth.tenantId}-${started.checkpoint.treeSize}.${format}`;
    return reply
      .code(200)
      .type(format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8')
      .header('content-disposition', `attachment; filename="${filename}"`)
      .header('cache-control', 'no-store')
      .send(Readable.from(started.chunks));
  });
}
