import type { Kysely } from 'kysely';
import type { AuditActor } from '../../audit/audit-event.js';
import type { AuditRecorder } from '../../audit/audit-recorder.js';
import { newId } from '../../crypto/ids.js';
import type { Database } from '../../db/schema.js';
import { isUniqueViolation } from '../../db/unique-violation.js';
import type { Plan } from '../../identity/scopes.js';
import type { DeploymentTenantRepository } from './deployment-tenant.repository.js';

/** The deployment tenant's fixed name; what tells it apart is `tenants.kind = 'deployment'`, not this name (a customer may be called the same). */
export const DEPLOYMENT_TENANT_NAME = 'sealpost';
/** The highest plan: the deployment's own mail (bounty reports, status notices) must not meet a customer plan's limits. */
export const DEPLOYMENT_TENANT_PLAN: Plan = 'operation';
/** Who creates the deployment tenant: the process that starts first on an empty database. */
const START_ACTOR: AuditActor = { type: 'system', id: 'sealpost-start' };

/** The deployment's own tenant: the inbox of security@<inbound domain> and the sender of its status notices. */
export interface DeploymentTenant {
  readonly id: string;
  readonly name: string;
  readonly createdAt: number;
}

export interface EnsureDeploymentTenantDeps {
  readonly db: Kysely<Database>;
  readonly repository: DeploymentTenantRepository;
  /** Records `tenant.created` in the same transaction as the row. */
  readonly audit: AuditRecorder;
  readonly now?: () => number;
}

/**
 * Finds the deployment tenant, or creates it with its `tenant.created` event. Idempotent, and safe
 * when several processes start at once: the partial unique index of migration 0021 lets one insert
 * win and the others read the winner's row. It is created with no API key and no member, so no
 * operator can act for it; staff reach it only under a just-in-time grant (docs/deployment-tenant.md).
 */
export async function ensureDeploymentTenant(deps: EnsureDeploymentTenantDeps): Promise<DeploymentTenant> {
  const existing = await deps.repository.find();
  if (existing) return { id: existing.id, name: existing.name, createdAt: existing.createdAt };
  const tenant = { id: newId('tenant'), name: DEPLOYMENT_TENANT_NAME, plan: DEPLOYMENT_TENANT_PLAN, createdAt: (deps.now ?? Date.now)() };
  try {
    await deps.db.transaction().execute(async (tx) => {
      await deps.repository.insert(tenant, tx);
      await deps.audit(tx, { tenant: tenant.id, actor: START_ACTOR, action: 'tenant.created', resource: tenant.id, details: { plan: tenant.plan, kind: 'deployment' } });
    });
    return { id: tenant.id, name: tenant.name, createdAt: tenant.createdAt };
  } catch (err) {
    if (!isUniqueViolation(err)) throw err;
    const winner = await deps.repository.find();
    if (!winner) throw err;
    return { id: winner.id, name: winner.name, createdAt: winner.createdAt };
  }
}
