import type { Kysely } from 'kysely';
import { columnTypes } from '../column-types.js';
import type { Dialect } from '../database.js';

/*
 * Operators: the people of a tenant (issue 11). Booleans are integers 0/1 in both dialects so
 * queries stay portable. Every token (session, invite, reset) is stored only as its SHA-256:
 * each carries 256 random bits, so a fast hash suffices and a copy of the database yields no
 * usable credential.
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const t = columnTypes(dialect);

  await db.schema
    .createTable('operators')
    .addColumn('id', 'text', (c) => c.primaryKey())
    // As entered (for display and mail); `email_normalized` is the lower-cased, unique lookup key.
    .addColumn('email', 'text', (c) => c.notNull())
    .addColumn('email_normalized', 'text', (c) => c.notNull().unique())
    // argon2id PHC string; null until the operator sets a password (invite, SSO-only accounts).
    .addColumn('password_hash', 'text')
    .addColumn('created_at', t.bigint, (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('tenant_members')
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    .addColumn('operator_id', 'text', (c) => c.notNull().references('operators.id'))
    // owner | admin | developer | viewer
    .addColumn('role', 'text', (c) => c.notNull())
    .addColumn('created_at', t.bigint, (c) => c.notNull())
    .addPrimaryKeyConstraint('tenant_members_pk', ['tenant_id', 'operator_id'])
    .execute();
  await db.schema.createIndex('tenant_members_operator').on('tenant_members').columns(['operator_id', 'tenant_id']).execute();

  await db.schema
    .createTable('operator_sessions')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('token_sha256', 'text', (c) => c.notNull().unique())
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    .addColumn('operator_id', 'text', (c) => c.notNull().references('operators.id'))
    // password | oidc | saml
    .addColumn('method', 'text', (c) => c.notNull())
    .addColumn('second_factor_satisfied', 'integer', (c) => c.notNull())
    .addColumn('created_at', t.bigint, (c) => c.notNull())
    .addColumn('last_seen_at', t.bigint, (c) => c.notNull())
    .addColumn('revoked_at', t.bigint)
    .execute();
  await db.schema.createIndex('operator_sessions_operator').on('operator_sessions').columns(['tenant_id', 'operator_id']).execute();

  await db.schema
    .createTable('operator_tokens')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('token_sha256', 'text', (c) => c.notNull().unique())
    // setup (invite or CLI: first password) | reset (password reset)
    .addColumn('purpose', 'text', (c) => c.notNull())
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    .addColumn('operator_id', 'text', (c) => c.notNull().references('operators.id'))
    .addColumn('created_at', t.bigint, (c) => c.notNull())
    .addColumn('expires_at', t.bigint, (c) => c.notNull())
    .addColumn('used_at', t.bigint)
    .execute();

  await db.schema
    .createTable('tenant_policies')
    .addColumn('tenant_id', 'text', (c) => c.primaryKey().references('tenants.id'))
    .addColumn('enforce_2fa', 'integer', (c) => c.notNull())
    .addColumn('webauthn_only', 'integer', (c) => c.notNull())
    .addColumn('sso_only', 'integer', (c) => c.notNull())
    .addColumn('sso_default_role', 'text', (c) => c.notNull())
    .addColumn('updated_at', t.bigint, (c) => c.notNull())
    .execute();

  // Failed sign-ins per account and per IP, for exponential back-off shared by every API process.
  await db.schema
    .createTable('login_throttle')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('failures', 'integer', (c) => c.notNull())
    .addColumn('blocked_until', t.bigint, (c) => c.notNull())
    .addColumn('updated_at', t.bigint, (c) => c.notNull())
    .execute();

  // Which operator created a key, so removing the member can revoke it or hand it to the tenant.
  await db.schema.alterTable('api_keys').addColumn('created_by', 'text').execute();
}
