import type { Kysely } from 'kysely';
import type { RecordCipher } from '../crypto/record-cipher.js';
import type { Database, DeliveryStatus } from '../db/schema.js';
import { attemptResponseContext } from './attempt.repository.js';

export interface DeliveryRecord {
  readonly id: string;
  readonly payloadId: string;
  readonly destinationId: string;
  readonly status: DeliveryStatus;
  readonly attempts: number;
  readonly nextAttemptAt: number;
  readonly lastStatusCode: number | null;
  readonly lastError: string | null;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly completedAt: number | null;
}

export interface AttemptRecord {
  readonly id: string;
  readonly attempt: number;
  readonly startedAt: number;
  readonly durationMs: number;
  readonly statusCode: number | null;
  readonly errorClass: string | null;
  /** The first 4 KB of the receiver's answer, decrypted. */
  readonly response: Buffer | null;
}

export interface DeliveryFilter {
  readonly payloadId?: string;
  readonly destinationId?: string;
  readonly status?: DeliveryStatus;
}

const COLUMNS = [
  'id',
  'payload_id',
  'destination_id',
  'status',
  'attempts',
  'next_attempt_at',
  'last_status_code',
  'last_error',
  'created_at',
  'updated_at',
  'completed_at',
] as const;

type Row = Pick<Database['deliveries'], (typeof COLUMNS)[number]>;

function toRecord(row: Row): DeliveryRecord {
  return {
    id: row.id,
    payloadId: row.payload_id,
    destinationId: row.destination_id,
    status: row.status,
    attempts: row.attempts,
    nextAttemptAt: row.next_attempt_at,
    lastStatusCode: row.last_status_code,
    lastError: row.last_error,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    completedAt: row.completed_at,
  };
}

/** Deliveries and attempts as the API sees them. Every query takes the tenant id. */
export class DeliveryRepository {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly cipher: RecordCipher,
  ) {}

  /** Newest first, before the cursor id. */
  async list(tenantId: string, filter: DeliveryFilter, page: { before: string | undefined; limit: number }): Promise<DeliveryRecord[]> {
    let query = this.db.selectFrom('deliveries').select(COLUMNS).where('tenant_id', '=', tenantId);
    if (filter.payloadId !== undefined) query = query.where('payload_id', '=', filter.payloadId);
    if (filter.destinationId !== undefined) query = query.where('destination_id', '=', filter.destinationId);
    if (filter.status !== undefined) query = query.where('status', '=', filter.status);
    if (page.before !== undefined) query = query.where('id', '<', page.before);
    const rows = await query.orderBy('id', 'desc').limit(page.limit).execute();
    return rows.map(toRecord);
  }

  async find(tenantId: string, id: string): Promise<DeliveryRecord | undefined> {
    const row = await this.db.selectFrom('deliveries').select(COLUMNS).where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
    return row && toRecord(row);
  }

  /** In attempt order, after the cursor attempt number. */
  async listAttempts(tenantId: string, deliveryId: string, page: { after: number | undefined; limit: number }): Promise<AttemptRecord[]> {
    let query = this.db
      .selectFrom('delivery_attempts')
      .select(['id', 'attempt', 'started_at', 'duration_ms', 'status_code', 'error_class', 'response_sealed'])
      .where('tenant_id', '=', tenantId)
      .where('delivery_id', '=', deliveryId);
    if (page.after !== undefined) query = query.where('attempt', '>', page.after);
    const rows = await query.orderBy('attempt').orderBy('id').limit(page.limit).execute();
    return Promise.all(
      rows.map(async (row) => ({
        id: row.id,
        attempt: row.attempt,
        startedAt: row.started_at,
        durationMs: row.duration_ms,
        statusCode: row.status_code,
        errorClass: row.error_class,
        response: row.response_sealed === null ? null : await this.cipher.decrypt(Buffer.from(row.response_sealed), attemptResponseContext(tenantId, row.id)),
      })),
    );
  }

  /**
   * Makes a delivery due now. A finished one (succeeded, dead, stopped) becomes pending again and
   * gets one more attempt; a pending one just stops waiting. False when there is no such
   * delivery or its destination is deleted.
   */
  async retry(tenantId: string, id: string, now: number): Promise<boolean> {
    return this.db.transaction().execute((tx) => this.retryIn(tx, tenantId, id, now));
  }

  /**
   * Retries each of `ids` as {@link retry} does, in one transaction with `alongside` (the audit
   * event, given the ids retried). Returns the ids retried; the others are the tenant's deliveries
   * to deleted destinations, or not the tenant's at all, and the caller cannot tell which.
   */
  async retryMany(
    tenantId: string,
    ids: readonly string[],
    now: number,
    alongside: (tx: Kysely<Database>, retried: readonly string[]) => Promise<void>,
  ): Promise<string[]> {
    return this.db.transaction().execute(async (tx) => {
      const retried: string[] = [];
      for (const id of ids) if (await this.retryIn(tx, tenantId, id, now)) retried.push(id);
      await alongside(tx, retried);
      return retried;
    });
  }

  private async retryIn(tx: Kysely<Database>, tenantId: string, id: string, now: number): Promise<boolean> {
    const liveDestination = tx
      .selectFrom('destinations')
      .select('destinations.id')
      .where('destinations.tenant_id', '=', tenantId)
      .where('destinations.deleted_at', 'is', null);
    const finished = await tx
      .updateTable('deliveries')
      .set({ status: 'pending', next_attempt_at: now, lease_owner: null, lease_expires_at: null, completed_at: null, updated_at: now })
      .where('tenant_id', '=', tenantId)
      .where('id', '=', id)
      .where('status', '!=', 'pending')
      .where('destination_id', 'in', liveDestination)
      .executeTakeFirst();
    if (Number(finished.numUpdatedRows) > 0) return true;
    const pending = await tx
      .updateTable('deliveries')
      .set({ next_attempt_at: now, updated_at: now })
      .where('tenant_id', '=', tenantId)
      .where('id', '=', id)
      .where('status', '=', 'pending')
      .where('destination_id', 'in', liveDestination)
      .executeTakeFirst();
    return Number(pending.numUpdatedRows) > 0;
  }

  /** Re-queues a destination's dead and stopped deliveries created in [from, to). Returns how many. */
  /** Re-queues; `alongside` (the audit event, given the count) runs in the same transaction. */
  async replayRange(
    tenantId: string,
    destinationId: string,
    range: { from: number; to: number },
    now: number,
    alongside: (tx: Kysely<Database>, count: number) => Promise<void>,
  ): Promise<number> {
    return this.db.transaction().execute(async (tx) => {
      const count = await this.replayRangeIn(tx, tenantId, destinationId, range, now);
      await alongside(tx, count);
      return count;
    });
  }

  private async replayRangeIn(tx: Kysely<Database>, tenantId: string, destinationId: string, range: { from: number; to: number }, now: number): Promise<number> {
    const result = await tx
      .updateTable('deliveries')
      .set({ status: 'pending', next_attempt_at: now, lease_owner: null, lease_expires_at: null, completed_at: null, updated_at: now })
      .where('tenant_id', '=', tenantId)
      .where('destination_id', '=', destinationId)
      .where('status', 'in', ['dead', 'stopped'])
      .where('created_at', '>=', range.from)
      .where('created_at', '<', range.to)
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }
}
