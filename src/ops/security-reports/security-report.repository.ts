import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';

export type AckSkipped = 'unauthenticated' | 'rate_limited' | 'no_sender' | 'mail_failed';

export interface SecurityReport {
  readonly id: string;
  readonly tenantId: string;
  readonly payloadId: string;
  readonly encrypted: boolean;
  readonly senderAuthenticated: boolean;
  readonly receivedAt: number;
  readonly acknowledgedAt: number | null;
  readonly ackSkipped: AckSkipped | null;
}

/** Bug-bounty reports of the deployment tenant; each points at its stored (encrypted) message. Every read takes the tenant id. */
export class SecurityReportRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(report: SecurityReport): Promise<void> {
    await this.db
      .insertInto('security_reports')
      .values({
        id: report.id,
        tenant_id: report.tenantId,
        payload_id: report.payloadId,
        encrypted: report.encrypted ? 1 : 0,
        sender_authenticated: report.senderAuthenticated ? 1 : 0,
        received_at: report.receivedAt,
        acknowledged_at: report.acknowledgedAt,
        ack_skipped: report.ackSkipped,
      })
      .execute();
  }

  async settleAck(tenantId: string, id: string, outcome: { acknowledgedAt: number } | { skipped: AckSkipped }): Promise<void> {
    await this.db
      .updateTable('security_reports')
      .set('acknowledgedAt' in outcome ? { acknowledged_at: outcome.acknowledgedAt } : { ack_skipped: outcome.skipped })
      .where('tenant_id', '=', tenantId)
      .where('id', '=', id)
      .execute();
  }

  async list(tenantId: string, limit: number): Promise<SecurityReport[]> {
    const rows = await this.db
      .selectFrom('security_reports')
      .select(['id', 'tenant_id', 'payload_id', 'encrypted', 'sender_authenticated', 'received_at', 'acknowledged_at', 'ack_skipped'])
      .where('tenant_id', '=', tenantId)
      .orderBy('received_at', 'desc')
      .orderBy('id', 'desc')
      .limit(limit)
      .execute();
    return rows.map((row) => ({
      id: row.id,
      tenantId: row.tenant_id,
      payloadId: row.payload_id,
      encrypted: row.encrypted === 1,
      senderAuthenticated: row.sender_authenticated === 1,
      receivedAt: row.received_at,
      acknowledgedAt: row.acknowledged_at,
      ackSkipped: row.ack_skipped as AckSkipped | null,
    }));
  }
}
