import type { Kysely } from 'kysely';
import { columnTypes } from '../column-types.js';
import type { Dialect } from '../database.js';

/**
 * The deployment's OpenPGP security key (src/trust/), which signs /.well-known/security.txt and
 * whose public half is published at its `Encryption` URL. Made by `sealpost security-key create`
 * or `import`. The private key (armored, unencrypted) is stored only sealed by the record cipher;
 * the public key is kept beside it for serving and checked against the private one when loaded.
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const t = columnTypes(dialect);
  await db.schema
    .createTable('security_keys')
    .addColumn('id', 'text', (c) => c.primaryKey())
    // Upper-case hex of the primary key's fingerprint (40 characters for a v4 key).
    .addColumn('fingerprint', 'text', (c) => c.notNull().unique())
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('algorithm', 'text', (c) => c.notNull())
    // 'created' (by this deployment) or 'imported'.
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('public_key_armored', 'text', (c) => c.notNull())
    .addColumn('private_key_sealed', t.bytes, (c) => c.notNull())
    // 1 for the key in use, NULL for replaced ones; unique, so two commands racing agree on one.
    .addColumn('is_current', 'integer', (c) => c.unique())
    .addColumn('created_at', t.bigint, (c) => c.notNull())
    .addColumn('expires_at', t.bigint)
    .addColumn('replaced_at', t.bigint)
    .execute();
}
