import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import { columnTypes } from '../column-types.js';
import type { Dialect } from '../database.js';

/**
 * Per-tenant single sign-on (src/identity/sso/).
 *
 * - `sso_oidc_configs`, `sso_saml_configs`: one row per tenant and protocol. The whole setting
 *   (issuer, client id and secret, IdP certificates, MFA rule) is sealed by the record cipher,
 *   bound to the tenant: these are the tenant's trust anchors, so an edit of the database cannot
 *   swap an IdP certificate or issuer (it fails to decrypt), nor move one tenant's setting to another.
 * - `sso_domains`: the e-mail domains a tenant claims, verified by a DNS TXT record. A domain is
 *   verified for at most one tenant (partial unique index).
 * - `sso_login_states`: one-time OIDC login state (looked up by SHA-256 of `state`; nonce and PKCE
 *   verifier sealed), bound to the browser that started it, expiring within 10 minutes.
 * - `sso_saml_assertions`: SAML assertion ids already accepted, kept until their NotOnOrAfter, so a
 *   replayed assertion is refused.
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const t = columnTypes(dialect);
  for (const table of ['sso_oidc_configs', 'sso_saml_configs'] as const) {
    await db.schema
      .createTable(table)
      .addColumn('tenant_id', 'text', (c) => c.primaryKey().references('tenants.id'))
      .addColumn('settings_sealed', t.bytes, (c) => c.notNull())
      .addColumn('created_at', t.bigint, (c) => c.notNull())
      .addColumn('updated_at', t.bigint, (c) => c.notNull())
      .execute();
  }

  await db.schema
    .createTable('sso_domains')
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    // Lower-case ASCII (A-labels), no trailing dot.
    .addColumn('domain', 'text', (c) => c.notNull())
    // Published in DNS by design, so not a secret; random per tenant and domain.
    .addColumn('verification_token', 'text', (c) => c.notNull())
    .addColumn('created_at', t.bigint, (c) => c.notNull())
    .addColumn('verified_at', t.bigint)
    .addPrimaryKeyConstraint('sso_domains_pk', ['tenant_id', 'domain'])
    .execute();
  await db.schema
    .createIndex('sso_domains_verified_once')
    .on('sso_domains')
    .column('domain')
    .unique()
    .where(sql.ref('verified_at'), 'is not', null)
    .execute();

  await db.schema
    .createTable('sso_login_states')
    .addColumn('state_sha256', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    .addColumn('protocol', 'text', (c) => c.notNull())
    // SHA-256 of the random value in the browser's binding cookie (login CSRF).
    .addColumn('browser_sha256', 'text', (c) => c.notNull())
    // Nonce and PKCE code verifier, sealed.
    .addColumn('secrets_sealed', t.bytes, (c) => c.notNull())
    .addColumn('created_at', t.bigint, (c) => c.notNull())
    .addColumn('expires_at', t.bigint, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('sso_login_states_expiry').on('sso_login_states').column('expires_at').execute();

  await db.schema
    .createTable('sso_saml_assertions')
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    .addColumn('assertion_id', 'text', (c) => c.notNull())
    .addColumn('expires_at', t.bigint, (c) => c.notNull())
    .addPrimaryKeyConstraint('sso_saml_assertions_pk', ['tenant_id', 'assertion_id'])
    .execute();
  await db.schema.createIndex('sso_saml_assertions_expiry').on('sso_saml_assertions').column('expires_at').execute();
}
