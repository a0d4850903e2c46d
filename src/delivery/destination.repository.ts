import type { Kysely } from 'kysely';
import type { RecordCipher, RecordContext } from '../crypto/record-cipher.js';
import type { Database, DestinationsTable } from '../db/schema.js';
import type { PreparedWrite } from '../db/prepared-write.js';

/** What is sealed in `config_sealed`: the URL and custom headers may carry credentials. */
export interface DestinationSecrets {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
}

export interface Destination extends DestinationSecrets {
  readonly id: string;
  readonly tenantId: string;
  readonly eventTypes: readonly string[] | null;
  readonly enabled: boolean;
  readonly disabledReason: string | null;
  readonly timeoutMs: number;
  readonly maxConcurrency: number;
  readonly failingSince: number | null;
  readonly createdAt: number;
  readonly updatedAt: number;
}

const COLUMNS = [
  'id',
  'tenant_id',
  'config_sealed',
  'event_types',
  'enabled',
  'disabled_reason',
  'timeout_ms',
  'max_concurrency',
  'failing_since',
  'created_at',
  'updated_at',
] as const;
type Row = Pick<DestinationsTable, (typeof COLUMNS)[number]>;

/** No companion write (fixtures and internal callers; the service always passes its audit event). */
const nothing = async (): Promise<void> => {};

export function destinationConfigContext(tenantId: string, id: string): RecordContext {
  return { tenant: tenantId, table: 'destinations', id, field: 'config' };
}

