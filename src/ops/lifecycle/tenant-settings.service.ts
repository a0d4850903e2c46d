import type { Kysely } from 'kysely';
import type { AuditActor } from '../../audit/audit-event.js';
import type { AuditRecorder } from '../../audit/audit-recorder.js';
import type { Database } from '../../db/schema.js';
import { SealpostError } from '../../errors/sealpost-error.js';
import { MIN_RETENTION_DAYS, PLAN_LIMITS } from '../../identity/plan-limits.js';
import type { Plan } from '../../identity/scopes.js';
import type { TenantSettingsRepository } from './tenant-settings.repository.js';

export interface TenantSettings {
  readonly id: string;
  readonly name: string;
  readonly plan: Plan;
  readonly retentionDays: number;
  readonly maxRetentionDays: number;
}

/** The tenant's own lifecycle settings (payload retention), from the API and the CLI. */
export class TenantSettingsService {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly repository: TenantSettingsRepository,
    private readonly audit: AuditRecorder,
  ) {}

  async get(tenantId: string): Promise<TenantSettings> {
    const row = await this.repository.find(tenantId);
    if (!row) throw new SealpostError('SP_ERR_RESOURCE_NOT_FOUND', 'No such tenant', { logDetail: { tenantId } });
    if (row.erasedAt !== null) throw new SealpostError('SP_ERR_TENANT_ERASED', 'This tenant has been erased');
    return { id: row.id, name: row.name, plan: row.plan, retentionDays: row.retentionDays, maxRetentionDays: PLAN_LIMITS[row.plan].maxRetentionDays };
  }

  /** Sets `retention_days` within [1, the plan's limit]; the change is audited with the old and new value. */
  async setRetention(tenantId: string, days: number, actor: AuditActor): Promise<TenantSettings> {
    const current = await this.get(tenantId);
    if (!Number.isInteger(days) || days < MIN_RETENTION_DAYS || days > current.maxRetentionDays) {
      throw new SealpostError(
        'SP_ERR_TENANT_RETENTION_INVALID',
        `retention_days must be a whole number from ${MIN_RETENTION_DAYS} to ${current.maxRetentionDays} on the ${current.plan} plan`,
      );
    }
    if (days === current.retentionDays) return current;
    await this.db.transaction().execute(async (tx) => {
      await this.repository.setRetention(tenantId, days, tx);
      await this.audit(tx, { tenant: tenantId, actor, action: 'tenant.retention_changed', resource: tenantId, details: { from_days: current.retentionDays, to_days: days } });
    });
    return { ...current, retentionDays: days };
  }
}
