import type { Kysely } from 'kysely';
import { columnTypes } from '../column-types.js';
import type { Dialect } from '../database.js';

/**
 * Inboxes: the inbound e-mail addresses of a tenant (`<token>@<SEALPOST_INBOUND_DOMAIN>`). The
 * token is unique for ever: a deleted inbox keeps its row (`deleted_at`), so its address is
 * never handed to another tenant.
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const t = columnTypes(dialect);
  await db.schema
    .createTable('inboxes')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    .addColumn('token', 'text', (c) => c.notNull().unique())
    // accept | reject: what happens to mail failing DMARC
    .addColumn('dmarc_policy', 'text', (c) => c.notNull())
    .addColumn('created_at', t.bigint, (c) => c.notNull())
    .addColumn('deleted_at', t.bigint)
    .execute();
  await db.schema.createIndex('inboxes_tenant').on('inboxes').columns(['tenant_id', 'id']).execute();
}
