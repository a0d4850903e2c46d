import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';

export const GRANT_SCOPES = ['read', 'operate'] as const;
export type GrantScope = (typeof GRANT_SCOPES)[number];
export type GrantState = 'requested' | 'approved' | 'denied' | 'revoked';

export interface StaffGrant {
  readonly id: string;
  readonly tenantId: string;
  readonly requesterId: string;
  readonly approverId: string | null;
  readonly scope: GrantScope;
  readonly reason: string;
  readonly durationMs: number;
  readonly state: GrantState;
  readonly breakGlass: boolean;
  readonly requestedAt: number;
  readonly decidedAt: number | null;
  readonly expiresAt: number | null;
  readonly revokedAt: number | null;
  readonly revokedBy: string | null;
}

const COLUMNS = [
  'id',
  'tenant_id',
  'requester_id',
  'approver_id',
  'scope',
  'reason',
  'duration_ms',
  'state',
  'break_glass',
  'requested_at',
  'decided_at',
  'expires_at',
  'revoked_at',
  'revoked_by',
] as const;
type Row = Pick<Database['staff_grants'], (typeof COLUMNS)[number]>;
const num = (v: number | null): number | null => (v === null ? null : Number(v));

function toGrant(row: Row): StaffGrant {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    requesterId: row.requester_id,
    approverId: row.approver_id,
    scope: row.scope as GrantScope,
    reason: row.reason,
    durationMs: Number(row.duration_ms),
    state: row.state as GrantState,
    breakGlass: row.break_glass === 1,
    requestedAt: Number(row.requested_at),
    decidedAt: num(row.decided_at),
    expiresAt: num(row.expires_at),
    revokedAt: num(row.revoked_at),
    revokedBy: row.revoked_by,
  };
}

/** Staff access grants. Reads for the tenant's view take the tenant id and filter by it. */
export class GrantRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(grant: StaffGrant, db: Kysely<Database> = this.db): Promise<void> {
    await db
      .insertInto('staff_grants')
      .values({
        id: grant.id,
        tenant_id: grant.tenantId,
        requester_id: grant.requesterId,
        approver_id: grant.approverId,
        scope: grant.scope,
        reason: grant.reason,
        duration_ms: grant.durationMs,
        state: grant.state,
        break_glass: grant.breakGlass ? 1 : 0,
        requested_at: grant.requestedAt,
        decided_at: grant.decidedAt,
        expires_at: grant.expiresAt,
        revoked_at: null,
        revoked_by: null,
        expiry_recorded_at: null,
      })
      .execute();
  }

  async find(id: string, db: Kysely<Database> = this.db): Promise<StaffGrant | undefined> {
    const row = await db.selectFrom('staff_grants').select(COLUMNS).where('id', '=', id).executeTakeFirst();
    return row && toGrant(row);
  }

  /** The tenant's own grants, newest first (GET /v1/staff-access). */
  async listForTenant(tenantId: string, limit: number): Promise<StaffGrant[]> {
    const rows = await this.db.selectFrom('staff_grants').select(COLUMNS).where('tenant_id', '=', tenantId).orderBy('requested_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
    return rows.map(toGrant);
  }

  /** Every tenant's grants, newest first (the staff API and the CLI). */
  async listAll(limit: number): Promise<StaffGrant[]> {
    const rows = await this.db.selectFrom('staff_grants').select(COLUMNS).orderBy('requested_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
    return rows.map(toGrant);
  }

  /** Moves a requested grant to approved or denied; false if it is no longer requested (decided concurrently). */
  async decide(id: string, decision: { state: 'approved' | 'denied'; approverId: string; at: number; expiresAt: number | null }, db: Kysely<Database>): Promise<boolean> {
    const result = await db
      .updateTable('staff_grants')
      .set({ state: decision.state, approver_id: decision.approverId, decided_at: decision.at, expires_at: decision.expiresAt })
      .where('id', '=', id)
      .where('state', '=', 'requested')
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  /** Ends an approved, unexpired grant at once; false if it was not live. */
  async revoke(id: string, by: string, at: number, db: Kysely<Database>): Promise<boolean> {
    const result = await db
      .updateTable('staff_grants')
      .set({ state: 'revoked', revoked_at: at, revoked_by: by })
      .where('id', '=', id)
      .where('state', '=', 'approved')
      .where('expires_at', '>', at)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  /** Approved grants past their end whose expiry is not yet in the audit log. */
  async expiredUnrecorded(now: number, limit: number): Promise<StaffGrant[]> {
    const rows = await this.db
      .selectFrom('staff_grants')
      .select(COLUMNS)
      .where('state', '=', 'approved')
      .where('expires_at', '<=', now)
      .where('expiry_recorded_at', 'is', null)
      .orderBy('expires_at')
      .limit(limit)
      .execute();
    return rows.map(toGrant);
  }

  /** Marks a grant's expiry recorded; false if another process did it first (the event is written once). */
  async markExpiryRecorded(id: string, at: number, db: Kysely<Database>): Promise<boolean> {
    const result = await db.updateTable('staff_grants').set({ expiry_recorded_at: at }).where('id', '=', id).where('expiry_recorded_at', 'is', null).executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }
}
