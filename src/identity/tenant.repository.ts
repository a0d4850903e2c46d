import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import type { Plan } from './scopes.js';

export interface Tenant {
  readonly id: string;
  readonly name: string;
  readonly plan: Plan;
  readonly createdAt: number;
}

export interface TenantLifecycle {
  readonly plan: Plan;
  readonly retentionDays: number;
  readonly erasedAt: number | null;
}

export class TenantRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(tenant: Tenant, db: Kysely<Database> = this.db): Promise<void> {
    await db.insertInto('tenants').values({ id: tenant.id, name: tenant.name, plan: tenant.plan, created_at: tenant.createdAt }).execute();
  }

  async find(id: string): Promise<Tenant | undefined> {
    const row = await this.db.selectFrom('tenants').select(['id', 'name', 'plan', 'created_at']).where('id', '=', id).executeTakeFirst();
    return row && { id: row.id, name: row.name, plan: row.plan as Plan, createdAt: row.created_at };
  }

  /** Retention and erasure state; undefined if there is no such tenant. */
  async lifecycle(id: string): Promise<TenantLifecycle | undefined> {
    const row = await this.db.selectFrom('tenants').select(['plan', 'retention_days', 'erased_at']).where('id', '=', id).executeTakeFirst();
    return row && { plan: row.plan as Plan, retentionDays: row.retention_days, erasedAt: row.erased_at };
  }

  async list(): Promise<Tenant[]> {
    const rows = await this.db.selectFrom('tenants').select(['id', 'name', 'plan', 'created_at']).orderBy('id').execute();
    return rows.map((row) => ({ id: row.id, name: row.name, plan: row.plan as Plan, createdAt: row.created_at }));
  }
}
