import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';

export type SessionMethod = 'password' | 'oidc' | 'saml';

export interface SessionRecord {
  readonly id: string;
  readonly tenantId: string;
  readonly operatorId: string;
  readonly method: SessionMethod;
  readonly secondFactorSatisfied: boolean;
  /**
   * The operator proved a factor the tenant policy no longer accepts (TOTP under `webauthn_only`):
   * the session may enrol an accepted factor, and nothing else.
   */
  readonly enrolmentOnly: boolean;
  readonly createdAt: number;
  readonly lastSeenAt: number;
  readonly revokedAt: number | null;
}

const COLUMNS = ['id', 'tenant_id', 'operator_id', 'method', 'second_factor_satisfied', 'created_at', 'last_seen_at', 'revoked_at'] as const;
type Row = Pick<Database['operator_sessions'], (typeof COLUMNS)[number]>;

function toRecord(row: Row): SessionRecord {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    operatorId: row.operator_id,
    method: row.method as SessionMethod,
    secondFactorSatisfied: row.second_factor_satisfied === 1,
    enrolmentOnly: row.second_factor_satisfied === 2,
    createdAt: row.created_at,
    lastSeenAt: row.last_seen_at,
    revokedAt: row.revoked_at,
  };
}

/** Operator sessions, by the SHA-256 of their token. Only `findByTokenHash` reads without a tenant: it is how the tenant is found. */
export class SessionRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(record: SessionRecord, tokenSha256: string, db: Kysely<Database> = this.db): Promise<void> {
    await db
      .insertInto('operator_sessions')
      .values({
        id: record.id,
        token_sha256: tokenSha256,
        tenant_id: record.tenantId,
        operator_id: record.operatorId,
        method: record.method,
        second_factor_satisfied: record.secondFactorSatisfied ? 1 : record.enrolmentOnly ? 2 : 0,
        created_at: record.createdAt,
        last_seen_at: record.lastSeenAt,
        revoked_at: null,
        webauthn_challenge: null,
      })
      .execute();
  }

  async findByTokenHash(tokenSha256: string): Promise<SessionRecord | undefined> {
    const row = await this.db.selectFrom('operator_sessions').select(COLUMNS).where('token_sha256', '=', tokenSha256).executeTakeFirst();
    return row && toRecord(row);
  }

  async touch(id: string, at: number): Promise<void> {
    await this.db.updateTable('operator_sessions').set({ last_seen_at: at }).where('id', '=', id).where('revoked_at', 'is', null).execute();
  }

  /** Replaces the token (rotation); with `state`, also records the second-factor step's outcome. */
  async rotate(tenantId: string, id: string, tokenSha256: string, at: number, state?: 'satisfied' | 'enrolment-only'): Promise<boolean> {
    const result = await this.db
      .updateTable('operator_sessions')
      .set({ token_sha256: tokenSha256, last_seen_at: at, webauthn_challenge: null, ...(state ? { second_factor_satisfied: state === 'satisfied' ? 1 : 2 } : {}) })
      .where('tenant_id', '=', tenantId)
      .where('id', '=', id)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async listActive(tenantId: string, operatorId: string, since: { idle: number; absolute: number }): Promise<SessionRecord[]> {
    const rows = await this.db
      .selectFrom('operator_sessions')
      .select(COLUMNS)
      .where('tenant_id', '=', tenantId)
      .where('operator_id', '=', operatorId)
      .where('revoked_at', 'is', null)
      .where('last_seen_at', '>', since.idle)
      .where('created_at', '>', since.absolute)
      .orderBy('created_at')
      .execute();
    return rows.map(toRecord);
  }

  async revoke(tenantId: string, operatorId: string, id: string, at: number, db: Kysely<Database> = this.db): Promise<boolean> {
    const result = await db
      .updateTable('operator_sessions')
      .set({ revoked_at: at })
      .where('tenant_id', '=', tenantId)
      .where('operator_id', '=', operatorId)
      .where('id', '=', id)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  /** Every live session of an operator in a tenant (member removed); returns how many. */
  async revokeAll(tenantId: string, operatorId: string, at: number, db: Kysely<Database> = this.db): Promise<number> {
    const result = await db
      .updateTable('operator_sessions')
      .set({ revoked_at: at })
      .where('tenant_id', '=', tenantId)
      .where('operator_id', '=', operatorId)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  /** Every live session of an operator in every tenant (password reset). */
  async revokeEverywhere(operatorId: string, at: number, db: Kysely<Database> = this.db): Promise<void> {
    await db.updateTable('operator_sessions').set({ revoked_at: at }).where('operator_id', '=', operatorId).where('revoked_at', 'is', null).execute();
  }

  async setChallenge(tenantId: string, id: string, challenge: string | null): Promise<void> {
    await this.db.updateTable('operator_sessions').set({ webauthn_challenge: challenge }).where('tenant_id', '=', tenantId).where('id', '=', id).execute();
  }

  /** Takes the pending challenge (a challenge answers one ceremony only). */
  async takeChallenge(tenantId: string, id: string): Promise<string | null> {
    const row = await this.db.selectFrom('operator_sessions').select('webauthn_challenge').where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
    await this.setChallenge(tenantId, id, null);
    return row?.webauthn_challenge ?? null;
  }
}
