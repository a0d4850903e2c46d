import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { authOf } from '../http/auth.plugin.js';
import type { ReceiptService } from './receipt.service.js';
import { idPattern } from '../crypto/ids.js';

export interface ReceiptRoutesDeps {
  readonly receipts: ReceiptService;
}

const ReceiptParams = Type.Object({ id: Type.String({ pattern: idPattern('receipt') }) });
const PayloadParams = Type.Object({ id: Type.String({ pattern: idPattern('payload') }) });

/** DESIGN §5. For the OpenAPI description: the body is the stored canonical JSON, sent as is. */
export const ReceiptSchema = Type.Object(
  {
    v: Type.Literal(1),
    kind: Type.Union([Type.Literal('accepted'), Type.Literal('delivered')]),
    id: Type.String(),
    message_id: Type.String(),
    tenant: Type.String(),
    body_sha256: Type.String(),
    destination: Type.Optional(Type.String()),
    attempt: Type.Optional(Type.Integer()),
    status: Type.Optional(Type.Integer()),
    issued_at: Type.String(),
    sig: Type.Object({ alg: Type.Literal('Ed25519'), kid: Type.String(), value: Type.String() }),
  },
  { description: 'A signed receipt; verify it with @sealpost/verify or `sealpost verify`.' },
);
const ReceiptList = Type.Object({ data: Type.Array(ReceiptSchema) });

/**
 * `GET /v1/receipts/:id` and `GET /v1/payloads/:id/receipts` (scope `payloads:read`). Receipts
 * are served byte for byte as signed and stored (RFC 8785 canonical JSON), never re-serialised.
 * Another tenant's receipt or payload is answered like a missing one: 404.
 */
export async function receiptRoutes(app: FastifyInstance, deps: ReceiptRoutesDeps): Promise<void> {
  app.get<{ Params: Static<typeof ReceiptParams> }>(
    '/v1/receipts/:id',
    { schema: { params: ReceiptParams, response: { 200: ReceiptSchema } } },
    async (request, reply) => {
      const receipt = await deps.receipts.get(authOf(request).tenantId, request.params.id);
      return reply.type('application/json; charset=utf-8').send(receipt.json);
    },
  );

  app.get<{ Params: Static<typeof PayloadParams> }>(
    '/v1/payloads/:id/receipts',
    { schema: { params: PayloadParams, response: { 200: ReceiptList } } },
    async (request, reply) => {
      const receipts = await deps.receipts.listForPayload(authOf(request).tenantId, request.params.id);
      return reply.type('application/json; charset=utf-8').send(`{"data":[${receipts.map((r) => r.json).join(',')}]}`);
    },
  );
}
