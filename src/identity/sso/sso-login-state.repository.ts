import type { Kysely } from 'kysely';
import type { RecordCipher, RecordContext } from '../../crypto/record-cipher.js';
import type { Database } from '../../db/schema.js';
import { isUniqueViolation } from '../../db/unique-violation.js';

/** What the callback needs to finish a login; sealed at rest. */
export interface LoginSecrets {
  readonly nonce: string;
  readonly codeVerifier: string;
}

export interface LoginState {
  readonly tenantId: string;
  readonly protocol: 'oidc';
  readonly browserSha256: string;
  readonly secrets: LoginSecrets;
  readonly expiresAt: number;
}

const secretsContext = (tenantId: string, stateSha256: string): RecordContext => ({ tenant: tenantId, table: 'sso_login_states', id: stateSha256, field: 'secrets' });

/**
 * One-time SSO login state (OIDC state, nonce, PKCE verifier) and the SAML assertion ids already
 * accepted. Looked up by the state's hash, which is unguessable; the tenant is in the row and the
 * caller checks it against the URL's.
 */
export class SsoLoginStateRepository {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly cipher: RecordCipher,
  ) {}

  async insert(stateSha256: string, state: LoginState, now: number): Promise<void> {
    const sealed = await this.cipher.encryptJson(state.secrets, secretsContext(state.tenantId, stateSha256));
    await this.db
      .insertInto('sso_login_states')
      .values({
        state_sha256: stateSha256,
        tenant_id: state.tenantId,
        protocol: state.protocol,
        browser_sha256: state.browserSha256,
        secrets_sealed: sealed,
        created_at: now,
        expires_at: state.expiresAt,
      })
      .execute();
    // Abandoned logins would otherwise pile up; each start sweeps the expired ones (indexed).
    await this.db.deleteFrom('sso_login_states').where('expires_at', '<=', now).execute();
  }

  /**
   * Removes and returns the state: a state is used at most once, whatever the outcome, so a
   * second callback with the same state (a replayed code) finds nothing. Expired states are
   * returned too; the caller refuses them.
   */
  async take(stateSha256: string): Promise<LoginState | undefined> {
    const row = await this.db
      .deleteFrom('sso_login_states')
      .where('state_sha256', '=', stateSha256)
      .returning(['tenant_id', 'protocol', 'browser_sha256', 'secrets_sealed', 'expires_at'])
      .executeTakeFirst();
    if (!row) return undefined;
    const secrets = await this.cipher.decryptJson<LoginSecrets>(Buffer.from(row.secrets_sealed), secretsContext(row.tenant_id, stateSha256));
    return { tenantId: row.tenant_id, protocol: row.protocol as 'oidc', browserSha256: row.browser_sha256, secrets, expiresAt: Number(row.expires_at) };
  }

  /**
   * Records a SAML assertion id as used until `expiresAt`; false when it was already recorded
   * for the tenant (a replay). Expired ids are swept first: after its NotOnOrAfter an assertion
   * is refused as expired anyway.
   */
  async rememberAssertion(tenantId: string, assertionId: string, expiresAt: number, now: number): Promise<boolean> {
    await this.db.deleteFrom('sso_saml_assertions').where('expires_at', '<=', now).execute();
    try {
      await this.db.insertInto('sso_saml_assertions').values({ tenant_id: tenantId, assertion_id: assertionId, expires_at: expiresAt }).execute();
      return true;
    } catch (err) {
      if (isUniqueViolation(err)) return false;
      throw err;
    }
  }
}
