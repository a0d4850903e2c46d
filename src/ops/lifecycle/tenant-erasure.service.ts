import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { AuditActor } from '../../audit/audit-event.js';
import type { AuditRecorder } from '../../audit/audit-recorder.js';
import type { TenantRootKeys } from '../../crypto/tenant-keys/tenant-root-keys.js';
import type { Database } from '../../db/schema.js';
import { SealpostError } from '../../errors/sealpost-error.js';
import type { TenantErasureRepository } from './tenant-erasure.repository.js';

/** How long the owner has to send the confirmation back: long enough to read the warning, short enough that a leaked token soon expires. */
export const ERASURE_CONFIRM_WINDOW_MS = 10 * 60_000;
/** 256 random bits: the token only needs to be unguessable for ten minutes, but costs nothing longer. */
const TOKEN_BYTES = 32;

export interface ErasureResult {
  readonly tenant: string;
  readonly erasedAt: number;
  /** True when the tenant was already marked erased (the key destruction was completed or repeated). */
  readonly alreadyErased: boolean;
}

function sha256Hex(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** The deployment's own tenant holds its security mailbox and breach records: never shredded (docs/deployment-tenant.md). */
function refuseDeploymentTenant(tenantId: string, deployment: boolean): void {
  if (deployment) throw new SealpostError('SP_ERR_TENANT_DEPLOYMENT_PROTECTED', "The deployment's own tenant cannot be erased", { logDetail: { tenantId } });
}

/**
 * Erasure by crypto-shredding (DESIGN §6): every record and blob of a tenant is under data keys
 * wrapped by the tenant's root key, so destroying that key erases the tenant's data everywhere
 * at once, copies and snapshots of the database included. The tenant is first marked erased
 * (its keys and sessions revoked, members, invites and SSO settings removed, inboxes deleted,
 * deliveries stopped, `tenant.erased` audited, in one transaction), then its root key is destroyed; a failure in between is completed by running
 * the erasure again. The audit log is not under tenant keys, so the tenant's proofs still verify.
 */
export class TenantErasureService {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly repository: TenantErasureRepository,
    private readonly tenantKeys: TenantRootKeys,
    private readonly forgetTenant: (tenantId: string) => void,
    private readonly audit: AuditRecorder,
    private readonly now: () => number = Date.now,
  ) {}

  /** First step from the API: a confirmation token for the calling owner session, valid ERASURE_CONFIRM_WINDOW_MS. Shown once; only its hash is stored. */
  async requestConfirmation(tenantId: string, sessionId: string, actor: AuditActor): Promise<{ token: string; expiresAt: number }> {
    const state = await this.repository.state(tenantId);
    if (!state || state.erasedAt !== null) throw new SealpostError('SP_ERR_TENANT_ERASED', 'This tenant has been erased');
    refuseDeploymentTenant(tenantId, state.deployment);
    const token = `spe_${randomBytes(TOKEN_BYTES).toString('base64url')}`;
    const expiresAt = this.now() + ERASURE_CONFIRM_WINDOW_MS;
    await this.db.transaction().execute(async (tx) => {
      await this.repository.setPending(tenantId, { tokenSha256: sha256Hex(token), requestedBy: sessionId, expiresAt }, tx);
      await this.audit(tx, { tenant: tenantId, actor, action: 'tenant.erasure_requested', resource: tenantId, details: { expires_at: new Date(expiresAt).toISOString() } });
    });
    return { token, expiresAt };
  }

  /** Second step from the API: erases if `token` is the one issued to this same session and has not expired. */
  async confirm(tenantId: string, sessionId: string, token: string, actor: AuditActor): Promise<ErasureResult> {
    const state = await this.repository.state(tenantId);
    const pending = state?.pending;
    const matches =
      pending !== undefined &&
      pending.requestedBy === sessionId &&
      pending.expiresAt > this.now() &&
      /^[0-9a-f]{64}$/.test(pending.tokenSha256) &&
      timingSafeEqual(Buffer.from(sha256Hex(token), 'hex'), Buffer.from(pending.tokenSha256, 'hex'));
    if (!matches) {
      throw new SealpostError('SP_ERR_TENANT_ERASURE_UNCONFIRMED', 'The erasure confirmation is missing, wrong or expired; request a new one', {
        logDetail: { tenantId, pending: pending !== undefined },
      });
    }
    return this.erase(tenantId, actor, 'api');
  }

  /**
   * Erases the tenant (the operator's `sealpost tenants erase`, or the owner's confirmed request).
   * Idempotent: on an erased tenant it destroys the root key again (a no-op once destroyed).
   */
  async erase(tenantId: string, actor: AuditActor, trigger: 'cli' | 'api'): Promise<ErasureResult> {
    const state = await this.repository.state(tenantId);
    if (!state) throw new SealpostError('SP_ERR_RESOURCE_NOT_FOUND', 'No such tenant', { logDetail: { tenantId } });
    refuseDeploymentTenant(tenantId, state.deployment);
    let erasedAt = state.erasedAt;
    if (erasedAt === null) {
      const at = this.now();
      const counts = await this.db.transaction().execute(async (tx) => {
        const switchedOff = await this.repository.markErased(tenantId, at, tx);
        if (!switchedOff) return undefined; // erased concurrently
        await this.audit(tx, {
          tenant: tenantId,
          actor,
          action: 'tenant.erased',
          resource: tenantId,
          details: {
            trigger,
            method: 'crypto-shredding',
            revoked_api_keys: switchedOff.revokedKeys,
            deleted_inboxes: switchedOff.deletedInboxes,
            disabled_destinations: switchedOff.disabledDestinations,
            stopped_deliveries: switchedOff.stoppedDeliveries,
            revoked_sessions: switchedOff.revokedSessions,
            removed_members: switchedOff.removedMembers,
            deleted_sso_domains: switchedOff.deletedSsoDomains,
            ended_staff_grants: switchedOff.endedStaffGrants,
          },
        });
        return switchedOff;
      });
      erasedAt = counts ? at : ((await this.repository.state(tenantId))?.erasedAt ?? at);
    }
    await this.tenantKeys.destroy(tenantId);
    this.forgetTenant(tenantId);
    return { tenant: tenantId, erasedAt, alreadyErased: state.erasedAt !== null };
  }
}
