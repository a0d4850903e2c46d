import type { Kysely } from 'kysely';
import type { AuditActor, AuditEvent } from '../../audit/audit-event.js';
import type { AuditRecorder } from '../../audit/audit-recorder.js';
import { newId } from '../../crypto/ids.js';
import type { Database } from '../../db/schema.js';
import { SealpostError } from '../../errors/sealpost-error.js';
import type { Logger } from '../../logging/logger.js';
import type { OutboundMailer } from '../../mail/outbound-mailer.js';
import type { TenantRepository } from '../tenant.repository.js';
import type { GrantRepository, GrantScope, StaffGrant } from './grant.repository.js';
import type { StaffConsolePrincipal } from './staff-principal.js';
import type { StaffMember, StaffRepository } from './staff.repository.js';

/** The longest grant (issue 11): access to a tenant is for hours, never standing. */
export const MAX_GRANT_MS = 4 * 3_600_000;
/** A request no one decided within a day is stale: ask again, with a fresh reason. */
export const REQUEST_TTL_MS = 24 * 3_600_000;
/** Rows one listing returns. */
const LIST_LIMIT = 500;
/** Expired grants whose events one sweep writes. */
const SWEEP_LIMIT = 100;

export interface GrantRequest {
  readonly tenantId: string;
  readonly scope: GrantScope;
  readonly reason: string;
  readonly durationMs: number;
}

/** What the tenant and staff see of a grant. */
export interface GrantView {
  readonly id: string;
  readonly tenant: string;
  readonly scope: GrantScope;
  readonly reason: string;
  readonly state: 'requested' | 'approved' | 'denied' | 'revoked' | 'expired' | 'stale';
  readonly break_glass: boolean;
  readonly requester: { readonly id: string; readonly email: string | null };
  readonly approver: { readonly id: string; readonly email: string | null } | null;
  readonly duration_minutes: number;
  readonly requested_at: string;
  readonly decided_at: string | null;
  readonly expires_at: string | null;
  readonly revoked_at: string | null;
  readonly revoked_by: string | null;
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

function grantState(grant: StaffGrant, now: number): GrantView['state'] {
  if (grant.state === 'approved' && grant.expiresAt !== null && grant.expiresAt <= now) return 'expired';
  if (grant.state === 'requested' && now - grant.requestedAt > REQUEST_TTL_MS) return 'stale';
  return grant.state;
}

function grantRequired(reason: string): SealpostError {
  return new SealpostError('SP_ERR_STAFF_GRANT_REQUIRED', 'Staff access to this tenant needs a live, approved grant', { logDetail: { reason } });
}

/**
 * Just-in-time staff access (issue 11): a staff member asks for one tenant, a scope and a
 * duration with a reason; a *different* staff member approves or denies; the grant ends by itself
 * or at once when revoked. Break-glass skips the approver but alerts every other staff member
 * first. Every step is in the tenant's audit log, and the tenant lists its grants.
 */
export class GrantService {
  constructor(
    private readonly grants: GrantRepository,
    private readonly staff: StaffRepository,
    private readonly tenants: TenantRepository,
    private readonly deps: { readonly db: Kysely<Database>; readonly audit: AuditRecorder; readonly mailer: OutboundMailer; readonly now: () => number; readonly logger: Logger; readonly publicUrl: string },
  ) {}

  private event(grant: StaffGrant, actor: AuditActor, action: AuditEvent['action'], extra: Record<string, string | number | boolean> = {}): Omit<AuditEvent, 'time'> {
    return { tenant: grant.tenantId, actor, action, resource: grant.id, details: { grant: grant.id, scope: grant.scope, break_glass: grant.breakGlass, ...extra } };
  }

  private validate(input: GrantRequest): void {
    if (!Number.isInteger(input.durationMs) || input.durationMs < 60_000 || input.durationMs > MAX_GRANT_MS) {
      throw new SealpostError('SP_ERR_HTTP_BAD_REQUEST', 'duration_minutes must be between 1 and 240');
    }
  }

  /** An erased tenant has nothing left to access: asking for it answers as for no tenant. */
  private async tenantMustExist(tenantId: string): Promise<void> {
    const tenant = await this.tenants.lifecycle(tenantId);
    if (!tenant || tenant.erasedAt !== null) throw new SealpostError('SP_ERR_RESOURCE_NOT_FOUND', 'No such tenant');
  }

