import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { AuditService } from '../audit/audit.service.js';
import { SealpostError } from '../errors/sealpost-error.js';
import { authOf } from '../http/auth.plugin.js';
import type { ReceiptRepository } from './receipt.repository.js';
import { idPattern } from '../crypto/ids.js';

const Params = Type.Object({ id: Type.String({ pattern: idPattern('receipt') }) });
const Base64Hash = Type.String({ description: 'base64 SHA-256' });
const ReceiptProofView = Type.Object({
  receipt_id: Type.String(),
  index: Type.Integer({ minimum: 0, description: 'the receipt.issued event\'s index in the audit log' }),
  tree_size: Type.Integer({ minimum: 0 }),
  leaf_hash: Base64Hash,
  proof: Type.Array(Base64Hash, { description: 'RFC 9162 §2.1.3 inclusion proof' }),
  checkpoint: Type.Optional(Type.String({ description: 'the signed checkpoint (C2SP note) the proof leads to' })),
});

/**
 * `GET /v1/receipts/:id/proof`: the inclusion proof of the receipt's `receipt.issued` audit
 * event against the latest signed checkpoint (RFC 9162 §2.1.3), so a customer holding a receipt
 * can show it was logged. Verify with `verifyInclusion` and `verifyCheckpoint` of @sealpost/verify.
 */
export async function receiptProofRoutes(app: FastifyInstance, deps: { repository: ReceiptRepository; audit: AuditService }): Promise<void> {
  app.get<{ Params: Static<typeof Params> }>('/v1/receipts/:id/proof', { schema: { params: Params, response: { 200: ReceiptProofView } } }, async (request) => {
    const tenantId = authOf(request).tenantId;
    const index = await deps.repository.findAuditIndex(tenantId, request.params.id);
    if (index === undefined || index === null) throw new SealpostError('SP_ERR_RESOURCE_NOT_FOUND', 'No such receipt, or it was issued before receipts were logged');
    const proof = await deps.audit.inclusionProof(tenantId, index);
    return {
      receipt_id: request.params.id,
      index: proof.index,
      tree_size: proof.treeSize,
      leaf_hash: proof.leafHash.toString('base64'),
      proof: proof.proof.map((h) => h.toString('base64')),
      checkpoint: proof.checkpoint?.note,
    };
  });
}
