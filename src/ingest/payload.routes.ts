import { createHash } from 'node:crypto';
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { refuseForwardedRequests } from '../delivery/forwarded-request.js';
import { SealpostError } from '../errors/sealpost-error.js';
import { pageLimit, pageOf, pageQuery } from '../http/pagination.js';
import { authOf } from '../http/auth.plugin.js';
import type { EncryptedBlobStore } from '../storage/encrypted-blob-store.js';
import { safeContentType } from './content-type.js';
import { parseJsonBody } from './json-body.js';
import { attachmentBlobContext, readMultipartUpload, registerMultipart, removeBlobs, type UploadLimits } from './multipart-upload.js';
import type { PayloadRepository } from './payload.repository.js';
import type { PayloadService } from './payload.service.js';
import { idPattern } from '../crypto/ids.js';
import { mediaResponse, problemResponse } from '../http/problem.schema.js';
import { ReceiptSchema } from '../receipts/receipt.routes.js';

export interface PayloadRoutesDeps {
  readonly payloads: PayloadService;
  readonly repository: PayloadRepository;
  readonly blobs: EncryptedBlobStore;
  readonly limits: UploadLimits;
}

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

const PayloadParams = Type.Object({ id: Type.String({ pattern: idPattern('payload') }) });
const AttachmentParams = Type.Object({ id: Type.String({ pattern: idPattern('attachment') }) });
const ListQuery = pageQuery(Type.String({ pattern: idPattern('payload') }), {
  type: Type.Optional(Type.Union([Type.Literal('payload.received'), Type.Literal('email.received')], { description: 'only payloads of this envelope type' })),
  channel: Type.Optional(Type.Union([Type.Literal('https'), Type.Literal('smtp')], { description: 'only payloads that arrived on this channel' })),
  received_from: Type.Optional(Type.String({ format: 'date-time', description: 'only payloads received at or after this time' })),
  received_before: Type.Optional(Type.String({ format: 'date-time', description: 'only payloads received before this time' })),
  delivery_status: Type.Optional(
    Type.Union([Type.Literal('pending'), Type.Literal('succeeded'), Type.Literal('dead'), Type.Literal('stopped')], { description: 'only payloads with at least one delivery in this state' }),
  ),
});

/** A `date-time` query value as ms since the epoch (the schema has checked its shape). */
function timeOf(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new SealpostError('SP_ERR_HTTP_BAD_REQUEST', 'A time filter is not a valid date-time');
  return ms;
}

/**
 * The two bodies `POST /v1/payloads` takes, for the OpenAPI document. They are checked by the
 * route itself (parseJsonBody: UTF-8, depth, exact numbers; readMultipartUpload: parts, sizes),
 * so this schema documents and never validates (see `ingestOptions`).
 */
const IngestBody = {
  content: {
    'application/json': { schema: Type.Unknown({ description: 'any JSON value: the payload, forwarded as the envelope\'s `data`' }) },
    'multipart/form-data': {
      schema: Type.Object(
        {
          payload: Type.String({ description: 'the JSON payload, as a field or a file part' }),
          attachments: Type.Optional(Type.Array(Type.String({ format: 'binary' }), { description: 'any number of file parts, each forwarded as an attachment' })),
        },
        { required: ['payload'] },
      ),
    },
  },
};

const AcceptedView = Type.Object({
  id: Type.String({ pattern: idPattern('payload') }),
  receipt: Type.Union([ReceiptSchema, Type.Null()], { description: 'the signed `accepted` receipt' }),
});
const AttachmentRefView = Type.Object({
  id: Type.String(),
  filename: Type.String(),
  content_type: Type.String(),
  size: Type.Integer(),
  sha256: Type.String(),
  url: Type.String(),
});
const EnvelopeView = Type.Object(
  {
    id: Type.String(),
    type: Type.Union([Type.Literal('payload.received'), Type.Literal('email.received')]),
    tenant: Type.String(),
    received_at: Type.String({ format: 'date-time' }),
    source: Type.Unknown({ description: '{channel: "https", api_key} or {channel: "smtp", remote_ip, tls, auth}' }),
    data: Type.Unknown({ description: 'the JSON payload, or the parsed e-mail' }),
    attachments: Type.Array(AttachmentRefView),
  },
  { description: 'the forwarded envelope (DESIGN.md §4)' },
);
const PayloadView = Type.Object({
  id: Type.String(),
  type: Type.String(),
  received_at: Type.String({ format: 'date-time' }),
  size: Type.Integer(),
  body_sha256: Type.String(),
  envelope: EnvelopeView,
});
const PayloadSummaryView = Type.Object({
  id: Type.String(),
  type: Type.String(),
  channel: Type.String(),
  size: Type.Integer(),
  body_sha256: Type.String(),
  received_at: Type.String({ format: 'date-time' }),
});
const PayloadListView = Type.Object({ data: Type.Array(PayloadSummaryView), next_cursor: Type.Union([Type.String(), Type.Null()]) });

const AttachmentFile = mediaResponse('the attachment, decrypted, with its own content type; `x-content-sha256` holds its SHA-256', ['*/*']);

const ingestOptions = {
  schema: {
    body: IngestBody,
    response: {
      202: AcceptedView,
      409: problemResponse('Idempotency-Key reused with another body, or the payload matches too many destinations'),
    },
  },
  // The body schema documents only: the route's own parsers check the body (see IngestBody).
  validatorCompiler: () => () => true,
};

function idempotencyKey(request: FastifyRequest): string | undefined {
  const header = request.headers['idempotency-key'];
  if (header === undefined) return undefined;
  if (typeof header !== 'string' || !IDEMPOTENCY_KEY.test(header)) {
    throw new SealpostError('SP_ERR_HTTP_BAD_REQUEST', 'Idempotency-Key must be 1 to 255 visible ASCII characters');
  }
  return header;
}

