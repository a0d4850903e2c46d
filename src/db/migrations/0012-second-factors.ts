import type { Kysely } from 'kysely';
import { columnTypes } from '../column-types.js';
import type { Dialect } from '../database.js';

/*
 * Second factors of operators. The TOTP secret is sealed with the record cipher (a copy of the
 * database must not let its reader mint codes); `last_used_step` refuses a code on replay
 * (RFC 6238 §5.2). WebAuthn public keys are not secret. Recovery codes are stored as SHA-256
 * of 80 random bits each, used at most once.
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const t = columnTypes(dialect);

  await db.schema
    .createTable('operator_totp')
    .addColumn('operator_id', 'text', (c) => c.primaryKey().references('operators.id'))
    .addColumn('secret_sealed', t.bytes, (c) => c.notNull())
    .addColumn('last_used_step', t.bigint)
    // Null while enrolment awaits its first code; only confirmed secrets count as a factor.
    .addColumn('confirmed_at', t.bigint)
    .addColumn('created_at', t.bigint, (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('operator_webauthn_credentials')
    // The credential id, base64url, as the authenticator chose it.
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('operator_id', 'text', (c) => c.notNull().references('operators.id'))
    .addColumn('public_key', t.bytes, (c) => c.notNull())
    .addColumn('counter', t.bigint, (c) => c.notNull())
    .addColumn('transports', 'text', (c) => c.notNull())
    .addColumn('created_at', t.bigint, (c) => c.notNull())
    .addColumn('last_used_at', t.bigint)
    .execute();
  await db.schema.createIndex('operator_webauthn_operator').on('operator_webauthn_credentials').column('operator_id').execute();

  await db.schema
    .createTable('operator_recovery_codes')
    .addColumn('code_sha256', 'text', (c) => c.primaryKey())
    .addColumn('operator_id', 'text', (c) => c.notNull().references('operators.id'))
    .addColumn('created_at', t.bigint, (c) => c.notNull())
    .addColumn('used_at', t.bigint)
    .execute();
  await db.schema.createIndex('operator_recovery_operator').on('operator_recovery_codes').column('operator_id').execute();

  // The monthly notice to owners about API keys older than a year: one row per tenant and month,
  // claimed before sending, so several scheduler processes send it once.
  await db.schema
    .createTable('key_age_notices')
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    .addColumn('month', 'text', (c) => c.notNull())
    .addColumn('sent_at', t.bigint, (c) => c.notNull())
    .addPrimaryKeyConstraint('key_age_notices_pk', ['tenant_id', 'month'])
    .execute();

  // The pending WebAuthn challenge of a session (registration or authentication), one at a time.
  await db.schema.alterTable('operator_sessions').addColumn('webauthn_challenge', 'text').execute();
}
