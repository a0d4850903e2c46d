import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';
import type { Plan } from '../../identity/scopes.js';

export interface DeploymentTenantRow {
  readonly id: string;
  readonly name: string;
  readonly plan: Plan;
  readonly createdAt: number;
  readonly erasedAt: number | null;
}

/** The one `tenants` row of kind 'deployment' (migration 0021 allows at most one). */
export class DeploymentTenantRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async find(): Promise<DeploymentTenantRow | undefined> {
    const row = await this.db.selectFrom('tenants').select(['id', 'name', 'plan', 'created_at', 'erased_at']).where('kind', '=', 'deployment').executeTakeFirst();
    return row && { id: row.id, name: row.name, plan: row.plan as Plan, createdAt: row.created_at, erasedAt: row.erased_at };
  }

  async insert(tenant: { id: string; name: string; plan: Plan; createdAt: number }, db: Kysely<Database>): Promise<void> {
    await db.insertInto('tenants').values({ id: tenant.id, name: tenant.name, plan: tenant.plan, created_at: tenant.createdAt, kind: 'deployment' }).execute();
  }
}
