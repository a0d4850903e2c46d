import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';
import type { Plan } from '../../identity/scopes.js';

export class TenantSettingsRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async find(tenantId: string): Promise<{ id: string; name: string; plan: Plan; retentionDays: number; erasedAt: number | null } | undefined> {
    const row = await this.db.selectFrom('tenants').select(['id', 'name', 'plan', 'retention_days', 'erased_at']).where('id', '=', tenantId).executeTakeFirst();
    return row && { id: row.id, name: row.name, plan: row.plan as Plan, retentionDays: row.retention_days, erasedAt: row.erased_at };
  }

  async setRetention(tenantId: string, days: number, db: Kysely<Database> = this.db): Promise<void> {
    await db.updateTable('tenants').set({ retention_days: days }).where('id', '=', tenantId).where('erased_at', 'is', null).execute();
  }
}