/** `POST /v1/payloads` (JSON or multipart), and reading payloads and attachments back. */
export async function payloadRoutes(app: FastifyInstance, deps: PayloadRoutesDeps): Promise<void> {
  // The JSON parser here keeps the raw bytes: they are checked for UTF-8 and depth before
  // parsing, and hashed for idempotency. Other routes keep Fastify's parser.
  app.removeContentTypeParser(['application/json']);
  app.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: deps.limits.maxBodyBytes }, (_req, body, done) => done(null, body));
  await registerMultipart(app, deps.limits);

  // onRequest: a forwarding loop is refused before the body is read.
  app.post('/v1/payloads', { onRequest: refuseForwardedRequests, ...ingestOptions }, async (request, reply) => {
    const auth = authOf(request);
    // The permission table gives ingest to API keys only; the envelope names the key.
    if (auth.kind !== 'api_key') throw new SealpostError('SP_ERR_AUTH_API_KEY_REQUIRED', 'This route takes an API key, not a session');
    const key = idempotencyKey(request);
    const source = { channel: 'https', api_key: auth.apiKeyId } as const;
    // The request's audit event goes into the ingest transaction (it commits or fails with the payload).
    const audit = request.auditInTransaction?.(202);
    const auditWork = audit ? { alsoInTransaction: audit } : {};
    const ingested = (result: { replayed: boolean }): void => {
      if (audit && !result.replayed) request.auditedInTransaction = true;
    };

    if (request.isMultipart()) {
      const upload = await readMultipartUpload(request, auth.tenantId, deps.blobs, deps.limits.maxBodyBytes);
      try {
        const data = parseJsonBody(upload.payloadJson);
        const hash = createHash('sha256').update(upload.payloadJson);
        for (const a of upload.attachments) hash.update(`\n${a.meta.filename}\n${a.sha256}`);
        const result = await deps.payloads.ingest({
          tenantId: auth.tenantId,
          type: 'payload.received',
          source,
          data,
          attachments: upload.attachments,
          ...(key ? { idempotency: { key, requestSha256: hash.digest('hex') } } : {}),
          ...auditWork,
        });
        ingested(result);
        if (result.replayed) await removeBlobs(deps.blobs, upload.attachments);
        return accepted(reply, result);
      } catch (err) {
        await removeBlobs(deps.blobs, upload.attachments);
        throw err;
      }
    }

    const body = request.body;
    if (!Buffer.isBuffer(body)) throw new SealpostError('SP_ERR_HTTP_UNSUPPORTED_MEDIA_TYPE', 'Send application/json or multipart/form-data');
    const data = parseJsonBody(body);
    const result = await deps.payloads.ingest({
      tenantId: auth.tenantId,
      type: 'payload.received',
      source,
      data,
      attachments: [],
      ...(key ? { idempotency: { key, requestSha256: createHash('sha256').update(body).digest('hex') } } : {}),
      ...auditWork,
    });
    ingested(result);
    return accepted(reply, result);
  });

  app.get<{ Params: Static<typeof PayloadParams> }>('/v1/payloads/:id', { schema: { params: PayloadParams, response: { 200: PayloadView } } }, async (request) => {
    const { summary, envelope } = await deps.payloads.get(authOf(request).tenantId, request.params.id);
    return { id: summary.id, type: summary.type, received_at: new Date(summary.receivedAt).toISOString(), size: summary.size, body_sha256: summary.bodySha256, envelope };
  });

  app.get<{ Querystring: Static<typeof ListQuery> }>('/v1/payloads', { schema: { querystring: ListQuery, response: { 200: PayloadListView } } }, async (request) => {
    const { query } = request;
    const limit = pageLimit(query);
    const page = await deps.repository.list(authOf(request).tenantId, limit, query.cursor, {
      type: query.type,
      channel: query.channel,
      receivedFrom: timeOf(query.received_from),
      receivedBefore: timeOf(query.received_before),
      deliveryStatus: query.delivery_status,
    });
    return pageOf(
      page,
      limit,
      (p) => ({ id: p.id, type: p.type, channel: p.channel, size: p.size, body_sha256: p.bodySha256, received_at: new Date(p.receivedAt).toISOString() }),
      (p) => p.id,
    );
  });

  app.get<{ Params: Static<typeof AttachmentParams> }>('/v1/attachments/:id', { schema: { params: AttachmentParams, response: { 200: AttachmentFile } } }, async (request, reply) => {
    const tenantId = authOf(request).tenantId;
    const attachment = await deps.repository.findAttachment(tenantId, request.params.id);
    if (!attachment) throw new SealpostError('SP_ERR_RESOURCE_NOT_FOUND', 'No such attachment');
    const stream = await deps.blobs.getDecrypted(attachment.blobKey, attachmentBlobContext(tenantId, attachment.id), tenantId);
    return reply
      .header('content-type', safeContentType(attachment.meta.contentType)) // also for rows stored before intake sanitised it
      .header('content-length', attachment.size)
      .header('content-disposition', `attachment; filename*=UTF-8''${encodeURIComponent(attachment.meta.filename)}`)
      .header('x-content-sha256', attachment.sha256)
      .send(stream);
  });
}

function accepted(reply: FastifyReply, result: { id: string; receipt: unknown; replayed: boolean }): FastifyReply {
  if (result.replayed) reply.header('idempotent-replayed', 'true');
  // Serialised here, not by the response schema: the receipt leaves with every member it was signed with.
  return reply.code(202).type('application/json; charset=utf-8').send(JSON.stringify({ id: result.id, receipt: result.receipt }));
}
