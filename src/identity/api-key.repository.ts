import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import type { Scope } from './scopes.js';

export interface ApiKeyRecord {
  readonly id: string;
  readonly tenantId: string;
  readonly prefix: string;
  readonly name: string;
  readonly scopes: readonly Scope[];
  readonly createdAt: number;
  readonly expiresAt: number | null;
  readonly revokedAt: number | null;
  readonly lastUsedAt: number | null;
  readonly rotatedFrom: string | null;
  /** The operator who created it (a rotation keeps it); null for the CLI, another key, or the tenant. */
  readonly createdBy: string | null;
}

const PUBLIC_COLUMNS = ['id', 'tenant_id', 'prefix', 'name', 'scopes', 'created_at', 'expires_at', 'revoked_at', 'last_used_at', 'rotated_from', 'created_by'] as const;

type Row = Pick<Database['api_keys'], (typeof PUBLIC_COLUMNS)[number]>;

function toRecord(row: Row): ApiKeyRecord {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    prefix: row.prefix,
    name: row.name,
    scopes: JSON.parse(row.scopes) as Scope[],
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
    lastUsedAt: row.last_used_at,
    rotatedFrom: row.rotated_from,
    createdBy: row.created_by,
  };
}

/** API keys. Every read of tenant data takes the tenant id; only `findForAuthentication` does not, since it is how the tenant is found. */
export class ApiKeyRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(record: ApiKeyRecord, secretHash: Buffer, db: Kysely<Database> = this.db): Promise<void> {
    await db
      .insertInto('api_keys')
      .values({
        id: record.id,
        tenant_id: record.tenantId,
        prefix: record.prefix,
        secret_hash: secretHash,
        name: record.name,
        scopes: JSON.stringify(record.scopes),
        created_at: record.createdAt,
        expires_at: record.expiresAt,
        revoked_at: record.revokedAt,
        last_used_at: record.lastUsedAt,
        rotated_from: record.rotatedFrom,
        created_by: record.createdBy,
      })
      .execute();
  }

  /** The one query that selects the secret hash. */
  /** With whether the key's tenant was erased, so a key of an erased tenant gets that answer. */
  async findForAuthentication(prefix: string): Promise<{ record: ApiKeyRecord; secretHash: Buffer; tenantErased: boolean } | undefined> {
    // Plain SQL: every API call runs it, and Kysely's query building cost more than the lookup.
    const { rows } = await sql<Row & { secret_hash: Buffer; tenant_erased_at: number | null }>`select
      id, tenant_id, prefix, name, scopes, created_at, expires_at, revoked_at, last_used_at, rotated_from, created_by, secret_hash,
      (select erased_at from tenants where tenants.id = api_keys.tenant_id) as tenant_erased_at
      from api_keys where prefix = ${prefix}`.execute(this.db);
    const row = rows[0];
    return row && { record: toRecord(row), secretHash: Buffer.from(row.secret_hash), tenantErased: row.tenant_erased_at !== null };
  }

  async find(tenantId: string, id: string): Promise<ApiKeyRecord | undefined> {
    const row = await this.db.selectFrom('api_keys').select(PUBLIC_COLUMNS).where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
    return row && toRecord(row);
  }

  async list(tenantId: string): Promise<ApiKeyRecord[]> {
    const rows = await this.db.selectFrom('api_keys').select(PUBLIC_COLUMNS).where('tenant_id', '=', tenantId).orderBy('id').execute();
    return rows.map(toRecord);
  }

  async revoke(tenantId: string, id: string, at: number, db: Kysely<Database> = this.db): Promise<boolean> {
    const result = await db
      .updateTable('api_keys')
      .set({ revoked_at: at })
      .where('tenant_id', '=', tenantId)
      .where('id', '=', id)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  /** Shortens (never lengthens) a key's life, for rotation overlaps. */
  async expireBy(tenantId: string, id: string, at: number, db: Kysely<Database> = this.db): Promise<void> {
    await db
      .updateTable('api_keys')
      .set({ expires_at: at })
      .where('tenant_id', '=', tenantId)
      .where('id', '=', id)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', at)]))
      .execute();
  }

  /** The live keys an operator created in a tenant (member removal). */
  async liveCreatedBy(tenantId: string, operatorId: string, now: number, db: Kysely<Database> = this.db): Promise<ApiKeyRecord[]> {
    const rows = await db
      .selectFrom('api_keys')
      .select(PUBLIC_COLUMNS)
      .where('tenant_id', '=', tenantId)
      .where('created_by', '=', operatorId)
      .where('revoked_at', 'is', null)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
      .orderBy('id')
      .execute();
    return rows.map(toRecord);
  }

  /** Hands an operator's keys to the tenant: they keep working, owned by no person. */
  async handOver(tenantId: string, operatorId: string, db: Kysely<Database> = this.db): Promise<number> {
    const result = await db.updateTable('api_keys').set({ created_by: null }).where('tenant_id', '=', tenantId).where('created_by', '=', operatorId).executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  async touch(id: string, at: number): Promise<void> {
    await this.db.updateTable('api_keys').set({ last_used_at: at }).where('id', '=', id).execute();
  }
}
