import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';
import type { Role } from '../permissions.js';

export interface TenantPolicy {
  /** Every operator must have a second factor. On by default; cannot be turned off on the `operation` plan. */
  readonly enforce2fa: boolean;
  /** Only WebAuthn counts as a second factor (no TOTP, no recovery codes). */
  readonly webauthnOnly: boolean;
  /** Passwords are disabled; operators sign in through the tenant's IdP. */
  readonly ssoOnly: boolean;
  /** Role of an operator created just in time by SSO. */
  readonly ssoDefaultRole: Role;
  readonly updatedAt: number | null;
}

export const DEFAULT_POLICY: TenantPolicy = { enforce2fa: true, webauthnOnly: false, ssoOnly: false, ssoDefaultRole: 'viewer', updatedAt: null };

/** Tenant security policies; a tenant without a row has DEFAULT_POLICY. */
export class PolicyRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async find(tenantId: string): Promise<TenantPolicy> {
    const row = await this.db.selectFrom('tenant_policies').selectAll().where('tenant_id', '=', tenantId).executeTakeFirst();
    if (!row) return DEFAULT_POLICY;
    return {
      enforce2fa: row.enforce_2fa === 1,
      webauthnOnly: row.webauthn_only === 1,
      ssoOnly: row.sso_only === 1,
      ssoDefaultRole: row.sso_default_role as Role,
      updatedAt: row.updated_at,
    };
  }

  async save(tenantId: string, policy: TenantPolicy, at: number, db: Kysely<Database> = this.db): Promise<void> {
    const values = {
      enforce_2fa: policy.enforce2fa ? 1 : 0,
      webauthn_only: policy.webauthnOnly ? 1 : 0,
      sso_only: policy.ssoOnly ? 1 : 0,
      sso_default_role: policy.ssoDefaultRole,
      updated_at: at,
    };
    await db
      .insertInto('tenant_policies')
      .values({ tenant_id: tenantId, ...values })
      .onConflict((oc) => oc.column('tenant_id').doUpdateSet(values))
      .execute();
  }
}
