import type { Kysely } from 'kysely';
import { canonicalJson } from '../crypto/canonical-json.js';
import type { RecordCipher, RecordContext } from '../crypto/record-cipher.js';
import type { Database, ReceiptsTable } from '../db/schema.js';
import type { Receipt } from './receipt.js';
import { HotStatement } from '../db/direct-statement.js';

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

const INSERT_RECEIPT = new HotStatement(
  'insert into receipts (id, tenant_id, message_id, kind, delivery_id, receipt_sealed, issued_at, audit_index) values (?, ?, ?, ?, ?, ?, ?, ?) on conflict (delivery_id) do nothing',
);

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

  async findAuditIndex(tenantId: string, id: string): Promise<number | null | undefined> {
    const row = await this.db.selectFrom('receipts').select('audit_index').where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
    return row === undefined ? undefined : row.audit_index;
  }

  /**
   * Inside the caller's transaction. A delivery's second `delivered` receipt is dropped: one per
   * delivery. It runs for every ingest and delivery: a direct statement (src/db/direct-statement.ts).
   */
  async insert(tx: Kysely<Database>, row: SealedReceipt): Promise<void> {
    await INSERT_RECEIPT.execute(tx, [row.id, row.tenant_id, row.message_id, row.kind, row.delivery_id, row.receipt_sealed, row.issued_at, row.audit_index]);
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
