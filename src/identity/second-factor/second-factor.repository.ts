import type { Kysely } from 'kysely';
import type { RecordCipher, RecordContext } from '../../crypto/record-cipher.js';
import type { Database } from '../../db/schema.js';

export interface WebauthnCredential {
  readonly id: string;
  readonly operatorId: string;
  readonly publicKey: Buffer;
  readonly counter: number;
  readonly transports: readonly string[];
  readonly createdAt: number;
  readonly lastUsedAt: number | null;
}

/** Operators are not tenant data: their secrets are bound to the operator, under the system tenant. */
function totpContext(operatorId: string): RecordContext {
  return { tenant: '_operators', table: 'operator_totp', id: operatorId, field: 'secret' };
}

/**
 * TOTP secrets (sealed with the record cipher here, so services see plain values), WebAuthn
 * credentials and hashed recovery codes. Every query takes the operator id.
 */
export class SecondFactorRepository {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly cipher: RecordCipher,
  ) {}

  /** Starts (or restarts) an unconfirmed enrolment; a confirmed secret is never replaced here. */
  async putPendingTotp(operatorId: string, secret: string, at: number): Promise<boolean> {
    const sealed = await this.cipher.encrypt(secret, totpContext(operatorId));
    return this.db.transaction().execute(async (tx) => {
      const existing = await tx.selectFrom('operator_totp').select('confirmed_at').where('operator_id', '=', operatorId).executeTakeFirst();
      if (existing?.confirmed_at != null) return false;
      if (existing) {
        await tx.updateTable('operator_totp').set({ secret_sealed: sealed, created_at: at, last_used_step: null }).where('operator_id', '=', operatorId).execute();
      } else {
        await tx.insertInto('operator_totp').values({ operator_id: operatorId, secret_sealed: sealed, last_used_step: null, confirmed_at: null, created_at: at }).execute();
      }
      return true;
    });
  }

  async totp(operatorId: string): Promise<{ secret: string; lastUsedStep: number | null; confirmed: boolean } | undefined> {
    const row = await this.db.selectFrom('operator_totp').select(['secret_sealed', 'last_used_step', 'confirmed_at']).where('operator_id', '=', operatorId).executeTakeFirst();
    if (!row) return undefined;
    const secret = (await this.cipher.decrypt(Buffer.from(row.secret_sealed), totpContext(operatorId))).toString('utf8');
    return { secret, lastUsedStep: row.last_used_step === null ? null : Number(row.last_used_step), confirmed: row.confirmed_at !== null };
  }

  /**
   * Records `step` as used, only if it is later than the last one used: of two requests with
   * the same code, exactly one succeeds (RFC 6238 §5.2: a code is accepted once).
   */
  async useTotpStep(operatorId: string, step: number, at: number, db: Kysely<Database> = this.db): Promise<boolean> {
    const result = await db
      .updateTable('operator_totp')
      .set({ last_used_step: step, confirmed_at: (eb) => eb.fn.coalesce('confirmed_at', eb.val(at)) })
      .where('operator_id', '=', operatorId)
      .where((eb) => eb.or([eb('last_used_step', 'is', null), eb('last_used_step', '<', step)]))
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async hasConfirmedTotp(operatorId: string): Promise<boolean> {
    const row = await this.db.selectFrom('operator_totp').select('operator_id').where('operator_id', '=', operatorId).where('confirmed_at', 'is not', null).executeTakeFirst();
    return row !== undefined;
  }

  async addCredential(credential: WebauthnCredential, db: Kysely<Database> = this.db): Promise<void> {
    await db
      .insertInto('operator_webauthn_credentials')
      .values({
        id: credential.id,
        operator_id: credential.operatorId,
        public_key: credential.publicKey,
        counter: credential.counter,
        transports: JSON.stringify(credential.transports),
        created_at: credential.createdAt,
        last_used_at: null,
      })
      .execute();
  }

  async credentials(operatorId: string): Promise<WebauthnCredential[]> {
    const rows = await this.db.selectFrom('operator_webauthn_credentials').selectAll().where('operator_id', '=', operatorId).orderBy('created_at').execute();
    return rows.map((row) => ({
      id: row.id,
      operatorId: row.operator_id,
      publicKey: Buffer.from(row.public_key),
      counter: Number(row.counter),
      transports: JSON.parse(row.transports) as string[],
      createdAt: row.created_at,
      lastUsedAt: row.last_used_at,
    }));
  }

  /** Moves the signature counter forward only (a cloned authenticator shows an old counter). */
  async useCredential(operatorId: string, id: string, counter: number, at: number): Promise<void> {
    await this.db
      .updateTable('operator_webauthn_credentials')
      .set({ counter, last_used_at: at })
      .where('operator_id', '=', operatorId)
      .where('id', '=', id)
      .execute();
  }

  /** Replaces every recovery code of the operator (the old ones stop working). */
  async replaceRecoveryCodes(operatorId: string, codeHashes: readonly string[], at: number, db: Kysely<Database> = this.db): Promise<void> {
    await db.deleteFrom('operator_recovery_codes').where('operator_id', '=', operatorId).execute();
    await db
      .insertInto('operator_recovery_codes')
      .values(codeHashes.map((code_sha256) => ({ code_sha256, operator_id: operatorId, created_at: at, used_at: null })))
      .execute();
  }

  async hasRecoveryCodes(operatorId: string): Promise<boolean> {
    const row = await this.db.selectFrom('operator_recovery_codes').select('code_sha256').where('operator_id', '=', operatorId).executeTakeFirst();
    return row !== undefined;
  }

  /** Spends a recovery code; false if unknown or already used. */
  async useRecoveryCode(operatorId: string, codeSha256: string, at: number): Promise<boolean> {
    const result = await this.db
      .updateTable('operator_recovery_codes')
      .set({ used_at: at })
      .where('operator_id', '=', operatorId)
      .where('code_sha256', '=', codeSha256)
      .where('used_at', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async unusedRecoveryCodes(operatorId: string): Promise<number> {
    const row = await this.db
      .selectFrom('operator_recovery_codes')
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .where('operator_id', '=', operatorId)
      .where('used_at', 'is', null)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }
}