/** Destinations of a tenant. Every query takes the tenant id; URL and headers are sealed here and nowhere else. */
export class DestinationRepository {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly cipher: RecordCipher,
  ) {}

  /**
   * Inserts the destination unless the tenant already has `maxPerTenant` (not deleted) ones;
   * returns false then. `alongside` runs in the same transaction (the audit event). The count
   * and the insert share a transaction that first writes the tenant's row: on PostgreSQL that
   * row lock queues concurrent creates of one tenant, so two cannot both see room for one more
   * (SQLite runs one write transaction at a time anyway).
   */
  async insert(
    d: Destination,
    limit: { maxPerTenant: number } = { maxPerTenant: Number.POSITIVE_INFINITY },
    alongside: PreparedWrite = nothing,
  ): Promise<boolean> {
    // Sealed outside the transaction: the cipher may store a new data key through its own connection.
    const configSealed = await this.seal(d.tenantId, d.id, d);
    return this.db.transaction().execute(async (tx) => {
      await tx.updateTable('tenants').set((eb) => ({ id: eb.ref('id') })).where('id', '=', d.tenantId).execute();
      const { n } = await tx
        .selectFrom('destinations')
        .select((eb) => eb.fn.countAll<number | string>().as('n'))
        .where('tenant_id', '=', d.tenantId)
        .where('deleted_at', 'is', null)
        .executeTakeFirstOrThrow();
      if (Number(n) >= limit.maxPerTenant) return false;
      await this.insertSealed(tx, d, configSealed);
      await alongside(tx);
      return true;
    });
  }

  private async insertSealed(tx: Kysely<Database>, d: Destination, configSealed: Buffer): Promise<void> {
    await tx
      .insertInto('destinations')
      .values({
        id: d.id,
        tenant_id: d.tenantId,
        config_sealed: configSealed,
        event_types: d.eventTypes === null ? null : JSON.stringify(d.eventTypes),
        enabled: d.enabled ? 1 : 0,
        timeout_ms: d.timeoutMs,
        max_concurrency: d.maxConcurrency,
        failing_since: d.failingSince,
        disabled_reason: d.disabledReason,
        created_at: d.createdAt,
        updated_at: d.updatedAt,
        deleted_at: null,
      })
      .execute();
  }

  async find(tenantId: string, id: string): Promise<Destination | undefined> {
    const row = await this.db
      .selectFrom('destinations')
      .select(COLUMNS)
      .where('tenant_id', '=', tenantId)
      .where('id', '=', id)
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
    return row && this.toDestination(row);
  }

  /** In id (creation) order, after the cursor id. */
  async list(tenantId: string, page: { after: string | undefined; limit: number }): Promise<Destination[]> {
    let query = this.db.selectFrom('destinations').select(COLUMNS).where('tenant_id', '=', tenantId).where('deleted_at', 'is', null);
    if (page.after !== undefined) query = query.where('id', '>', page.after);
    const rows = await query.orderBy('id').limit(page.limit).execute();
    return Promise.all(rows.map((row) => this.toDestination(row)));
  }

  /**
   * Writes the whole destination back (the service merged the change). Re-enabling makes its
   * queued deliveries due at once, in the same transaction, as does `alongside` (the audit event).
   */
  async update(d: Destination, options: { resumeQueue: boolean }, alongside: PreparedWrite = nothing): Promise<void> {
    const configSealed = await this.seal(d.tenantId, d.id, d);
    await this.db.transaction().execute(async (tx) => {
      await tx
        .updateTable('destinations')
        .set({
          config_sealed: configSealed,
          event_types: d.eventTypes === null ? null : JSON.stringify(d.eventTypes),
          enabled: d.enabled ? 1 : 0,
          disabled_reason: d.disabledReason,
          timeout_ms: d.timeoutMs,
          max_concurrency: d.maxConcurrency,
          failing_since: d.failingSince,
          updated_at: d.updatedAt,
        })
        .where('tenant_id', '=', d.tenantId)
        .where('id', '=', d.id)
        .where('deleted_at', 'is', null)
        .execute();
      if (options.resumeQueue) {
        await tx
          .updateTable('deliveries')
          .set({ next_attempt_at: d.updatedAt, updated_at: d.updatedAt })
          .where('tenant_id', '=', d.tenantId)
          .where('destination_id', '=', d.id)
          .where('status', '=', 'pending')
          .where('next_attempt_at', '>', d.updatedAt)
          .execute();
      }
      await alongside(tx);
    });
  }

  /**
   * Soft delete (deliveries keep referring to it); its pending deliveries are stopped. Returns
   * false when there was no such destination. `alongside` (the audit event) runs in the same transaction.
   */
  async delete(tenantId: string, id: string, now: number, alongside: PreparedWrite = nothing): Promise<boolean> {
    return this.db.transaction().execute(async (tx) => {
      const result = await tx
        .updateTable('destinations')
        .set({ deleted_at: now, enabled: 0, updated_at: now })
        .where('tenant_id', '=', tenantId)
        .where('id', '=', id)
        .where('deleted_at', 'is', null)
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) === 0) return false;
      await tx
        .updateTable('deliveries')
        .set({ status: 'stopped', last_error: 'destination deleted', completed_at: now, updated_at: now })
        .where('tenant_id', '=', tenantId)
        .where('destination_id', '=', id)
        .where('status', '=', 'pending')
        .execute();
      await alongside(tx);
      return true;
    });
  }

  private seal(tenantId: string, id: string, secrets: DestinationSecrets): Promise<Buffer> {
    return this.cipher.encryptJson({ url: secrets.url, headers: secrets.headers }, destinationConfigContext(tenantId, id));
  }

  private async toDestination(row: Row): Promise<Destination> {
    const secrets = await this.cipher.decryptJson<DestinationSecrets>(Buffer.from(row.config_sealed), destinationConfigContext(row.tenant_id, row.id));
    return {
      id: row.id,
      tenantId: row.tenant_id,
      url: secrets.url,
      headers: secrets.headers,
      eventTypes: row.event_types === null ? null : (JSON.parse(row.event_types) as string[]),
      enabled: row.enabled === 1,
      disabledReason: row.disabled_reason,
      timeoutMs: row.timeout_ms,
      maxConcurrency: row.max_concurrency,
      failingSince: row.failing_since,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    };
  }
}
