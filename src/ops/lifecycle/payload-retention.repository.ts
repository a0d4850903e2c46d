import type { Kysely } from 'kysely';
import type { PreparedWrite } from '../../db/prepared-write.js';
import type { Database } from '../../db/schema.js';

export interface ExpiredPayload {
  readonly id: string;
  readonly type: string;
}

export interface PurgedCounts {
  payloads: number;
  attachments: number;
  deliveries: number;
  attempts: number;
}

/** The queries of the payload retention sweep. Every one is scoped to one tenant. */
export class PayloadRetentionRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** Each tenant's retention, and whether it is erased (an erased tenant keeps nothing). */
  async tenants(): Promise<{ id: string; retentionDays: number; erased: boolean }[]> {
    const rows = await this.db.selectFrom('tenants').select(['id', 'retention_days', 'erased_at']).orderBy('id').execute();
    return rows.map((r) => ({ id: r.id, retentionDays: r.retention_days, erased: r.erased_at !== null }));
  }

  /** The oldest payloads received strictly before `before`, at most `limit`. */
  async expired(tenantId: string, before: number, limit: number): Promise<ExpiredPayload[]> {
    return this.db
      .selectFrom('payloads')
      .select(['id', 'type'])
      .where('tenant_id', '=', tenantId)
      .where('received_at', '<', before)
      .orderBy('received_at')
      .orderBy('id')
      .limit(limit)
      .execute();
  }

  async attachmentBlobKeys(tenantId: string, payloadIds: readonly string[]): Promise<string[]> {
    if (payloadIds.length === 0) return [];
    const rows = await this.db.selectFrom('attachments').select('blob_key').where('tenant_id', '=', tenantId).where('payload_id', 'in', payloadIds).execute();
    return rows.map((r) => r.blob_key);
  }

  /**
   * Deletes the payloads with their attachments' rows, idempotency records, deliveries and
   * attempts, in one transaction with `alongside` (its audit event, given the counts). Receipts
   * and audit events stay: they hold hashes, not content.
   */
  async deletePayloads(tenantId: string, payloadIds: readonly string[], alongside: (counts: PurgedCounts) => PreparedWrite): Promise<PurgedCounts> {
    if (payloadIds.length === 0) return { payloads: 0, attachments: 0, deliveries: 0, attempts: 0 };
    return this.db.transaction().execute(async (tx) => {
      const deliveries = tx.selectFrom('deliveries').select('id').where('tenant_id', '=', tenantId).where('payload_id', 'in', payloadIds);
      const attempts = await tx.deleteFrom('delivery_attempts').where('tenant_id', '=', tenantId).where('delivery_id', 'in', deliveries).executeTakeFirst();
      const deleted = await tx.deleteFrom('deliveries').where('tenant_id', '=', tenantId).where('payload_id', 'in', payloadIds).executeTakeFirst();
      const attachments = await tx.deleteFrom('attachments').where('tenant_id', '=', tenantId).where('payload_id', 'in', payloadIds).executeTakeFirst();
      await tx.deleteFrom('idempotency_keys').where('tenant_id', '=', tenantId).where('payload_id', 'in', payloadIds).execute();
      const payloads = await tx.deleteFrom('payloads').where('tenant_id', '=', tenantId).where('id', 'in', payloadIds).executeTakeFirst();
      const counts = {
        payloads: Number(payloads.numDeletedRows),
        attachments: Number(attachments.numDeletedRows),
        deliveries: Number(deleted.numDeletedRows),
        attempts: Number(attempts.numDeletedRows),
      };
      await alongside(counts)(tx);
      return counts;
    });
  }
}
