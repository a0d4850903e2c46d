import { sql, type Kysely } from 'kysely';
import type { RecordCipher } from '../../crypto/record-cipher.js';
import type { Database } from '../../db/schema.js';
import { isSealpostError } from '../../errors/sealpost-error.js';

/**
 * Every sealed column of tenant data whose record context can be rebuilt from the row: context
 * `{tenant: tenant_id, table, id: <key column>, field}`, as each owning repository seals it.
 * Idempotency records are not here: their context is the Idempotency-Key as presented, which is
 * not stored (they expire after 24 hours).
 */
export const LEGACY_SEALED_COLUMNS = [
  { table: 'payloads', key: 'id', column: 'envelope_sealed', field: 'envelope' },
  { table: 'attachments', key: 'id', column: 'meta_sealed', field: 'meta' },
  { table: 'receipts', key: 'id', column: 'receipt_sealed', field: 'receipt' },
  { table: 'destinations', key: 'id', column: 'config_sealed', field: 'config' },
  { table: 'delivery_attempts', key: 'id', column: 'response_sealed', field: 'response' },
  { table: 'inboxes', key: 'id', column: 'token_sealed', field: 'token' },
  { table: 'signing_keys', key: 'kid', column: 'private_key_sealed', field: 'private_key' },
] as const;

export type SealedColumn = (typeof LEGACY_SEALED_COLUMNS)[number];

/** The data key id a record ciphertext names (record-cipher.ts layout: 0x01 | length | id | …). */
function dataKeyIdOf(sealed: Buffer): string | undefined {
  if (sealed.length < 2 || sealed[0] !== 0x01) return undefined;
  return sealed.subarray(2, 2 + (sealed[1] ?? 0)).toString('latin1');
}

/**
 * Re-seals tenant records still under the deployment's shared data keys (written before
 * migration 0013) under their tenant's own keys, so that an erasure shreds them too.
 */
export class LegacyResealRepository {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly cipher: RecordCipher,
  ) {}

  /** Ids of the deployment's data keys: what every record from before per-tenant keys names. */
  async sharedDataKeyIds(): Promise<Set<string>> {
    const rows = await this.db.selectFrom('data_keys').select('id').where('tenant_id', 'is', null).execute();
    return new Set(rows.map((r) => r.id));
  }

  async count(target: SealedColumn): Promise<number> {
    const result = await sql<{ n: number | string }>`select count(*) as n from ${sql.table(target.table)} where ${sql.ref(target.column)} is not null and tenant_id is not null`.execute(this.db);
    return Number(result.rows[0]?.n ?? 0);
  }

  /**
   * One batch of rows after `after` (by key): re-seals those under a shared data key. Each row is
   * updated only if its ciphertext is still the one read (a concurrent change wins). Returns the
   * last key seen (undefined when the table is done) and how many rows were re-sealed. A row of an
   * erased tenant is skipped: its data is not to be made readable under any key.
   */
  async resealBatch(target: SealedColumn, shared: ReadonlySet<string>, after: string | undefined, limit: number): Promise<{ last: string | undefined; seen: number; resealed: number }> {
    const rows = await sql<{ row_key: string; tenant_id: string; sealed: Buffer }>`
      select ${sql.ref(target.key)} as row_key, t.tenant_id as tenant_id, ${sql.ref(target.column)} as sealed
      from ${sql.table(target.table)} as t
      where ${sql.ref(target.column)} is not null and t.tenant_id is not null
        and not exists (select 1 from tenants where tenants.id = t.tenant_id and tenants.erased_at is not null)
        ${after === undefined ? sql`` : sql`and ${sql.ref(target.key)} > ${after}`}
      order by ${sql.ref(target.key)}
      limit ${limit}`.execute(this.db);
    let resealed = 0;
    for (const row of rows.rows) {
      const sealed = Buffer.from(row.sealed);
      const keyId = dataKeyIdOf(sealed);
      if (keyId === undefined || !shared.has(keyId)) continue;
      const ctx = { tenant: row.tenant_id, table: target.table, id: row.row_key, field: target.field };
      let fresh: Buffer;
      try {
        fresh = await this.cipher.encrypt(await this.cipher.decrypt(sealed, ctx), ctx);
      } catch (err) {
        if (isSealpostError(err) && err.code === 'SP_ERR_TENANT_ERASED') continue; // erased since the batch was read
        throw err;
      }
      const updated = await sql`update ${sql.table(target.table)} set ${sql.ref(target.column)} = ${fresh} where ${sql.ref(target.key)} = ${row.row_key} and ${sql.ref(target.column)} = ${sealed}`.execute(this.db);
      resealed += Number(updated.numAffectedRows ?? 0);
    }
    return { last: rows.rows.at(-1)?.row_key, seen: rows.rows.length, resealed };
  }
}
