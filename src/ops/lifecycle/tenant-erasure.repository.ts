import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';

export interface PendingErasure {
  readonly tokenSha256: string;
  readonly requestedBy: string;
  readonly expiresAt: number;
}

/** What an erasure switched off, for its audit event. */
export interface ErasureCounts {
  readonly revokedKeys: number;
  readonly deletedInboxes: number;
  readonly disabledDestinations: number;
  readonly stoppedDeliveries: number;
  readonly revokedSessions: number;
  readonly removedMembers: number;
  readonly deletedSsoDomains: number;
  readonly endedStaffGrants: number;
}

/** Who revoked a staff grant that ended with its tenant's erasure (not a staff member's id). */
export const TENANT_ERASURE = 'tenant-erasure';

/** The tenant rows an erasure reads and changes. Every query is scoped to one tenant. */
export class TenantErasureRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async state(tenantId: string): Promise<{ erasedAt: number | null; pending: PendingErasure | undefined; deployment: boolean } | undefined> {
    const row = await this.db
      .selectFrom('tenants')
      .select(['erased_at', 'erasure_token_sha256', 'erasure_requested_by', 'erasure_expires_at', 'kind'])
      .where('id', '=', tenantId)
      .executeTakeFirst();
    if (!row) return undefined;
    const pending =
      row.erasure_token_sha256 !== null && row.erasure_requested_by !== null && row.erasure_expires_at !== null
        ? { tokenSha256: row.erasure_token_sha256, requestedBy: row.erasure_requested_by, expiresAt: row.erasure_expires_at }
        : undefined;
    return { erasedAt: row.erased_at, pending, deployment: row.kind === 'deployment' };
  }

  /** Replaces any earlier pending confirmation: only the newest token is valid. */
  async setPending(tenantId: string, pending: PendingErasure, db: Kysely<Database> = this.db): Promise<void> {
    await db
      .updateTable('tenants')
      .set({ erasure_token_sha256: pending.tokenSha256, erasure_requested_by: pending.requestedBy, erasure_expires_at: pending.expiresAt })
      .where('id', '=', tenantId)
      .where('erased_at', 'is', null)
      .execute();
  }

  /**
   * Marks the tenant erased and switches off everything that could act for it: API keys
   * revoked, inboxes deleted, destinations disabled, pending deliveries stopped, and its people's
   * access ended (endPeopleAccess). Its data keys' rows go too (useless once the root key is
   * destroyed). Returns undefined if it already was.
   */
  async markErased(tenantId: string, at: number, db: Kysely<Database>): Promise<ErasureCounts | undefined> {
    const marked = await db
      .updateTable('tenants')
      .set({ erased_at: at, erasure_token_sha256: null, erasure_requested_by: null, erasure_expires_at: null })
      .where('id', '=', tenantId)
      .where('erased_at', 'is', null)
      .executeTakeFirst();
    if (Number(marked.numUpdatedRows) === 0) return undefined;
    const keys = await db.updateTable('api_keys').set({ revoked_at: at }).where('tenant_id', '=', tenantId).where('revoked_at', 'is', null).executeTakeFirst();
    // A legacy plain token is blanked as a deletion does (the column then holds the row's id).
    const inboxes = await db.updateTable('inboxes').set((eb) => ({ deleted_at: at, token: eb.ref('id') })).where('tenant_id', '=', tenantId).where('deleted_at', 'is', null).executeTakeFirst();
    const destinations = await db
      .updateTable('destinations')
      .set({ enabled: 0, disabled_reason: 'tenant erased', updated_at: at })
      .where('tenant_id', '=', tenantId)
      .where('enabled', '=', 1)
      .executeTakeFirst();
    const deliveries = await db
      .updateTable('deliveries')
      .set({ status: 'stopped', last_error: 'tenant erased', completed_at: at, updated_at: at, lease_owner: null, lease_expires_at: null })
      .where('tenant_id', '=', tenantId)
      .where('status', '=', 'pending')
      .executeTakeFirst();
    await db.deleteFrom('data_keys').where('tenant_id', '=', tenantId).execute();
    const people = await this.endPeopleAccess(tenantId, at, db);
    return {
      revokedKeys: Number(keys.numUpdatedRows),
      deletedInboxes: Number(inboxes.numUpdatedRows),
      disabledDestinations: Number(destinations.numUpdatedRows),
      stoppedDeliveries: Number(deliveries.numUpdatedRows),
      ...people,
    };
  }

  /**
   * Ends every way a person reaches the tenant: sessions revoked (the rows stay, so a cookie
   * presented later is recognised as the erased tenant's), memberships and pending invites
   * removed, one-time links (setup, reset) deleted, SSO settings, login states, seen SAML
   * assertions and claimed domains deleted, so a verified domain is free for another tenant.
   * Operator accounts stay: one may belong to other tenants, and one left with none signs in to
   * nothing (login answers as for a wrong password). Staff access ends too: live grants are
   * revoked and pending requests denied, so no approval made later opens the erased tenant.
   */
  private async endPeopleAccess(
    tenantId: string,
    at: number,
    db: Kysely<Database>,
  ): Promise<Pick<ErasureCounts, 'revokedSessions' | 'removedMembers' | 'deletedSsoDomains' | 'endedStaffGrants'>> {
    const sessions = await db
      .updateTable('operator_sessions')
      .set({ revoked_at: at, webauthn_challenge: null })
      .where('tenant_id', '=', tenantId)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    await db.deleteFrom('operator_tokens').where('tenant_id', '=', tenantId).execute();
    const members = await db.deleteFrom('tenant_members').where('tenant_id', '=', tenantId).executeTakeFirst();
    await db.deleteFrom('sso_oidc_configs').where('tenant_id', '=', tenantId).execute();
    await db.deleteFrom('sso_saml_configs').where('tenant_id', '=', tenantId).execute();
    await db.deleteFrom('sso_login_states').where('tenant_id', '=', tenantId).execute();
    await db.deleteFrom('sso_saml_assertions').where('tenant_id', '=', tenantId).execute();
    const domains = await db.deleteFrom('sso_domains').where('tenant_id', '=', tenantId).executeTakeFirst();
    const revokedGrants = await db
      .updateTable('staff_grants')
      .set({ state: 'revoked', revoked_at: at, revoked_by: TENANT_ERASURE })
      .where('tenant_id', '=', tenantId)
      .where('state', '=', 'approved')
      .where('expires_at', '>', at)
      .executeTakeFirst();
    const deniedRequests = await db
      .updateTable('staff_grants')
      .set({ state: 'denied', decided_at: at })
      .where('tenant_id', '=', tenantId)
      .where('state', '=', 'requested')
      .executeTakeFirst();
    return {
      revokedSessions: Number(sessions.numUpdatedRows),
      removedMembers: Number(members.numDeletedRows),
      deletedSsoDomains: Number(domains.numDeletedRows),
      endedStaffGrants: Number(revokedGrants.numUpdatedRows) + Number(deniedRequests.numUpdatedRows),
    };
  }
}
