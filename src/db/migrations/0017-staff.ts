import type { Kysely } from 'kysely';
import { columnTypes } from '../column-types.js';
import type { Dialect } from '../database.js';

/**
 * Staff: the people who run the deployment (src/identity/staff/).
 *
 * - `staff_members`: the allow-list of staff identities, enrolled by `sealpost staff add`. The
 *   IdP subject is bound at first sign-in; the one-time WebAuthn enrolment code is stored hashed.
 * - `staff_credentials`: their WebAuthn credentials (public keys only).
 * - `staff_sessions`: server-side sessions, by SHA-256 of the cookie token.
 * - `staff_login_states`: one-time OIDC login state (nonce and PKCE verifier sealed).
 * - `staff_grants`: just-in-time access to one tenant, requested by one staff member and approved
 *   by another (or break-glass), bounded in time; the tenant reads them (GET /v1/staff-access).
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const t = columnTypes(dialect);
  await db.schema
    .createTable('staff_members')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('email', 'text', (c) => c.notNull().unique())
    .addColumn('idp_subject', 'text')
    .addColumn('enrolment_code_sha256', 'text')
    .addColumn('enrolment_expires_at', t.bigint)
    .addColumn('created_at', t.bigint, (c) => c.notNull())
    .addColumn('disabled_at', t.bigint)
    .execute();

  await db.schema
    .createTable('staff_credentials')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('staff_id', 'text', (c) => c.notNull().references('staff_members.id'))
    .addColumn('public_key', t.bytes, (c) => c.notNull())
    .addColumn('counter', t.bigint, (c) => c.notNull())
    .addColumn('transports', 'text', (c) => c.notNull())
    .addColumn('created_at', t.bigint, (c) => c.notNull())
    .addColumn('last_used_at', t.bigint)
    .execute();
  await db.schema.createIndex('staff_credentials_staff').on('staff_credentials').column('staff_id').execute();

  await db.schema
    .createTable('staff_sessions')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('token_sha256', 'text', (c) => c.notNull().unique())
    .addColumn('staff_id', 'text', (c) => c.notNull().references('staff_members.id'))
    // 0: OIDC only (reaches the WebAuthn step and nothing else); 1: WebAuthn with user verification done.
    .addColumn('webauthn_satisfied', 'integer', (c) => c.notNull())
    .addColumn('webauthn_challenge', 'text')
    .addColumn('created_at', t.bigint, (c) => c.notNull())
    .addColumn('last_seen_at', t.bigint, (c) => c.notNull())
    .addColumn('revoked_at', t.bigint)
    .execute();

  await db.schema
    .createTable('staff_login_states')
    .addColumn('state_sha256', 'text', (c) => c.primaryKey())
    .addColumn('browser_sha256', 'text', (c) => c.notNull())
    .addColumn('secrets_sealed', t.bytes, (c) => c.notNull())
    .addColumn('expires_at', t.bigint, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('staff_login_states_expiry').on('staff_login_states').column('expires_at').execute();

  await db.schema
    .createTable('staff_grants')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    .addColumn('requester_id', 'text', (c) => c.notNull().references('staff_members.id'))
    .addColumn('approver_id', 'text', (c) => c.references('staff_members.id'))
    .addColumn('scope', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('duration_ms', t.bigint, (c) => c.notNull())
    // requested | approved | denied | revoked (expiry is approved with expires_at past).
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('break_glass', 'integer', (c) => c.notNull())
    .addColumn('requested_at', t.bigint, (c) => c.notNull())
    .addColumn('decided_at', t.bigint)
    .addColumn('expires_at', t.bigint)
    .addColumn('revoked_at', t.bigint)
    .addColumn('revoked_by', 'text')
    // Set once the grant's `staff.access_expired` event is written.
    .addColumn('expiry_recorded_at', t.bigint)
    .execute();
  await db.schema.createIndex('staff_grants_tenant').on('staff_grants').columns(['tenant_id', 'requested_at']).execute();
  await db.schema.createIndex('staff_grants_state').on('staff_grants').columns(['state', 'expires_at']).execute();
}
