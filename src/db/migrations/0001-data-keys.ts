import type { Kysely } from 'kysely';
import type { Dialect } from '../database.js';
import { columnTypes } from '../column-types.js';

/** Wrapped data keys of the envelope encryption (src/crypto/record-cipher.ts). */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const t = columnTypes(dialect);
  await db.schema
    .createTable('data_keys')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('provider', 'text', (c) => c.notNull())
    .addColumn('kek_ref', 'text', (c) => c.notNull())
    .addColumn('wrapped', t.bytes, (c) => c.notNull())
    .addColumn('created_at', t.bigint, (c) => c.notNull())
    .execute();
}
