import type { Kysely } from 'kysely';
import { columnTypes } from '../column-types.js';
import type { Dialect } from '../database.js';

/**
 * Webhook subscriptions to the status page (src/status/subscriptions/webhook-*).
 *
 * - `status_webhook_subscribers`: a URL that asked for status notices. The URL is sealed by the
 *   record cipher (it may carry a receiver's secret path); lookups go by its SHA-256, and by the
 *   SHA-256 of each token (never stored in plain). `destination_id` is the deployment tenant's
 *   destination made at confirmation (event types exactly ['status.notice']); null while pending.
 * - `status_webhook_notices`: one row per update to ingest as a `status.notice` payload of the
 *   deployment tenant, written in the update's transaction and ingested by the `status-notices`
 *   job (so the staff request never waits for it); `payload_id` is set in the ingest transaction.
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const t = columnTypes(dialect);
  await db.schema
    .createTable('status_webhook_subscribers')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('url_sealed', t.bytes, (c) => c.notNull())
    .addColumn('url_sha256', 'text', (c) => c.notNull().unique())
    .addColumn('confirm_token_sha256', 'text', (c) => c.unique())
    .addColumn('confirm_expires_at', t.bigint)
    // Made at confirmation, with the destination that carries it: null while pending.
    .addColumn('unsubscribe_token_sha256', 'text', (c) => c.unique())
    .addColumn('destination_id', 'text')
    .addColumn('created_at', t.bigint, (c) => c.notNull())
    .addColumn('confirmed_at', t.bigint)
    .execute();

  await db.schema
    .createTable('status_webhook_notices')
    .addColumn('update_id', 'text', (c) => c.primaryKey().references('status_updates.id'))
    .addColumn('created_at', t.bigint, (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull())
    .addColumn('payload_id', 'text')
    .execute();
  await db.schema.createIndex('status_webhook_notices_pending').on('status_webhook_notices').columns(['payload_id', 'created_at']).execute();
}
