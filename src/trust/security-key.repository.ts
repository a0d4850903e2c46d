import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../db/schema.js';

export interface StoredSecurityKey {
  readonly id: string;
  readonly fingerprint: string;
  readonly userId: string;
  readonly algorithm: string;
  readonly source: 'created' | 'imported';
  readonly publicKeyArmored: string;
  readonly createdAt: number;
  readonly expiresAt: number | null;
}

const PUBLIC_COLUMNS = ['id', 'fingerprint', 'user_id', 'algorithm', 'source', 'public_key_armored', 'created_at', 'expires_at'] as const;

type PublicRow = Pick<Database['security_keys'], (typeof PUBLIC_COLUMNS)[number]>;

function toStored(row: PublicRow): StoredSecurityKey {
  return {
    id: row.id,
    fingerprint: row.fingerprint,
    userId: row.user_id,
    algorithm: row.algorithm,
    source: row.source,
    publicKeyArmored: row.public_key_armored,
    createdAt: Number(row.created_at),
    expiresAt: row.expires_at === null ? null : Number(row.expires_at),
  };
}

/** The deployment's security keys (not tenant data). The sealed private key is selected only where security.txt is signed. */
export class SecurityKeyRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async findCurrent(): Promise<StoredSecurityKey | undefined> {
    const row = await this.db.selectFrom('security_keys').select(PUBLIC_COLUMNS).where('is_current', '=', 1).executeTakeFirst();
    return row && toStored(row);
  }

  async findCurrentWithPrivateKey(): Promise<(StoredSecurityKey & { privateKeySealed: Buffer }) | undefined> {
    const row = await this.db
      .selectFrom('security_keys')
      .select([...PUBLIC_COLUMNS, 'private_key_sealed'])
      .where('is_current', '=', 1)
      .executeTakeFirst();
    return row && { ...toStored(row), privateKeySealed: Buffer.from(row.private_key_sealed) };
  }

  /** Every key, newest first, with when it was replaced (the evidence bundle's rotation history). */
  async listAll(): Promise<(StoredSecurityKey & { replacedAt: number | null })[]> {
    const rows = await this.db.selectFrom('security_keys').select([...PUBLIC_COLUMNS, 'replaced_at']).orderBy('created_at', 'desc').execute();
    return rows.map((row) => ({ ...toStored(row), replacedAt: row.replaced_at === null ? null : Number(row.replaced_at) }));
  }

  /** Marks the current key replaced (if any) and inserts `key` as current, in the caller's transaction. */
  async replaceCurrent(tx: Transaction<Database>, key: StoredSecurityKey & { privateKeySealed: Buffer }, now: number): Promise<string | undefined> {
    const previous = await tx.selectFrom('security_keys').select('id').where('is_current', '=', 1).executeTakeFirst();
    if (previous) await tx.updateTable('security_keys').set({ is_current: null, replaced_at: now }).where('id', '=', previous.id).execute();
    await tx
      .insertInto('security_keys')
      .values({
        id: key.id,
        fingerprint: key.fingerprint,
        user_id: key.userId,
        algorithm: key.algorithm,
        source: key.source,
        public_key_armored: key.publicKeyArmored,
        private_key_sealed: key.privateKeySealed,
        is_current: 1,
        created_at: key.createdAt,
        expires_at: key.expiresAt,
        replaced_at: null,
      })
      .execute();
    return previous?.id;
  }
}
