import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import type { Plan } from './scopes.js';

/** A customer's tenant, or the deployment's own one (src/ops/deployment-tenant/, at most one). */
export type TenantKind = 'customer' | 'deployment';

export interface Tenant {
  readonly id: string;
  readonly name: string;
  readonly plan: Plan;
  readonly createdAt: number;
  readonly kind: TenantKind;
}

export interface TenantLifecycle {
  readonly plan: Plan;
  readonly retentionDays: number;
  readonly erasedAt: number | null;
}

function toTenant(row: { id: string; name: string; plan: string; created_at: number; kind: string }): Tenant {
  return { id: row.id, name: row.name, plan: row.plan as Plan, createdAt: row.created_at, kind: row.kind === 'deployment' ? 'deployment' : 'customer' };
}

export class TenantRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(tenant: Tenant, db: Kysely<Database> = this.db): Promise<void> {
    await db.insertInto('tenants').values({ id: tenant.id, name: tenant.name, plan: tenant.plan, created_at: tenant.createdAt }).execute();
  }

  async find(id: string): Promise<Tenant | undefined> {
    const row = await this.db.selectFrom('tenants').select(['id', 'name', 'plan', 'created_at', 'kind']).where('id', '=', id).executeTakeFirst();
    return row && toTenant(row);
  }

  /** Retention and erasure state; undefined if there is no such tenant. */
  async lifecycle(id: string): Promise<TenantLifecycle | undefined> {
    const row = await this.db.selectFrom('tenants').select(['plan', 'retention_days', 'erased_at']).where('id', '=', id).executeTakeFirst();
    return row && { plan: row.plan as Plan, retentionDays: row.retention_days, erasedAt: row.erased_at };
  }

  async setPlan(id: string, plan: Plan, db: Kysely<Database> = this.db): Promise<boolean> {
    const result = await db.updateTable('tenants').set({ plan }).where('id', '=', id).executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async list(): Promise<Tenant[]> {
    const rows = await this.db.selectFrom('tenants').select(['id', 'name', 'plan', 'created_at', 'kind']).orderBy('id').execute();
    return rows.map(toTenant);
  }
}