  /** A checked new grant: requested, or (break-glass) approved at once without an approver. */
  private async newGrant(principal: StaffConsolePrincipal, input: GrantRequest, breakGlass: boolean): Promise<StaffGrant> {
    this.validate(input);
    await this.tenantMustExist(input.tenantId);
    const now = this.deps.now();
    return {
      id: newId('staffGrant', now),
      tenantId: input.tenantId,
      requesterId: principal.staffId,
      approverId: null,
      scope: input.scope,
      reason: input.reason,
      durationMs: input.durationMs,
      state: breakGlass ? 'approved' : 'requested',
      breakGlass,
      requestedAt: now,
      decidedAt: breakGlass ? now : null,
      expiresAt: breakGlass ? now + input.durationMs : null,
      revokedAt: null,
      revokedBy: null,
    };
  }

  async request(principal: StaffConsolePrincipal, input: GrantRequest): Promise<GrantView> {
    const grant = await this.newGrant(principal, input, false);
    await this.deps.db.transaction().execute(async (tx) => {
      await this.grants.insert(grant, tx);
      await this.deps.audit(tx, this.event(grant, principal.actor, 'staff.access_requested', { reason: input.reason, duration_minutes: input.durationMs / 60_000 }));
    });
    return this.one(grant);
  }

  /** Approves or denies another staff member's request; never one's own. */
  async decide(principal: StaffConsolePrincipal, id: string, decision: 'approved' | 'denied'): Promise<GrantView> {
    const grant = await this.grants.find(id);
    if (!grant) throw new SealpostError('SP_ERR_RESOURCE_NOT_FOUND', 'No such grant');
    if (grant.requesterId === principal.staffId) throw new SealpostError('SP_ERR_STAFF_SELF_APPROVAL', 'Another staff member must decide on your request');
    const now = this.deps.now();
    if (grantState(grant, now) !== 'requested') throw new SealpostError('SP_ERR_STAFF_GRANT_STATE', `The grant is ${grantState(grant, now)}, not requested`);
    const expiresAt = decision === 'approved' ? now + grant.durationMs : null;
    const decided = await this.deps.db.transaction().execute(async (tx) => {
      if (!(await this.grants.decide(id, { state: decision, approverId: principal.staffId, at: now, expiresAt }, tx))) return false;
      const action = decision === 'approved' ? 'staff.access_approved' : 'staff.access_denied';
      await this.deps.audit(tx, this.event(grant, principal.actor, action, expiresAt === null ? {} : { expires_at: new Date(expiresAt).toISOString() }));
      return true;
    });
    if (!decided) throw new SealpostError('SP_ERR_STAFF_GRANT_STATE', 'The grant was decided concurrently');
    return this.one({ ...grant, state: decision, approverId: principal.staffId, decidedAt: now, expiresAt });
  }

  /** Ends a live grant at once; by a staff member or the CLI (the system actor). */
  async revoke(actor: AuditActor, id: string): Promise<GrantView> {
    const grant = await this.grants.find(id);
    if (!grant) throw new SealpostError('SP_ERR_RESOURCE_NOT_FOUND', 'No such grant');
    const now = this.deps.now();
    const by = `${actor.type}:${actor.id ?? 'unknown'}`;
    const revoked = await this.deps.db.transaction().execute(async (tx) => {
      if (!(await this.grants.revoke(id, by, now, tx))) return false;
      await this.deps.audit(tx, this.event(grant, actor, 'staff.access_revoked'));
      return true;
    });
    if (!revoked) throw new SealpostError('SP_ERR_STAFF_GRANT_STATE', `The grant is ${grantState(grant, now)}, not live`);
    return this.one({ ...grant, state: 'revoked', revokedAt: now, revokedBy: by });
  }

