import type { Kysely } from 'kysely';
import { withDatabaseLock, type DatabaseLockOptions } from '../db/database-lock.js';
import type { PreparedWrite } from '../db/prepared-write.js';
import type { Database } from '../db/schema.js';
import type { WrappedDataKey, KeyProviderName } from './key-provider.js';

export interface KekVersionRow {
  readonly kekRef: string;
  readonly version: number;
  readonly check: string;
  readonly createdAt: number;
}

/** The local keyring's versions as the database records them (`kek_versions`, migration 0014). */
export class KekVersionRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async list(): Promise<KekVersionRow[]> {
    const rows = await this.db.selectFrom('kek_versions').select(['kek_ref', 'version', 'check_value', 'created_at']).orderBy('version').execute();
    return rows.map((r) => ({ kekRef: r.kek_ref, version: Number(r.version), check: r.check_value, createdAt: Number(r.created_at) }));
  }

  /** Records versions (and, in the same transaction, what `audited` writes: the rotation's audit event). */
  async insert(rows: readonly KekVersionRow[], audited?: PreparedWrite): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      for (const row of rows) {
        await tx.insertInto('kek_versions').values({ kek_ref: row.kekRef, version: row.version, check_value: row.check, created_at: row.createdAt }).execute();
      }
      await audited?.(tx);
    });
  }

  /** One stored data key per master key that wrapped local ones: enough to prove a keyring can read them. */
  async sampleLocalDataKeys(): Promise<{ id: string; key: WrappedDataKey }[]> {
    const refs = await this.db.selectFrom('data_keys').select('kek_ref').where('provider', '=', 'local').groupBy('kek_ref').execute();
    const samples: { id: string; key: WrappedDataKey }[] = [];
    for (const { kek_ref } of refs) {
      const row = await this.db.selectFrom('data_keys').select(['id', 'provider', 'kek_ref', 'wrapped']).where('kek_ref', '=', kek_ref).limit(1).executeTakeFirst();
      if (row) samples.push({ id: row.id, key: { provider: row.provider as KeyProviderName, kekRef: row.kek_ref, wrapped: Buffer.from(row.wrapped) } });
    }
    return samples;
  }

  withLock<T>(name: string, options: DatabaseLockOptions, work: () => Promise<T>): ReturnType<typeof withDatabaseLock<T>> {
    return withDatabaseLock(this.db, name, options, work);
  }
}
