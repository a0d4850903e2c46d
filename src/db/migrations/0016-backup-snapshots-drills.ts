import type { Kysely } from 'kysely';
import { columnTypes } from '../column-types.js';
import type { Dialect } from '../database.js';

/**
 * Every snapshot taken (src/ops/backup/): when, of which environment, its row counts (what a
 * restore drill compares against), sizes and the SHA-256 of its manifest and sealed objects;
 * and every restore drill with its RTO. Metadata only: the snapshots themselves live in the
 * backup targets. The audit log records both as well, so an edit of these rows shows there.
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const t = columnTypes(dialect);
  await db.schema
    .createTable('backup_snapshots')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('created_at', t.bigint, (c) => c.notNull())
    .addColumn('environment', 'text', (c) => c.notNull())
    .addColumn('dialect', 'text', (c) => c.notNull())
    .addColumn('row_counts', 'text', (c) => c.notNull())
    .addColumn('database_bytes', t.bigint, (c) => c.notNull())
    .addColumn('blob_count', t.bigint, (c) => c.notNull())
    .addColumn('blob_bytes', t.bigint, (c) => c.notNull())
    .addColumn('blobs_copied', t.bigint, (c) => c.notNull())
    .addColumn('manifest_sha256', 'text', (c) => c.notNull())
    .addColumn('database_sha256', 'text', (c) => c.notNull())
    .addColumn('blobs_sha256', 'text', (c) => c.notNull())
    .addColumn('target', 'text', (c) => c.notNull())
    .addColumn('replica', 'text', (c) => c.notNull())
    .addColumn('duration_ms', t.bigint, (c) => c.notNull())
    .addColumn('pruned_at', t.bigint)
    .execute();
  await db.schema.createIndex('backup_snapshots_created_at').on('backup_snapshots').column('created_at').execute();
  await db.schema
    .createTable('backup_drills')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('started_at', t.bigint, (c) => c.notNull())
    .addColumn('snapshot_id', 'text', (c) => c.notNull())
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('rto_ms', t.bigint, (c) => c.notNull())
    .addColumn('passed', 'integer', (c) => c.notNull())
    .addColumn('report', 'text', (c) => c.notNull())
    .addColumn('report_sha256', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('backup_drills_started_at').on('backup_drills').column('started_at').execute();
}
