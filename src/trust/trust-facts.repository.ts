import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

export interface SigningKeySummary {
  /** Active per-tenant signing keys. */
  readonly active: number;
  /** Activation of the oldest active key: the next one due for replacement. */
  readonly oldestActivatedAt: number | null;
  /** Activation of the newest key: the last rotation (or first key). */
  readonly newestActivatedAt: number | null;
}

/**
 * Aggregates for the public trust page, across the deployment: counts and dates only, never a
 * tenant id, key id or row of a tenant, so nothing here can tell one tenant about another.
 */
export class TrustFactsRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async signingKeys(): Promise<SigningKeySummary> {
    const row = await this.db
      .selectFrom('signing_keys')
      .select((eb) => [eb.fn.countAll<number | string>().as('active'), eb.fn.min('activated_at').as('oldest'), eb.fn.max('activated_at').as('newest')])
      .where('state', '=', 'active')
      .where('tenant_id', 'is not', null)
      .executeTakeFirstOrThrow();
    const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
    return { active: Number(row.active), oldestActivatedAt: num(row.oldest), newestActivatedAt: num(row.newest) };
  }

  /** The newest master key version of the local keyring (none with AWS KMS). */
  async latestKekVersion(): Promise<{ version: number; createdAt: number } | undefined> {
    const row = await this.db.selectFrom('kek_versions').select(['version', 'created_at']).orderBy('version', 'desc').limit(1).executeTakeFirst();
    return row && { version: Number(row.version), createdAt: Number(row.created_at) };
  }

  /** Events appended to the audit log so far. */
  async auditLogSize(): Promise<number> {
    const row = await this.db.selectFrom('audit_log_head').select('size').where('id', '=', 1).executeTakeFirst();
    return Number(row?.size ?? 0);
  }
}
