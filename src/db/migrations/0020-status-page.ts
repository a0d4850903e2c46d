import type { Kysely } from 'kysely';
import { columnTypes } from '../column-types.js';
import type { Dialect } from '../database.js';

/**
 * The status page (src/status/). Everything here is public by design (what the page shows), so
 * nothing is sealed; what must not be edited unseen is signed instead (the `document` columns:
 * Ed25519 by the audit log key, their hashes in the audit log).
 *
 * - `status_component_states`: each component's current state, as the probe job last computed it.
 * - `status_uptime_days`: per component and UTC day, how many probe samples found each state
 *   (bounded: four components times the 90 days kept).
 * - `status_maintenance`: windows staff scheduled; probes do not change the components they cover.
 * - `status_incidents`, `status_updates`, `status_postmortems`: incidents, their signed updates
 *   and their signed postmortem.
 * - `status_subscribers`: e-mail subscribers (double opt-in). The address and the unsubscribe
 *   token are sealed by the record cipher (personal data; the token is needed in every notice);
 *   lookups go by SHA-256 of the address and of each token.
 * - `status_notices`: the outbox of notices, one row per subscriber and update, written with the
 *   update and sent by the scheduler's `status-notices` job.
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const t = columnTypes(dialect);
  await db.schema
    .createTable('status_component_states')
    .addColumn('component', 'text', (c) => c.primaryKey())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('since', t.bigint, (c) => c.notNull())
    .addColumn('checked_at', t.bigint, (c) => c.notNull())
    .addColumn('detail', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('status_uptime_days')
    .addColumn('component', 'text', (c) => c.notNull())
    // UTC date, YYYY-MM-DD.
    .addColumn('day', 'text', (c) => c.notNull())
    .addColumn('samples', 'integer', (c) => c.notNull())
    .addColumn('operational', 'integer', (c) => c.notNull())
    .addColumn('degraded', 'integer', (c) => c.notNull())
    .addColumn('partial_outage', 'integer', (c) => c.notNull())
    .addColumn('major_outage', 'integer', (c) => c.notNull())
    .addColumn('maintenance', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('status_uptime_days_pk', ['component', 'day'])
    .execute();

  await db.schema
    .createTable('status_maintenance')
    .addColumn('id', 'text', (c) => c.primaryKey())
    // Comma-separated component names.
    .addColumn('components', 'text', (c) => c.notNull())
    .addColumn('starts_at', t.bigint, (c) => c.notNull())
    .addColumn('ends_at', t.bigint, (c) => c.notNull())
    .addColumn('note', 'text', (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', t.bigint, (c) => c.notNull())
    .addColumn('cancelled_at', t.bigint)
    .execute();
  await db.schema.createIndex('status_maintenance_ends').on('status_maintenance').column('ends_at').execute();

  await db.schema
    .createTable('status_incidents')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('title', 'text', (c) => c.notNull())
    .addColumn('impact', 'text', (c) => c.notNull())
    .addColumn('components', 'text', (c) => c.notNull())
    .addColumn('customer_visible', 'integer', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('opened_by', 'text', (c) => c.notNull())
    .addColumn('opened_at', t.bigint, (c) => c.notNull())
    .addColumn('updated_at', t.bigint, (c) => c.notNull())
    .addColumn('resolved_at', t.bigint)
    // Set when staff closed a customer-visible incident without a postmortem (audited, with this reason).
    .addColumn('postmortem_waiver', 'text')
    .execute();
  await db.schema.createIndex('status_incidents_updated').on('status_incidents').column('updated_at').execute();

  await db.schema
    .createTable('status_updates')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('incident_id', 'text', (c) => c.notNull().references('status_incidents.id'))
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('posted_at', t.bigint, (c) => c.notNull())
    // The signed update, RFC 8785 canonical JSON with its `sig` member, as served.
    .addColumn('document', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('status_updates_incident').on('status_updates').columns(['incident_id', 'posted_at']).execute();
  await db.schema.createIndex('status_updates_posted').on('status_updates').column('posted_at').execute();

  await db.schema
    .createTable('status_postmortems')
    .addColumn('incident_id', 'text', (c) => c.primaryKey().references('status_incidents.id'))
    .addColumn('published_at', t.bigint, (c) => c.notNull())
    .addColumn('document', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('status_subscribers')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('contact_sealed', t.bytes, (c) => c.notNull())
    .addColumn('email_sha256', 'text', (c) => c.notNull().unique())
    .addColumn('confirm_token_sha256', 'text', (c) => c.unique())
    .addColumn('confirm_expires_at', t.bigint)
    .addColumn('unsubscribe_token_sha256', 'text', (c) => c.notNull().unique())
    .addColumn('created_at', t.bigint, (c) => c.notNull())
    .addColumn('confirmed_at', t.bigint)
    .execute();

  await db.schema
    .createTable('status_notices')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('subscriber_id', 'text', (c) => c.notNull().references('status_subscribers.id').onDelete('cascade'))
    .addColumn('update_id', 'text', (c) => c.notNull().references('status_updates.id'))
    .addColumn('created_at', t.bigint, (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull())
    .addColumn('sent_at', t.bigint)
    .execute();
  await db.schema.createIndex('status_notices_unsent').on('status_notices').columns(['sent_at', 'created_at']).execute();
}
