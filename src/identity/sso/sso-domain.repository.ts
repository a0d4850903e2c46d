import type { Kysely } from 'kysely';
import type { PreparedWrite } from '../../db/prepared-write.js';
import type { Database } from '../../db/schema.js';

export interface SsoDomain {
  readonly domain: string;
  /** The value the TXT record at `_sealpost-verify.<domain>` must carry. */
  readonly verificationToken: string;
  readonly createdAt: number;
  readonly verifiedAt: number | null;
}

const COLUMNS = ['domain', 'verification_token', 'created_at', 'verified_at'] as const;

function toDomain(row: { domain: string; verification_token: string; created_at: number; verified_at: number | null }): SsoDomain {
  return { domain: row.domain, verificationToken: row.verification_token, createdAt: Number(row.created_at), verifiedAt: row.verified_at === null ? null : Number(row.verified_at) };
}

/** The e-mail domains a tenant claims for SSO. Every method takes the tenant id. */
export class SsoDomainRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async list(tenantId: string): Promise<SsoDomain[]> {
    const rows = await this.db.selectFrom('sso_domains').select(COLUMNS).where('tenant_id', '=', tenantId).orderBy('domain').execute();
    return rows.map(toDomain);
  }

  async find(tenantId: string, domain: string): Promise<SsoDomain | undefined> {
    const row = await this.db.selectFrom('sso_domains').select(COLUMNS).where('tenant_id', '=', tenantId).where('domain', '=', domain).executeTakeFirst();
    return row && toDomain(row);
  }

  async count(tenantId: string): Promise<number> {
    const row = await this.db
      .selectFrom('sso_domains')
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .where('tenant_id', '=', tenantId)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /** Inserts an unverified claim with `alongside` (its audit event); a unique violation means the tenant already claims it. */
  async insert(tenantId: string, domain: SsoDomain, alongside: PreparedWrite): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      await tx
        .insertInto('sso_domains')
        .values({ tenant_id: tenantId, domain: domain.domain, verification_token: domain.verificationToken, created_at: domain.createdAt, verified_at: null })
        .execute();
      await alongside(tx);
    });
  }

  /**
   * Marks the claim verified with `alongside`; a unique violation (index `sso_domains_verified_once`)
   * means another tenant verified the domain first. False when the tenant has no such claim.
   */
  async markVerified(tenantId: string, domain: string, now: number, alongside: PreparedWrite): Promise<boolean> {
    return this.db.transaction().execute(async (tx) => {
      const result = await tx
        .updateTable('sso_domains')
        .set({ verified_at: now })
        .where('tenant_id', '=', tenantId)
        .where('domain', '=', domain)
        .where('verified_at', 'is', null)
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) === 0) return false;
      await alongside(tx);
      return true;
    });
  }

  async delete(tenantId: string, domain: string, alongside: PreparedWrite): Promise<boolean> {
    return this.db.transaction().execute(async (tx) => {
      const result = await tx.deleteFrom('sso_domains').where('tenant_id', '=', tenantId).where('domain', '=', domain).executeTakeFirst();
      if (Number(result.numDeletedRows) === 0) return false;
      await alongside(tx);
      return true;
    });
  }

  /** True when the tenant has verified this domain: the only way an SSO login's e-mail is accepted. */
  async isVerified(tenantId: string, domain: string): Promise<boolean> {
    const row = await this.db
      .selectFrom('sso_domains')
      .select('domain')
      .where('tenant_id', '=', tenantId)
      .where('domain', '=', domain)
      .where('verified_at', 'is not', null)
      .executeTakeFirst();
    return row !== undefined;
  }
}
