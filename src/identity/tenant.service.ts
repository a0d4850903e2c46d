import type { Kysely } from 'kysely';
import type { AuditActor } from '../audit/audit-event.js';
import type { AuditRecorder } from '../audit/audit-recorder.js';
import { newId } from '../crypto/ids.js';
import { SealpostError } from '../errors/sealpost-error.js';
import type { Database } from '../db/schema.js';
import type { ApiKeyService } from './api-key.service.js';
import type { Tenant, TenantRepository } from './tenant.repository.js';
import { SCOPES, type Plan } from './scopes.js';

/** Who creates a tenant when no one is named: the operator at the command line. */
export const CLI_TENANT_ACTOR: AuditActor = { type: 'system', id: 'sealpost-cli' };

export class TenantService {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly tenants: TenantRepository,
    private readonly keys: ApiKeyService,
    private readonly audit: AuditRecorder,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Creates a tenant with a first API key holding every scope; both or neither are stored,
   * together with their `tenant.created` and `api_key.created` audit events.
   */
  async create(name: string, plan: Plan, actor: AuditActor = CLI_TENANT_ACTOR): Promise<{ tenant: Tenant; apiKey: string }> {
    return this.db.transaction().execute(async (tx) => {
      const tenant: Tenant = { id: newId('tenant'), name, plan, createdAt: this.now(), kind: 'customer' };
      await this.tenants.insert(tenant, tx);
      await this.audit(tx, { tenant: tenant.id, actor, action: 'tenant.created', resource: tenant.id, details: { plan } });
      const issued = await this.keys.issue(tenant.id, { name: 'initial', scopes: SCOPES }, tx);
      await this.audit(tx, {
        tenant: tenant.id,
        actor,
        action: 'api_key.created',
        resource: issued.record.id,
        details: { prefix: issued.record.prefix, scopes: [...issued.record.scopes] },
      });
      return { tenant, apiKey: issued.token };
    });
  }

  /** Moves a tenant to another plan (the staff API), with its `plan.changed` event in the tenant's log. */
  async changePlan(id: string, plan: Plan, actor: AuditActor): Promise<Tenant> {
    const tenant = await this.tenants.find(id);
    if (!tenant) throw new SealpostError('SP_ERR_RESOURCE_NOT_FOUND', 'No such tenant');
    if (tenant.plan === plan) return tenant;
    await this.db.transaction().execute(async (tx) => {
      if (!(await this.tenants.setPlan(id, plan, tx))) throw new SealpostError('SP_ERR_RESOURCE_NOT_FOUND', 'No such tenant');
      await this.audit(tx, { tenant: id, actor, action: 'plan.changed', resource: id, details: { from: tenant.plan, to: plan } });
    });
    return { ...tenant, plan };
  }

  find(id: string): Promise<Tenant | undefined> {
    return this.tenants.find(id);
  }

  list(): Promise<Tenant[]> {
    return this.tenants.list();
  }
}
