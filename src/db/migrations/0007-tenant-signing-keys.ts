import { sql, type Kysely } from 'kysely';

/** DESIGN §6: a replaced key stays valid for verification this long (SIGNING_KEY_OVERLAP_MS). */
const OVERLAP_MS = 90 * 86_400_000;

/**
 * One signing-key set per tenant (DESIGN §6). A single deployment-wide key let any tenant have
 * Sealpost sign content and replay it to another tenant's receivers; from here on each tenant's
 * webhooks and receipts are signed only with that tenant's keys.
 *
 * The keys that exist now become legacy keys (`tenant_id` NULL): the active one is replaced as a
 * rotation would replace it, so it never signs again but stays valid for verification 90 days
 * and then retires; all of them stay published, so receipts they signed keep verifying.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  // No foreign key: like a receipt, a public key is a proof that outlives its tenant's data.
  await db.schema.alterTable('signing_keys').addColumn('tenant_id', 'text').execute();
  const now = Date.now();
  await sql`update signing_keys set state = 'replaced', replaced_at = ${now}, expires_at = ${now + OVERLAP_MS} where state = 'active'`.execute(db);
  await sql`drop index signing_keys_one_active`.execute(db);
  // One active key per tenant, whatever processes race to create or rotate it: the loser's insert fails.
  await sql`create unique index signing_keys_one_active_per_tenant on signing_keys (tenant_id) where state = 'active'`.execute(db);
  await db.schema.createIndex('signing_keys_tenant').on('signing_keys').columns(['tenant_id', 'activated_at']).execute();
}
