import type { Kysely } from 'kysely';
import { ulid } from '../crypto/ulid.js';
import type { Database } from '../db/schema.js';
import type { ApiKeyService } from './api-key.service.js';
import type { Tenant, TenantRepository } from './tenant.repository.js';
import { SCOPES, type Plan } from './scopes.js';

export class TenantService {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly tenants: TenantRepository,
    private readonly keys: ApiKeyService,
    private readonly now: () => number = Date.now,
  ) {}

  /** Creates a tenant with a first API key holding every scope; both or neither are stored. */
  async create(name: string, plan: Plan): Promise<{ tenant: Tenant; apiKey: string }> {
    return this.db.transaction().execute(async (tx) => {
      const tenant: Tenant = { id: `ten_${ulid()}`, name, plan, createdAt: this.now() };
      await this.tenants.insert(tenant, tx);
      const issued = await this.keys.issue(tenant.id, { name: 'initial', scopes: SCOPES }, tx);
      return { tenant, apiKey: issued.token };
    });
  }
}
