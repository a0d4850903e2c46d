import type { Kysely } from 'kysely';
import { columnTypes } from '../column-types.js';
import type { Dialect } from '../database.js';

/**
 * Fixed-window request counts shared by every API process (rate limits on PostgreSQL): one row
 * per bucket (`ip:<address>`, `key:<api key id>`…) and minute, bumped by an upsert and swept
 * once the minute is over, so the table holds about two minutes of callers.
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const t = columnTypes(dialect);
  await db.schema
    .createTable('rate_limit_windows')
    .addColumn('bucket', 'text', (c) => c.notNull())
    .addColumn('window_start', t.bigint, (c) => c.notNull())
    .addColumn('count', t.bigint, (c) => c.notNull())
    .addPrimaryKeyConstraint('rate_limit_windows_pk', ['bucket', 'window_start'])
    .execute();
  await db.schema.createIndex('rate_limit_windows_start').on('rate_limit_windows').column('window_start').execute();
}
