import { createHash } from 'node:crypto';
import type { Receipt } from '@sealpost/verify';
import type { AuditLog } from '../audit/audit-log.js';
import { canonicalJson } from '../crypto/canonical-json.js';
import type { PreparedWrite } from '../db/prepared-write.js';
import type { ReceiptRepository, SealedReceipt } from './receipt.repository.js';

type Prepare<I> = (input: I) => Promise<{ receipt: Receipt; row: SealedReceipt; store: PreparedWrite }>;

/**
 * Makes storing a receipt also log it: a `receipt.issued` audit event with the receipt's id and
 * the SHA-256 of its canonical JSON, in the same transaction, and the event's index kept with
 * the receipt so `GET /v1/receipts/:id/proof` can prove it was logged.
 */
export function auditedReceipts<I>(prepare: Prepare<I>, log: AuditLog, repository: ReceiptRepository): Prepare<I> {
  return async (input) => {
    const prepared = await prepare(input);
    const { receipt, row } = prepared;
    const sha256 = createHash('sha256').update(canonicalJson(receipt)).digest('hex');
    return {
      receipt,
      row,
      // The event first, so the receipt row is written once, with its index (no UPDATE after it).
      store: async (tx) => {
        const { index } = await log.append(tx, {
          time: receipt.issued_at,
          tenant: receipt.tenant,
          actor: { type: 'system', id: 'sealpost' },
          action: 'receipt.issued',
          resource: receipt.id,
          details: { kind: receipt.kind, message_id: receipt.message_id, sha256 },
        });
        await repository.insert(tx, { ...row, audit_index: index });
      },
    };
  };
}