  /**
   * Break-glass: access at once, without an approver, when no one answers. Every other staff
   * member is alerted by e-mail *before* the grant exists: if the alert cannot be sent, there is
   * no grant; with nobody to alert, it is refused. The tenant's audit log flags it
   * (`staff.break_glass`, `break_glass: true`).
   */
  async breakGlass(principal: StaffConsolePrincipal, input: GrantRequest): Promise<GrantView> {
    const grant = await this.newGrant(principal, input, true);
    const others = (await this.staff.members()).filter((m) => m.id !== principal.staffId && m.disabledAt === null);
    // Alone, break-glass would be standing access with nobody told: refuse it.
    if (others.length === 0) {
      throw new SealpostError('SP_ERR_STAFF_BREAK_GLASS_UNWITNESSED', 'Break-glass alerts every other staff member first, and there is no other active staff member');
    }
    for (const other of others) {
      await this.deps.mailer.send({
        to: other.email,
        subject: `Sealpost break-glass: ${principal.email} took ${input.scope} access to ${input.tenantId}`,
        text: [
          `${principal.email} used break-glass access without an approver.`,
          `Tenant: ${input.tenantId}`,
          `Scope: ${input.scope}, until ${new Date(grant.expiresAt!).toISOString()}`,
          `Grant: ${grant.id}`,
          `Reason: ${input.reason}`,
          '',
          `Revoke it at once if it is not expected: POST ${this.deps.publicUrl.replace(/\/$/, '')}/staff/v1/grants/${grant.id}/revoke or \`sealpost staff revoke ${grant.id}\`.`,
        ].join('\n'),
      });
    }
    await this.deps.db.transaction().execute(async (tx) => {
      await this.grants.insert(grant, tx);
      await this.deps.audit(tx, this.event(grant, principal.actor, 'staff.break_glass', { reason: input.reason, duration_minutes: input.durationMs / 60_000, alerted: others.length }));
    });
    return this.one(grant);
  }

  /**
   * The live grant a staff member acts under on a tenant's `/v1` routes: theirs, approved, not
   * revoked, not expired. Read at every request, so expiry and revocation take effect at once.
   */
  async authorize(staffId: string, grantId: string): Promise<StaffGrant> {
    const grant = await this.grants.find(grantId);
    if (!grant) throw grantRequired('unknown grant');
    if (grant.requesterId !== staffId) throw grantRequired('grant of another staff member');
    const state = grantState(grant, this.deps.now());
    if (state !== 'approved') {
      if (state === 'expired') await this.recordExpired();
      throw grantRequired(`grant ${state}`);
    }
    return grant;
  }

  /** Writes `staff.access_expired` once for each grant that ran out (lists and the refused request call it). */
  async recordExpired(): Promise<number> {
    const now = this.deps.now();
    let recorded = 0;
    for (const grant of await this.grants.expiredUnrecorded(now, SWEEP_LIMIT)) {
      await this.deps.db.transaction().execute(async (tx) => {
        if (!(await this.grants.markExpiryRecorded(grant.id, now, tx))) return;
        await this.deps.audit(tx, this.event(grant, { type: 'system', id: 'staff-grant-expiry' }, 'staff.access_expired', { expired_at: new Date(grant.expiresAt!).toISOString() }));
        recorded++;
      });
    }
    return recorded;
  }

  /** Every grant, newest first (the staff API and `sealpost staff grants`). */
  async listAll(): Promise<GrantView[]> {
    await this.recordExpired();
    return this.views(await this.grants.listAll(LIST_LIMIT));
  }

  /** The tenant's own grants (GET /v1/staff-access): access transparency. */
  async listForTenant(tenantId: string): Promise<GrantView[]> {
    await this.recordExpired();
    return this.views(await this.grants.listForTenant(tenantId, LIST_LIMIT));
  }

  private async views(grants: readonly StaffGrant[]): Promise<GrantView[]> {
    const people = new Map<string, StaffMember | undefined>();
    for (const id of new Set(grants.flatMap((g) => [g.requesterId, ...(g.approverId ? [g.approverId] : [])]))) people.set(id, await this.staff.member(id));
    return grants.map((g) => this.view(g, people));
  }

  private async one(grant: StaffGrant): Promise<GrantView> {
    return (await this.views([grant]))[0]!;
  }

  private view(grant: StaffGrant, people?: ReadonlyMap<string, StaffMember | undefined>): GrantView {
    const person = (id: string) => ({ id, email: people?.get(id)?.email ?? null });
    return {
      id: grant.id,
      tenant: grant.tenantId,
      scope: grant.scope,
      reason: grant.reason,
      state: grantState(grant, this.deps.now()),
      break_glass: grant.breakGlass,
      requester: person(grant.requesterId),
      approver: grant.approverId === null ? null : person(grant.approverId),
      duration_minutes: grant.durationMs / 60_000,
      requested_at: iso(grant.requestedAt)!,
      decided_at: iso(grant.decidedAt),
      expires_at: iso(grant.expiresAt),
      revoked_at: iso(grant.revokedAt),
      revoked_by: grant.revokedBy,
    };
  }
}
