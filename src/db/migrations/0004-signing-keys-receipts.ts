import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../database.js';
import { columnTypes } from '../column-types.js';

/**
 * Ed25519 signing keys for forwarded requests and receipts (DESIGN §6; src/crypto/signing-key*.ts)
 * and the signed receipts themselves (DESIGN §5; src/receipts/). Private keys and receipts are
 * ciphertexts of src/crypto/record-cipher.ts.
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const t = columnTypes(dialect);

  await db.schema
    .createTable('signing_keys')
    // sp_sig_<yyyymmdd>_<random>: the `sealpost-key-id` header and a receipt's `sig.kid`.
    .addColumn('kid', 'text', (c) => c.primaryKey())
    // Raw 32-byte Ed25519 public key: the JWK `x`.
    .addColumn('public_key', t.bytes, (c) => c.notNull())
    // PKCS#8 DER, sealed; set to NULL when the key is retired (it never signs again).
    .addColumn('private_key_sealed', t.bytes)
    // active | replaced (still valid for verification) | retired
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('created_at', t.bigint, (c) => c.notNull())
    .addColumn('activated_at', t.bigint, (c) => c.notNull())
    // Start of the validity window (JWK nbf, here in ms).
    .addColumn('not_before', t.bigint, (c) => c.notNull())
    .addColumn('replaced_at', t.bigint)
    // End of the validity window (JWK exp, here in ms): replaced_at + 90 days; NULL while active.
    .addColumn('expires_at', t.bigint)
    .addColumn('retired_at', t.bigint)
    .execute();
  // At most one active key, whatever processes race to rotate: the loser's insert fails.
  await sql`create unique index signing_keys_one_active on signing_keys (state) where state = 'active'`.execute(db);

  await db.schema
    .createTable('receipts')
    // rcp_<ULID>
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    // No foreign key: a receipt is a proof that outlives the payload's retention.
    .addColumn('message_id', 'text', (c) => c.notNull())
    // accepted | delivered
    .addColumn('kind', 'text', (c) => c.notNull())
    // The delivery a `delivered` receipt is for; unique, so a delivery gets one receipt.
    .addColumn('delivery_id', 'text', (c) => c.unique())
    // The signed document as served (RFC 8785 canonical JSON), sealed.
    .addColumn('receipt_sealed', t.bytes, (c) => c.notNull())
    .addColumn('issued_at', t.bigint, (c) => c.notNull())
    // Index of the receipt's `receipt.issued` audit event, for GET /v1/receipts/:id/proof.
    .addColumn('audit_index', t.bigint)
    .execute();
  await db.schema.createIndex('receipts_message').on('receipts').columns(['tenant_id', 'message_id', 'issued_at']).execute();
}
