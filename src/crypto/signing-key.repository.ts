import type { Kysely, Selectable } from 'kysely';
import type { Database, SigningKeysTable } from '../db/schema.js';
import { isUniqueViolation } from '../db/unique-violation.js';
import type { SigningKeyRecord } from './signing-key.js';
import type { PreparedWrite } from '../db/prepared-write.js';

/** A new key of one tenant as inserted: active from `activatedAt`. */
export interface NewSigningKey {
  readonly kid: string;
  readonly tenantId: string;
  readonly publicKey: Buffer;
  readonly privateKeySealed: Buffer;
  readonly createdAt: number;
  readonly activatedAt: number;
  readonly notBefore: number;
}

/** Written in the same transaction as a key change (its audit event), so both commit or neither. */
/** The key change's audit event, written in its transaction. */
export type KeyChangeWrite = PreparedWrite;

const PUBLIC_COLUMNS = ['kid', 'tenant_id', 'public_key', 'state', 'created_at', 'activated_at', 'not_before', 'replaced_at', 'expires_at', 'retired_at'] as const;

function toRecord(row: Pick<Selectable<SigningKeysTable>, (typeof PUBLIC_COLUMNS)[number]>): SigningKeyRecord {
  return {
    kid: row.kid,
    tenantId: row.tenant_id,
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
    tenant_id: key.tenantId,
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
 * The Ed25519 signing keys (DESIGN §6), one set per tenant, and the legacy deployment-wide keys
 * (`tenant_id` NULL) that signed before per-tenant keys and only stay published. Every read of a
 * tenant's keys takes the tenant id. The private half is selected only where the active key is
 * loaded to sign. Every change is conditional on the state it starts from, and a unique partial
 * index allows one active key per tenant, so processes racing to create or rotate agree on one.
 */
export class SigningKeyRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async findActive(tenantId: string): Promise<SigningKeyRecord | undefined> {
    const row = await this.db.selectFrom('signing_keys').select(PUBLIC_COLUMNS).where('tenant_id', '=', tenantId).where('state', '=', 'active').executeTakeFirst();
    return row && toRecord(row);
  }

  async findActiveWithPrivateKey(tenantId: string): Promise<(SigningKeyRecord & { privateKeySealed: Buffer }) | undefined> {
    const row = await this.db
      .selectFrom('signing_keys')
      .select([...PUBLIC_COLUMNS, 'private_key_sealed'])
      .where('tenant_id', '=', tenantId)
      .where('state', '=', 'active')
      .executeTakeFirst();
    if (!row || row.private_key_sealed === null) return undefined;
    return { ...toRecord(row), privateKeySealed: Buffer.from(row.private_key_sealed) };
  }

  /** One tenant's keys, in any state: public halves and dates only. */
  async listForTenant(tenantId: string): Promise<SigningKeyRecord[]> {
    const rows = await this.db.selectFrom('signing_keys').select(PUBLIC_COLUMNS).where('tenant_id', '=', tenantId).orderBy('activated_at').orderBy('kid').execute();
    return rows.map(toRecord);
  }

  /** The legacy deployment-wide keys (before per-tenant keys): public halves and dates only. */
  async listLegacy(): Promise<SigningKeyRecord[]> {
    const rows = await this.db.selectFrom('signing_keys').select(PUBLIC_COLUMNS).where('tenant_id', 'is', null).orderBy('activated_at').orderBy('kid').execute();
    return rows.map(toRecord);
  }

  /** Every key of every tenant, legacy ones included (operators' `sealpost keys status`). */
  async listAll(): Promise<SigningKeyRecord[]> {
    const rows = await this.db.selectFrom('signing_keys').select(PUBLIC_COLUMNS).orderBy('tenant_id').orderBy('activated_at').orderBy('kid').execute();
    return rows.map(toRecord);
  }

  /**
   * The tenants whose active key was activated at or before `activatedBefore` (due for
   * replacement). Erased tenants are left out: their keys can no longer be sealed, and their
   * public keys stay published as they are, so their receipts keep verifying.
   */
  async tenantsDueForRotation(activatedBefore: number): Promise<string[]> {
    const rows = await this.db
      .selectFrom('signing_keys')
      .select('tenant_id')
      .where('state', '=', 'active')
      .where('tenant_id', 'is not', null)
      .where('activated_at', '<=', activatedBefore)
      .where((eb) => eb.not(eb.exists(eb.selectFrom('tenants').select('tenants.id').whereRef('tenants.id', '=', 'signing_keys.tenant_id').where('tenants.erased_at', 'is not', null))))
      .orderBy('tenant_id')
      .execute();
    return rows.flatMap((r) => (r.tenant_id === null ? [] : [r.tenant_id]));
  }

  /** Whether the tenant exists (its public keys are served only then). */
  async tenantExists(tenantId: string): Promise<boolean> {
    return (await this.db.selectFrom('tenants').select('id').where('id', '=', tenantId).executeTakeFirst()) !== undefined;
  }

  /** Inserts a tenant's first key, and `write` with it; false when another process created one first. */
  async insertFirst(key: NewSigningKey, write: KeyChangeWrite): Promise<boolean> {
    try {
      await this.db.transaction().execute(async (tx) => {
        await tx.insertInto('signing_keys').values(insertRow(key)).execute();
        await write(tx);
      });
      return true;
    } catch (err) {
      if (isUniqueViolation(err)) return false;
      throw err;
    }
  }

  /**
   * Replaces `expectedKid` with `next` (a key of the same tenant) in one transaction, if
   * `expectedKid` is still that tenant's active key, and runs `write` in it. Of processes racing
   * to rotate the same key exactly one succeeds: on PostgreSQL the others' UPDATE waits for its
   * row lock and then finds the key no longer active; on SQLite the writers are serialised.
   * Returns false when another process rotated first.
   */
  async replaceActive(expectedKid: string, next: NewSigningKey, now: number, overlapMs: number, write: KeyChangeWrite): Promise<boolean> {
    try {
      return await this.db.transaction().execute(async (tx) => {
        const replaced = await tx
          .updateTable('signing_keys')
          .set({ state: 'replaced', replaced_at: now, expires_at: now + overlapMs })
          .where('kid', '=', expectedKid)
          .where('tenant_id', '=', next.tenantId)
          .where('state', '=', 'active')
          .executeTakeFirst();
        if (Number(replaced.numUpdatedRows) !== 1) return false;
        await tx.insertInto('signing_keys').values(insertRow(next)).execute();
        await write(tx);
        return true;
      });
    } catch (err) {
      if (isUniqueViolation(err)) return false;
      throw err;
    }
  }

  /**
   * Retires replaced keys of any tenant (legacy keys included) whose validity window ended
   * before `now`, and forgets their private halves: they never sign again. Returns those retired.
   */
  async retireExpired(now: number): Promise<{ kid: string; tenantId: string | null }[]> {
    const due = await this.db.selectFrom('signing_keys').select(['kid', 'tenant_id']).where('state', '=', 'replaced').where('expires_at', '<', now).execute();
    const retired: { kid: string; tenantId: string | null }[] = [];
    for (const { kid, tenant_id } of due) {
      const result = await this.db
        .updateTable('signing_keys')
        .set({ state: 'retired', retired_at: now, private_key_sealed: null })
        .where('kid', '=', kid)
        .where('state', '=', 'replaced')
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) === 1) retired.push({ kid, tenantId: tenant_id });
    }
    return retired;
  }
}
