import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';
import type { Role } from '../permissions.js';

export interface Operator {
  readonly id: string;
  readonly email: string;
  readonly createdAt: number;
}

export interface Member {
  readonly operatorId: string;
  readonly email: string;
  readonly role: Role;
  readonly createdAt: number;
}

export type OneTimePurpose = 'setup' | 'reset';

export interface OneTimeToken {
  readonly id: string;
  readonly purpose: OneTimePurpose;
  readonly tenantId: string;
  readonly operatorId: string;
  readonly expiresAt: number;
  readonly usedAt: number | null;
}

/** E-mail addresses compare case-insensitively (the local part too: no one relies on case there). */
export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}

/**
 * Operators, their memberships and their one-time links. Operators are global (one person may
 * belong to several tenants); every read of a membership takes the tenant id.
 */
export class OperatorRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async insertOperator(operator: Operator, db: Kysely<Database> = this.db): Promise<void> {
    await db
      .insertInto('operators')
      .values({ id: operator.id, email: operator.email.trim(), email_normalized: normaliseEmail(operator.email), password_hash: null, created_at: operator.createdAt })
      .execute();
  }

  async findByEmail(email: string, db: Kysely<Database> = this.db): Promise<Operator | undefined> {
    const row = await db.selectFrom('operators').select(['id', 'email', 'created_at']).where('email_normalized', '=', normaliseEmail(email)).executeTakeFirst();
    return row && { id: row.id, email: row.email, createdAt: row.created_at };
  }

  /** The one query that selects the password hash. */
  async findForLogin(email: string): Promise<{ operator: Operator; passwordHash: string | null } | undefined> {
    const row = await this.db
      .selectFrom('operators')
      .select(['id', 'email', 'created_at', 'password_hash'])
      .where('email_normalized', '=', normaliseEmail(email))
      .executeTakeFirst();
    return row && { operator: { id: row.id, email: row.email, createdAt: row.created_at }, passwordHash: row.password_hash };
  }

  async setPasswordHash(operatorId: string, hash: string, db: Kysely<Database> = this.db): Promise<void> {
    await db.updateTable('operators').set({ password_hash: hash }).where('id', '=', operatorId).execute();
  }

  async addMember(tenantId: string, operatorId: string, role: Role, at: number, db: Kysely<Database> = this.db): Promise<void> {
    await db.insertInto('tenant_members').values({ tenant_id: tenantId, operator_id: operatorId, role, created_at: at }).execute();
  }

  async member(tenantId: string, operatorId: string, db: Kysely<Database> = this.db): Promise<Member | undefined> {
    const row = await db
      .selectFrom('tenant_members')
      .innerJoin('operators', 'operators.id', 'tenant_members.operator_id')
      .select(['tenant_members.operator_id', 'operators.email', 'tenant_members.role', 'tenant_members.created_at'])
      .where('tenant_members.tenant_id', '=', tenantId)
      .where('tenant_members.operator_id', '=', operatorId)
      .executeTakeFirst();
    return row && { operatorId: row.operator_id, email: row.email, role: row.role as Role, createdAt: row.created_at };
  }

  async members(tenantId: string, db: Kysely<Database> = this.db): Promise<Member[]> {
    const rows = await db
      .selectFrom('tenant_members')
      .innerJoin('operators', 'operators.id', 'tenant_members.operator_id')
      .select(['tenant_members.operator_id', 'operators.email', 'tenant_members.role', 'tenant_members.created_at'])
      .where('tenant_members.tenant_id', '=', tenantId)
      .orderBy('tenant_members.created_at')
      .orderBy('tenant_members.operator_id')
      .execute();
    return rows.map((row) => ({ operatorId: row.operator_id, email: row.email, role: row.role as Role, createdAt: row.created_at }));
  }

  /** The tenants an operator belongs to, oldest membership first. */
  async tenantsOf(operatorId: string): Promise<string[]> {
    const rows = await this.db.selectFrom('tenant_members').select('tenant_id').where('operator_id', '=', operatorId).orderBy('created_at').orderBy('tenant_id').execute();
    return rows.map((r) => r.tenant_id);
  }

  async setRole(tenantId: string, operatorId: string, role: Role, db: Kysely<Database> = this.db): Promise<void> {
    await db.updateTable('tenant_members').set({ role }).where('tenant_id', '=', tenantId).where('operator_id', '=', operatorId).execute();
  }

  async removeMember(tenantId: string, operatorId: string, db: Kysely<Database> = this.db): Promise<void> {
    await db.deleteFrom('tenant_members').where('tenant_id', '=', tenantId).where('operator_id', '=', operatorId).execute();
  }

  async countOwners(tenantId: string, db: Kysely<Database> = this.db): Promise<number> {
    const row = await db
      .selectFrom('tenant_members')
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .where('tenant_id', '=', tenantId)
      .where('role', '=', 'owner')
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async insertToken(token: OneTimeToken, tokenSha256: string, createdAt: number, db: Kysely<Database> = this.db): Promise<void> {
    await db
      .insertInto('operator_tokens')
      .values({
        id: token.id,
        token_sha256: tokenSha256,
        purpose: token.purpose,
        tenant_id: token.tenantId,
        operator_id: token.operatorId,
        created_at: createdAt,
        expires_at: token.expiresAt,
        used_at: null,
      })
      .execute();
  }

  async findToken(tokenSha256: string): Promise<OneTimeToken | undefined> {
    const row = await this.db
      .selectFrom('operator_tokens')
      .select(['id', 'purpose', 'tenant_id', 'operator_id', 'expires_at', 'used_at'])
      .where('token_sha256', '=', tokenSha256)
      .executeTakeFirst();
    return row && { id: row.id, purpose: row.purpose as OneTimePurpose, tenantId: row.tenant_id, operatorId: row.operator_id, expiresAt: row.expires_at, usedAt: row.used_at };
  }

  /** Marks a link used; false if it already was (two requests racing with the same link: one wins). */
  async useToken(id: string, at: number, db: Kysely<Database> = this.db): Promise<boolean> {
    const result = await db.updateTable('operator_tokens').set({ used_at: at }).where('id', '=', id).where('used_at', 'is', null).executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  /** Voids every unused link of an operator (after a password is set, or on removal). */
  async voidTokens(operatorId: string, at: number, db: Kysely<Database> = this.db): Promise<void> {
    await db.updateTable('operator_tokens').set({ used_at: at }).where('operator_id', '=', operatorId).where('used_at', 'is', null).execute();
  }
}
