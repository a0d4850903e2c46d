import type { Kysely, Selectable } from 'kysely';
import type { Database, SigningKeysTable } from '../db/schema.js';
import { isUniqueViolation } from '../db/unique-violation.js';
import type { SigningKeyRecord } from './signing-key.js';

/** A new key as inserted: active from `activatedAt`. */
export interface NewSigningKey {
  readonly kid: string;
  readonly publicKey: Buffer;
  readonly privateKeySealed: Buffer;
  readonly createdAt: number;
  readonly activatedAt: number;
  readonly notBefore: number;
}

const PUBLIC_COLUMNS = ['kid', 'public_key', 'state', 'created_at', 'activated_at', 'not_before', 'replaced_at', 'expires_at', 'retired_at'] as const;

function toRecord(row: Pick<Selectable<SigningKeysTable>, (typeof PUBLIC_COLUMNS)[number]>): SigningKeyRecord {
  return {
    kid: row.kid,
    publicKey: Buffer.from(row.public_key),
    state: row.state,
    createdAt: row.created_at,
    activatedAt: row.activated_at,
    notBefore: row.not_before,
    replacedAt: row.replaced_at,
    expiresAt: row.expires_at,
    retiredAt: row.retired_at,
  };
}

function insertRow(key: NewSigningKey): SigningKeysTable {
  return {
    kid: key.kid,
    public_key: key.publicKey,
    private_key_sealed: key.privateKeySealed,
    state: 'active',
    created_at: key.createdAt,
    activated_at: key.activatedAt,
    not_before: key.notBefore,
    replaced_at: null,
    expires_at: null,
    retired_at: null,
  };
}

/**
 * The Ed25519 signing keys (DESIGN §6). The private half is selected only where the active key
 * is loaded to sign. Every change is conditional on the state it starts from, and a unique
 * partial index allows one active key, so processes racing to create or rotate agree on one.
 */
export class SigningKeyRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async findActive(): Promise<SigningKeyRecord | undefined> {
    const row = await this.db.selectFrom('signing_keys').select(PUBLIC_COLUMNS).where('state', '=', 'active').executeTakeFirst();
    return row && toRecord(row);
  }

  async findActiveWithPrivateKey(): Promise<(SigningKeyRecord & { privateKeySealed: Buffer }) | undefined> {
    const row = await this.db
      .selectFrom('signing_keys')
      .select([...PUBLIC_COLUMNS, 'private_key_sealed'])
      .where('state', '=', 'active')
      .executeTakeFirst();
    if (!row || row.private_key_sealed === null) return undefined;
    return { ...toRecord(row), privateKeySealed: Buffer.from(row.private_key_sealed) };
  }

  /** Every key, in any state: public halves and dates only. */
  async listAll(): Promise<SigningKeyRecord[]> {
    const rows = await this.db.selectFrom('signing_keys').select(PUBLIC_COLUMNS).orderBy('activated_at').orderBy('kid').execute();
    return rows.map(toRecord);
  }

  /** Inserts the first key; false when another process created one first. */
  async insertFirst(key: NewSigningKey): Promise<boolean> {
    try {
      await this.db.insertInto('signing_keys').values(insertRow(key)).execute();
      return true;
    } catch (err) {
      if (isUniqueViolation(err)) return false;
      throw err;
    }
  }

  /**
   * Replaces `expectedKid` with `next` in one transaction, if `expectedKid` is still the active
   * key. Of processes racing to rotate the same key exactly one succeeds: on PostgreSQL the
   * others' UPDATE waits for its row lock and then finds the key no longer active; on SQLite the
   * writers are serialised. Returns false when another process rotated first.
   */
  async replaceActive(expectedKid: string, next: NewSigningKey, now: number, overlapMs: number): Promise<boolean> {
    try {
      return await this.db.transaction().execute(async (tx) => {
        const replaced = await tx
          .updateTable('signing_keys')
          .set({ state: 'replaced', replaced_at: now, expires_at: now + overlapMs })
          .where('kid', '=', expectedKid)
          .where('state', '=', 'active')
          .executeTakeFirst();
        if (Number(replaced.numUpdatedRows) !== 1) return false;
        await tx.insertInto('signing_keys').values(insertRow(next)).execute();
        return true;
      });
    } catch (err) {
      if (isUniqueViolation(err)) return false;
      throw err;
    }
  }

  /**
   * Retires replaced keys whose validity window ended before `now` and forgets their private
   * halves: they never sign again. Returns the kids retired.
   */
  async retireExpired(now: number): Promise<string[]> {
    const due = await this.db.selectFrom('signing_keys').select('kid').where('state', '=', 'replaced').where('expires_at', '<', now).execute();
    const retired: string[] = [];
    for (const { kid } of due) {
      const result = await this.db
        .updateTable('signing_keys')
        .set({ state: 'retired', retired_at: now, private_key_sealed: null })
        .where('kid', '=', kid)
        .where('state', '=', 'replaced')
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) === 1) retired.push(kid);
    }
    return retired;
  }
}
