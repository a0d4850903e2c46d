import { sql, type Kysely } from 'kysely';
import { columnTypes } from '../column-types.js';
import type { Dialect } from '../database.js';

/**
 * The data lifecycle of a tenant (GDPR/PIPEDA alignment):
 * - `data_keys.tenant_id`: the tenant whose root key wraps the data key (crypto-shredding);
 *   null for the deployment's keys and for every key made before this migration.
 * - `tenants.retention_days` (90 by default, the lowest plan limit) and the index the retention
 *   sweep walks (`payloads` by tenant and age).
 * - `tenants.erased_at` and the pending erasure confirmation (hash of its token, the API key that
 *   asked, its expiry).
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const t = columnTypes(dialect);
  await db.schema.alterTable('data_keys').addColumn('tenant_id', 'text').execute();
  await db.schema.createIndex('data_keys_tenant').on('data_keys').column('tenant_id').execute();
  await db.schema
    .alterTable('tenants')
    .addColumn('retention_days', 'integer', (c) => c.notNull().defaultTo(sql`90`))
    .execute();
  await db.schema.alterTable('tenants').addColumn('erased_at', t.bigint).execute();
  await db.schema.alterTable('tenants').addColumn('erasure_token_sha256', 'text').execute();
  await db.schema.alterTable('tenants').addColumn('erasure_requested_by', 'text').execute();
  await db.schema.alterTable('tenants').addColumn('erasure_expires_at', t.bigint).execute();
  await db.schema.createIndex('payloads_tenant_received').on('payloads').columns(['tenant_id', 'received_at']).execute();
}
