import type { Kysely } from 'kysely';
import { columnTypes } from '../column-types.js';
import type { Dialect } from '../database.js';

/**
 * What lets processes on several hosts run safely side by side:
 * - `kek_versions`: the local keyring's master key versions this database uses, each with a key
 *   check value, so a process whose keyring differs refuses to start instead of writing data
 *   other processes cannot read, and every process learns of a rotation made elsewhere;
 * - `database_locks`: named leases (key rotations), so one process at a time rotates;
 * - `worker_heartbeats`: each delivery worker's last sign of life, so the leases of a dead one
 *   are released at once instead of when they expire.
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const t = columnTypes(dialect);
  await db.schema
    .createTable('kek_versions')
    .addColumn('kek_ref', 'text', (c) => c.primaryKey())
    .addColumn('version', t.bigint, (c) => c.notNull().unique())
    .addColumn('check_value', 'text', (c) => c.notNull())
    .addColumn('created_at', t.bigint, (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('database_locks')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('holder', 'text', (c) => c.notNull())
    .addColumn('expires_at', t.bigint, (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('worker_heartbeats')
    .addColumn('worker_id', 'text', (c) => c.primaryKey())
    .addColumn('started_at', t.bigint, (c) => c.notNull())
    .addColumn('heartbeat_at', t.bigint, (c) => c.notNull())
    .execute();
}
