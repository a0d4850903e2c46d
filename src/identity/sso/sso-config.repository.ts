import type { Kysely } from 'kysely';
import type { RecordCipher, RecordContext } from '../../crypto/record-cipher.js';
import type { PreparedWrite } from '../../db/prepared-write.js';
import type { Database } from '../../db/schema.js';

export interface OidcSettings {
  /** The issuer identifier; discovery reads `<issuer>/.well-known/openid-configuration` and the answer must name the same issuer. */
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly scopes: readonly string[];
  /** `amr` / `acr` values that count as multi-factor (mfa-rule.ts). */
  readonly mfaAmr: readonly string[];
  readonly mfaAcr: readonly string[];
}

export interface SamlSettings {
  readonly idpEntityId: string;
  readonly idpSsoUrl: string;
  /** PEM certificates whose keys may sign assertions (several during an IdP's key rollover). */
  readonly idpCertificates: readonly string[];
  /** Our entity id at this IdP: the audience every assertion must name. */
  readonly spEntityId: string;
  /** AuthnContextClassRef values that count as multi-factor. */
  readonly mfaAuthnContexts: readonly string[];
}

export interface StoredSetting<T> {
  readonly settings: T;
  readonly createdAt: number;
  readonly updatedAt: number;
}

type Table = 'sso_oidc_configs' | 'sso_saml_configs';

const contextOf = (table: Table, tenantId: string): RecordContext => ({ tenant: tenantId, table, id: tenantId, field: 'settings' });

/**
 * A tenant's OIDC and SAML settings, each sealed whole under the record cipher and bound to the
 * tenant (migration 0015 says why). Every method takes the tenant id.
 */
export class SsoConfigRepository {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly cipher: RecordCipher,
  ) {}

  getOidc(tenantId: string): Promise<StoredSetting<OidcSettings> | undefined> {
    return this.get<OidcSettings>('sso_oidc_configs', tenantId);
  }

  getSaml(tenantId: string): Promise<StoredSetting<SamlSettings> | undefined> {
    return this.get<SamlSettings>('sso_saml_configs', tenantId);
  }

  /** Creates or replaces; `alongside` (the audit event) commits with it. Returns whether it replaced one. */
  putOidc(tenantId: string, settings: OidcSettings, now: number, alongside: (replaced: boolean) => PreparedWrite): Promise<boolean> {
    return this.put('sso_oidc_configs', tenantId, settings, now, alongside);
  }

  putSaml(tenantId: string, settings: SamlSettings, now: number, alongside: (replaced: boolean) => PreparedWrite): Promise<boolean> {
    return this.put('sso_saml_configs', tenantId, settings, now, alongside);
  }

  /** False when the tenant had none. */
  deleteOidc(tenantId: string, alongside: PreparedWrite): Promise<boolean> {
    return this.delete('sso_oidc_configs', tenantId, alongside);
  }

  deleteSaml(tenantId: string, alongside: PreparedWrite): Promise<boolean> {
    return this.delete('sso_saml_configs', tenantId, alongside);
  }

  private async get<T>(table: Table, tenantId: string): Promise<StoredSetting<T> | undefined> {
    const row = await this.db.selectFrom(table).select(['settings_sealed', 'created_at', 'updated_at']).where('tenant_id', '=', tenantId).executeTakeFirst();
    if (!row) return undefined;
    const settings = await this.cipher.decryptJson<T>(Buffer.from(row.settings_sealed), contextOf(table, tenantId));
    return { settings, createdAt: Number(row.created_at), updatedAt: Number(row.updated_at) };
  }

  private async put(table: Table, tenantId: string, settings: object, now: number, alongside: (replaced: boolean) => PreparedWrite): Promise<boolean> {
    // Sealed before the transaction: the cipher may use the database (record-cipher.ts).
    const sealed = await this.cipher.encryptJson(settings, contextOf(table, tenantId));
    return this.db.transaction().execute(async (tx) => {
      const updated = await tx.updateTable(table).set({ settings_sealed: sealed, updated_at: now }).where('tenant_id', '=', tenantId).executeTakeFirst();
      const replaced = Number(updated.numUpdatedRows) > 0;
      if (!replaced) await tx.insertInto(table).values({ tenant_id: tenantId, settings_sealed: sealed, created_at: now, updated_at: now }).execute();
      await alongside(replaced)(tx);
      return replaced;
    });
  }

  private async delete(table: Table, tenantId: string, alongside: PreparedWrite): Promise<boolean> {
    return this.db.transaction().execute(async (tx) => {
      const result = await tx.deleteFrom(table).where('tenant_id', '=', tenantId).executeTakeFirst();
      if (Number(result.numDeletedRows) === 0) return false;
      await alongside(tx);
      return true;
    });
  }
}
