import type { ActiveSigningKey } from '../crypto/signing-key.js';
import type { PreparedWrite } from '../db/prepared-write.js';
import { SealpostError } from '../errors/sealpost-error.js';
import { acceptedReceipt, deliveredReceipt, signReceipt, type AcceptedReceipt, type DeliveredReceipt, type Receipt } from './receipt.js';
import type { ReceiptRepository, SealedReceipt, StoredReceipt } from './receipt.repository.js';

/** A signed and sealed receipt, and the step that stores it inside the caller's transaction. */
export interface PreparedReceipt<R extends Receipt = Receipt> {
  readonly receipt: R;
  /** The sealed row `store` writes (auditedReceipts writes it itself, with its log index). */
  readonly row: SealedReceipt;
  readonly store: PreparedWrite;
}

export interface PrepareAcceptedInput {
  readonly tenantId: string;
  readonly messageId: string;
  readonly bodySha256: string;
  /** The ingest's time, ms: the receipt's `issued_at`. */
  readonly now: number;
}

export interface PrepareDeliveredInput {
  readonly tenantId: string;
  readonly messageId: string;
  readonly deliveryId: string;
  readonly destinationId: string;
  readonly attempt: number;
  readonly status: number;
  readonly bodySha256: string;
  /** Defaults to the service's clock. */
  readonly now?: number;
}

/**
 * Issues and serves signed receipts (DESIGN §5), each signed with its tenant's key (DESIGN §6). Issuing signs and seals first and returns a
 * `store(tx)` step, so the caller's transaction only writes a row: no cryptography, and no
 * database access of the cipher, while a transaction holds SQLite's single connection.
 */
export class ReceiptService {
  constructor(
    private readonly keys: { currentKey(tenantId: string): Promise<ActiveSigningKey> },
    private readonly repository: ReceiptRepository,
    private readonly now: () => number = Date.now,
  ) {}

  /** The `accepted` receipt of a payload being stored; call before the ingest transaction. */
  async prepareAccepted(input: PrepareAcceptedInput): Promise<PreparedReceipt<AcceptedReceipt>> {
    const unsigned = acceptedReceipt({ tenantId: input.tenantId, messageId: input.messageId, bodySha256: input.bodySha256, issuedAt: input.now });
    return this.prepare(signReceipt(unsigned, await this.keys.currentKey(input.tenantId)), null, input.now);
  }

  /** The `delivered` receipt of a delivery a destination answered with 2xx; call before the transaction that records it. */
  async prepareDelivered(input: PrepareDeliveredInput): Promise<PreparedReceipt<DeliveredReceipt>> {
    const issuedAt = input.now ?? this.now();
    const unsigned = deliveredReceipt({
      tenantId: input.tenantId,
      messageId: input.messageId,
      bodySha256: input.bodySha256,
      issuedAt,
      destinationId: input.destinationId,
      attempt: input.attempt,
      status: input.status,
    });
    return this.prepare(signReceipt(unsigned, await this.keys.currentKey(input.tenantId)), input.deliveryId, issuedAt);
  }

  async get(tenantId: string, id: string): Promise<StoredReceipt> {
    const found = await this.repository.find(tenantId, id);
    if (!found) throw new SealpostError('SP_ERR_RESOURCE_NOT_FOUND', 'No such receipt');
    return found;
  }

  /** A payload's receipts, oldest first; not found for another tenant's payload. */
  async listForPayload(tenantId: string, payloadId: string): Promise<StoredReceipt[]> {
    const receipts = await this.repository.listForMessage(tenantId, payloadId);
    if (receipts.length === 0 && !(await this.repository.messageExists(tenantId, payloadId))) {
      throw new SealpostError('SP_ERR_RESOURCE_NOT_FOUND', 'No such payload');
    }
    return receipts;
  }

  private async prepare<R extends Receipt>(receipt: R, deliveryId: string | null, issuedAt: number): Promise<PreparedReceipt<R>> {
    const row = await this.repository.seal(receipt, deliveryId, issuedAt);
    return { receipt, row, store: (tx) => this.repository.insert(tx, row) };
  }
}
