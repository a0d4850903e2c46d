import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

export interface StoredLogKey {
  readonly id: string;
  readonly name: string;
  readonly publicKey: Buffer;
}

/** The audit log's signing keys. The private half is selected only where a checkpoint is signed. */
export class LogKeyRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** Inserts `key` as the current key unless one exists already (another process won the race). */
  async insertCurrentIfAbsent(key: StoredLogKey & { privateKeySealed: Buffer; createdAt: number }): Promise<void> {
    await this.db
      .insertInto('audit_log_keys')
      .values({ id: key.id, name: key.name, public_key: key.publicKey, private_key_sealed: key.privateKeySealed, is_current: 1, created_at: key.createdAt })
      .onConflict((oc) => oc.column('is_current').doNothing())
      .execute();
  }

  async findCurrentWithPrivateKey(): Promise<(StoredLogKey & { privateKeySealed: Buffer }) | undefined> {
    const row = await this.db
      .selectFrom('audit_log_keys')
      .select(['id', 'name', 'public_key', 'private_key_sealed'])
      .where('is_current', '=', 1)
      .executeTakeFirst();
    return row && { id: row.id, name: row.name, publicKey: Buffer.from(row.public_key), privateKeySealed: Buffer.from(row.private_key_sealed) };
  }

  /** Every key, current and retired: checkpoints signed by any of them stay verifiable. */
  async listPublic(): Promise<StoredLogKey[]> {
    const rows = await this.db.selectFrom('audit_log_keys').select(['id', 'name', 'public_key']).orderBy('created_at').execute();
    return rows.map((r) => ({ id: r.id, name: r.name, publicKey: Buffer.from(r.public_key) }));
  }
}
