import type { Kysely } from 'kysely';
import { canonicalJson } from '../crypto/canonical-json.js';
import type { RecordCipher, RecordContext } from '../crypto/record-cipher.js';
import type { Database, ReceiptsTable } from '../db/schema.js';
import type { Receipt } from './receipt.js';

export function receiptSealContext(tenantId: string, receiptId: string): RecordContext {
  return { tenant: tenantId, table: 'receipts', id: receiptId, field: 'receipt' };
}

/** A receipt row ready to insert: the signed document already sealed. */
export type SealedReceipt = ReceiptsTable;

/** A stored receipt: the signed document as RFC 8785 canonical JSON text, exactly as served. */
export interface StoredReceipt {
  readonly id: string;
  readonly kind: 'accepted' | 'delivered';
  readonly issuedAt: number;
  readonly json: string;
}

/**
 * Receipts, stored encrypted (DESIGN §5). Sealing happens in `seal`, before the caller's
 * transaction; `insert` only writes the row. Every read takes the tenant id.
 */
export class ReceiptRepository {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly cipher: RecordCipher,
  ) {}

  async seal(receipt: Receipt, deliveryId: string | null, issuedAt: number): Promise<SealedReceipt> {
    const sealed = await this.cipher.encrypt(canonicalJson(receipt), receiptSealContext(receipt.tenant, receipt.id));
    return {
      id: receipt.id,
      tenant_id: receipt.tenant,
      message_id: receipt.message_id,
      kind: receipt.kind,
      delivery_id: deliveryId,
      receipt_sealed: sealed,
      issued_at: issuedAt,
      audit_index: null,
    };
  }

  /** Links a stored receipt to its `receipt.issued` audit event, inside the same transaction. */
  async setAuditIndex(tx: Kysely<Database>, tenantId: string, id: string, index: number): Promise<void> {
    await tx.updateTable('receipts').set({ audit_index: index }).where('tenant_id', '=', tenantId).where('id', '=', id).execute();
  }

  async findAuditIndex(tenantId: string, id: string): Promise<number | null | undefined> {
    const row = await this.db.selectFrom('receipts').select('audit_index').where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
    return row === undefined ? undefined : row.audit_index;
  }

  /** Inside the caller's transaction. A delivery's second `delivered` receipt is dropped: one per delivery. */
  async insert(tx: Kysely<Database>, row: SealedReceipt): Promise<void> {
    await tx
      .insertInto('receipts')
      .values(row)
      .onConflict((oc) => oc.column('delivery_id').doNothing())
      .execute();
  }

  async find(tenantId: string, id: string): Promise<StoredReceipt | undefined> {
    const row = await this.db
      .selectFrom('receipts')
      .select(['id', 'kind', 'issued_at', 'receipt_sealed'])
      .where('tenant_id', '=', tenantId)
      .where('id', '=', id)
      .executeTakeFirst();
    return row && this.open(tenantId, row);
  }

  /** The message's receipts in the order they were issued. */
  async listForMessage(tenantId: string, messageId: string): Promise<StoredReceipt[]> {
    const rows = await this.db
      .selectFrom('receipts')
      .select(['id', 'kind', 'issued_at', 'receipt_sealed'])
      .where('tenant_id', '=', tenantId)
      .where('message_id', '=', messageId)
      .orderBy('issued_at')
      .orderBy('id')
      .execute();
    return Promise.all(rows.map((row) => this.open(tenantId, row)));
  }

  async messageExists(tenantId: string, messageId: string): Promise<boolean> {
    const row = await this.db.selectFrom('payloads').select('id').where('tenant_id', '=', tenantId).where('id', '=', messageId).executeTakeFirst();
    return row !== undefined;
  }

  private async open(tenantId: string, row: { id: string; kind: 'accepted' | 'delivered'; issued_at: number; receipt_sealed: Buffer }): Promise<StoredReceipt> {
    const json = (await this.cipher.decrypt(Buffer.from(row.receipt_sealed), receiptSealContext(tenantId, row.id))).toString('utf8');
    return { id: row.id, kind: row.kind, issuedAt: row.issued_at, json };
  }
}
