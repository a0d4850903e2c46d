import { sql, type Kysely } from 'kysely';
import { columnTypes } from '../column-types.js';
import type { Dialect } from '../database.js';

/** 72 hours in milliseconds: a notice's deadline is fixed by its clock's start, not stored freely. */
const BREACH_WINDOW_MS = 72 * 3_600_000;

/**
 * Security operations (issue 14, part C):
 * - `tenants.kind`: the deployment's own tenant (src/ops/deployment-tenant/) apart from customer
 *   tenants ('customer' for every existing row); a partial unique index lets at most one row be
 *   the deployment's, so neither two starting processes nor an edit of the database make a second.
 * - `security_contacts`: a tenant's security contacts (sealed JSON list), where breach notices go.
 * - `breaches` and `breach_notices`: a confirmed breach and, per affected tenant, its 72-hour
 *   clock, when the notice was sent (by whom, how, to how many) and acknowledged (one-time token,
 *   SHA-256 at rest), and the staff alerts at 48 h and 66 h. CHECK constraints refuse rows that
 *   contradict themselves (a sent notice without who and how, an acknowledgement before sending, a
 *   deadline other than 72 h); `sealpost breach show` checks each sent mark against its audit event.
 * - `security_reports`: bug-bounty reports received at security@<inbound domain>, each pointing at
 *   its stored (encrypted) message, whether it was PGP-encrypted, and whether it was acknowledged.
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const t = columnTypes(dialect);
  await db.schema
    .alterTable('tenants')
    .addColumn('kind', 'text', (c) => c.notNull().defaultTo('customer').check(sql`kind in ('customer', 'deployment')`))
    .execute();
  await db.schema.createIndex('tenants_one_deployment').on('tenants').column('kind').unique().where(sql.ref('kind'), '=', 'deployment').execute();

  await db.schema
    .createTable('security_contacts')
    .addColumn('tenant_id', 'text', (c) => c.primaryKey().references('tenants.id'))
    .addColumn('contacts_sealed', t.bytes, (c) => c.notNull())
    .addColumn('updated_at', t.bigint, (c) => c.notNull())
    .addColumn('updated_by', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('breaches')
    .addColumn('id', 'text', (c) => c.primaryKey())
    // The status page's incident, once both branches meet (nullable until then, and for breaches found without one).
    .addColumn('incident_id', 'text')
    .addColumn('title', 'text', (c) => c.notNull())
    // What the notice tells tenants, sealed under the deployment tenant's keys.
    .addColumn('summary_sealed', t.bytes, (c) => c.notNull())
    .addColumn('declared_by', 'text', (c) => c.notNull())
    .addColumn('declared_at', t.bigint, (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('breach_notices')
    .addColumn('breach_id', 'text', (c) => c.notNull().references('breaches.id'))
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    .addColumn('clock_started_at', t.bigint, (c) => c.notNull())
    .addColumn('deadline_at', t.bigint, (c) => c.notNull())
    .addColumn('notified_at', t.bigint)
    .addColumn('notified_by', 'text')
    // 'email' (sent by Sealpost) or 'manual' (staff notified the tenant another way and say so).
    .addColumn('notified_via', 'text', (c) => c.check(sql`notified_via in ('email', 'manual')`))
    .addColumn('recipients', 'integer')
    .addColumn('ack_token_sha256', 'text', (c) => c.unique())
    .addColumn('acknowledged_at', t.bigint)
    .addColumn('alerted_48h_at', t.bigint)
    .addColumn('alerted_66h_at', t.bigint)
    .addPrimaryKeyConstraint('breach_notices_pk', ['breach_id', 'tenant_id'])
    .addCheckConstraint('breach_notices_deadline', sql`deadline_at = clock_started_at + ${sql.lit(BREACH_WINDOW_MS)}`)
    .addCheckConstraint(
      'breach_notices_sent_whole',
      sql`(notified_at is null and notified_by is null and notified_via is null and recipients is null) or (notified_at is not null and notified_by is not null and notified_via is not null and recipients is not null and notified_at >= clock_started_at)`,
    )
    .addCheckConstraint('breach_notices_ack_after_sent', sql`acknowledged_at is null or (notified_at is not null and acknowledged_at >= notified_at)`)
    .execute();
  await db.schema.createIndex('breach_notices_open').on('breach_notices').columns(['notified_at', 'deadline_at']).execute();
  await db.schema.createIndex('breach_notices_tenant').on('breach_notices').column('tenant_id').execute();

  await db.schema
    .createTable('security_reports')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    .addColumn('payload_id', 'text', (c) => c.notNull().unique())
    // 1 when the report came PGP-encrypted (inline armour or PGP/MIME): stored as received.
    .addColumn('encrypted', 'integer', (c) => c.notNull().check(sql`encrypted in (0, 1)`))
    // 1 when the sender's domain passed DMARC (or, without a policy, SPF or DKIM aligned): only they are acknowledged.
    .addColumn('sender_authenticated', 'integer', (c) => c.notNull().check(sql`sender_authenticated in (0, 1)`))
    .addColumn('received_at', t.bigint, (c) => c.notNull())
    .addColumn('acknowledged_at', t.bigint)
    // Why no acknowledgement went out: 'unauthenticated', 'rate_limited', 'no_sender', 'mail_failed'.
    .addColumn('ack_skipped', 'text')
    .execute();
}
