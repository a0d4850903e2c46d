import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import type { KeyProviderName, WrappedDataKey } from './key-provider.js';

export class DataKeyRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** `tenantId`: the tenant whose root key wrapped it, or null for a deployment key. */
  async insert(id: string, key: WrappedDataKey, createdAt: number, tenantId: string | null = null): Promise<void> {
    await this.db
      .insertInto('data_keys')
      // The column is named only when set, so the deployment's keys insert the same row before and after migration 0013.
      .values({ id, provider: key.provider, kek_ref: key.kekRef, wrapped: key.wrapped, created_at: createdAt, ...(tenantId === null ? {} : { tenant_id: tenantId }) })
      .execute();
  }

  async find(id: string): Promise<(WrappedDataKey & { readonly tenantId: string | null }) | undefined> {
    const row = await this.db.selectFrom('data_keys').select(['provider', 'kek_ref', 'wrapped', 'tenant_id']).where('id', '=', id).executeTakeFirst();
    return row && { provider: row.provider as KeyProviderName, kekRef: row.kek_ref, wrapped: Buffer.from(row.wrapped), tenantId: row.tenant_id };
  }

  async countByKek(): Promise<{ kekRef: string; count: number }[]> {
    const rows = await this.db
      .selectFrom('data_keys')
      .select((eb) => ['kek_ref', eb.fn.countAll<number>().as('count')])
      .groupBy('kek_ref')
      .orderBy('kek_ref')
      .execute();
    return rows.map((r) => ({ kekRef: r.kek_ref, count: Number(r.count) }));
  }
}
