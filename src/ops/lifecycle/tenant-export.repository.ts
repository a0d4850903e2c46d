import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';

/** Listing queries of the tenant export (decryption stays in PayloadRepository and ReceiptRepository). Every query is scoped to one tenant. */
export class TenantExportRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** Payload ids after `after`, oldest first (ids are ULIDs, so they sort by time). */
  async payloadIdsAfter(tenantId: string, after: string | undefined, limit: number): Promise<string[]> {
    let query = this.db.selectFrom('payloads').select('id').where('tenant_id', '=', tenantId).orderBy('id').limit(limit);
    if (after !== undefined) query = query.where('id', '>', after);
    return (await query.execute()).map((r) => r.id);
  }

  async attachmentsOf(tenantId: string, payloadId: string): Promise<{ id: string; size: number; blobKey: string }[]> {
    const rows = await this.db
      .selectFrom('attachments')
      .select(['id', 'size', 'blob_key'])
      .where('tenant_id', '=', tenantId)
      .where('payload_id', '=', payloadId)
      .orderBy('id')
      .execute();
    return rows.map((r) => ({ id: r.id, size: Number(r.size), blobKey: r.blob_key }));
  }
}
