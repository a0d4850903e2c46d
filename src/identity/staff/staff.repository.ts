import type { Kysely } from 'kysely';
import type { RecordCipher, RecordContext } from '../../crypto/record-cipher.js';
import type { Database } from '../../db/schema.js';

export interface StaffMember {
  readonly id: string;
  readonly email: string;
  readonly idpSubject: string | null;
  readonly createdAt: number;
  readonly disabledAt: number | null;
}

export interface StaffCredential {
  readonly id: string;
  readonly staffId: string;
  readonly publicKey: Buffer;
  readonly counter: number;
  readonly transports: readonly string[];
}

export interface StaffSessionRecord {
  readonly id: string;
  readonly staffId: string;
  readonly webauthnSatisfied: boolean;
  readonly createdAt: number;
  readonly lastSeenAt: number;
  readonly revokedAt: number | null;
}

export interface StaffLoginSecrets {
  readonly nonce: string;
  readonly codeVerifier: string;
}

const MEMBER_COLUMNS = ['id', 'email', 'idp_subject', 'created_at', 'disabled_at'] as const;
const SESSION_COLUMNS = ['id', 'staff_id', 'webauthn_satisfied', 'created_at', 'last_seen_at', 'revoked_at'] as const;

function toMember(row: Pick<Database['staff_members'], (typeof MEMBER_COLUMNS)[number]>): StaffMember {
  return { id: row.id, email: row.email, idpSubject: row.idp_subject, createdAt: Number(row.created_at), disabledAt: row.disabled_at === null ? null : Number(row.disabled_at) };
}

/** Login state is not a tenant's: its ciphertext is bound to the deployment instead. */
const loginContext = (stateSha256: string): RecordContext => ({ tenant: '-deployment-', table: 'staff_login_states', id: stateSha256, field: 'secrets' });

/**
 * Staff identities, their WebAuthn credentials, sessions and OIDC login states. Staff are the
 * deployment's, not a tenant's: nothing here is tenant data.
 */
export class StaffRepository {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly cipher: RecordCipher,
  ) {}

  async insertMember(member: StaffMember, enrolment: { codeSha256: string; expiresAt: number }, db: Kysely<Database> = this.db): Promise<void> {
    await db
      .insertInto('staff_members')
      .values({
        id: member.id,
        email: member.email,
        idp_subject: null,
        enrolment_code_sha256: enrolment.codeSha256,
        enrolment_expires_at: enrolment.expiresAt,
        created_at: member.createdAt,
        disabled_at: null,
      })
      .execute();
  }

  async memberByEmail(email: string): Promise<StaffMember | undefined> {
    const row = await this.db.selectFrom('staff_members').select(MEMBER_COLUMNS).where('email', '=', email).executeTakeFirst();
    return row && toMember(row);
  }

  async member(id: string): Promise<StaffMember | undefined> {
    const row = await this.db.selectFrom('staff_members').select(MEMBER_COLUMNS).where('id', '=', id).executeTakeFirst();
    return row && toMember(row);
  }

  async members(): Promise<StaffMember[]> {
    const rows = await this.db.selectFrom('staff_members').select(MEMBER_COLUMNS).orderBy('email').execute();
    return rows.map(toMember);
  }

  /** Offboarding: the staff member signs in no more and every session of theirs ends at once. */
  async disable(id: string, at: number, db: Kysely<Database>): Promise<boolean> {
    const result = await db.updateTable('staff_members').set({ disabled_at: at, enrolment_code_sha256: null }).where('id', '=', id).where('disabled_at', 'is', null).executeTakeFirst();
    await db.updateTable('staff_sessions').set({ revoked_at: at }).where('staff_id', '=', id).where('revoked_at', 'is', null).execute();
    return Number(result.numUpdatedRows) > 0;
  }

  /** Binds the IdP subject at first sign-in; false when another subject got there first. */
  async bindSubject(id: string, subject: string): Promise<boolean> {
    const result = await this.db.updateTable('staff_members').set({ idp_subject: subject }).where('id', '=', id).where('idp_subject', 'is', null).executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  /** Consumes the one-time enrolment code if it matches and has not expired. */
  async takeEnrolmentCode(id: string, codeSha256: string, now: number, db: Kysely<Database> = this.db): Promise<boolean> {
    const result = await db
      .updateTable('staff_members')
      .set({ enrolment_code_sha256: null, enrolment_expires_at: null })
      .where('id', '=', id)
      .where('enrolment_code_sha256', '=', codeSha256)
      .where('enrolment_expires_at', '>', now)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async credentials(staffId: string): Promise<StaffCredential[]> {
    const rows = await this.db.selectFrom('staff_credentials').select(['id', 'staff_id', 'public_key', 'counter', 'transports']).where('staff_id', '=', staffId).orderBy('created_at').execute();
    return rows.map((row) => ({ id: row.id, staffId: row.staff_id, publicKey: Buffer.from(row.public_key), counter: Number(row.counter), transports: JSON.parse(row.transports) as string[] }));
  }

  async addCredential(credential: StaffCredential, now: number, db: Kysely<Database> = this.db): Promise<void> {
    await db
      .insertInto('staff_credentials')
      .values({ id: credential.id, staff_id: credential.staffId, public_key: credential.publicKey, counter: credential.counter, transports: JSON.stringify(credential.transports), created_at: now, last_used_at: null })
      .execute();
  }

  async useCredential(staffId: string, id: string, counter: number, now: number): Promise<void> {
    await this.db.updateTable('staff_credentials').set({ counter, last_used_at: now }).where('staff_id', '=', staffId).where('id', '=', id).execute();
  }

  async insertSession(session: StaffSessionRecord, tokenSha256: string): Promise<void> {
    await this.db
      .insertInto('staff_sessions')
      .values({
        id: session.id,
        token_sha256: tokenSha256,
        staff_id: session.staffId,
        webauthn_satisfied: session.webauthnSatisfied ? 1 : 0,
        webauthn_challenge: null,
        created_at: session.createdAt,
        last_seen_at: session.lastSeenAt,
        revoked_at: null,
      })
      .execute();
  }

  async sessionByTokenHash(tokenSha256: string): Promise<StaffSessionRecord | undefined> {
    const row = await this.db.selectFrom('staff_sessions').select(SESSION_COLUMNS).where('token_sha256', '=', tokenSha256).executeTakeFirst();
    return (
      row && {
        id: row.id,
        staffId: row.staff_id,
        webauthnSatisfied: row.webauthn_satisfied === 1,
        createdAt: Number(row.created_at),
        lastSeenAt: Number(row.last_seen_at),
        revokedAt: row.revoked_at === null ? null : Number(row.revoked_at),
      }
    );
  }

  async touchSession(id: string, at: number): Promise<void> {
    await this.db.updateTable('staff_sessions').set({ last_seen_at: at }).where('id', '=', id).where('revoked_at', 'is', null).execute();
  }

  /** New token after the WebAuthn step: the OIDC-only token is worth nothing after it. */
  async satisfySession(id: string, tokenSha256: string, at: number): Promise<boolean> {
    const result = await this.db
      .updateTable('staff_sessions')
      .set({ token_sha256: tokenSha256, webauthn_satisfied: 1, webauthn_challenge: null, last_seen_at: at })
      .where('id', '=', id)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async revokeSession(id: string, at: number): Promise<void> {
    await this.db.updateTable('staff_sessions').set({ revoked_at: at }).where('id', '=', id).where('revoked_at', 'is', null).execute();
  }

  async setChallenge(sessionId: string, challenge: string): Promise<void> {
    await this.db.updateTable('staff_sessions').set({ webauthn_challenge: challenge }).where('id', '=', sessionId).execute();
  }

  /** Takes the pending challenge: a challenge answers one ceremony only. */
  async takeChallenge(sessionId: string): Promise<string | null> {
    const row = await this.db.selectFrom('staff_sessions').select('webauthn_challenge').where('id', '=', sessionId).executeTakeFirst();
    const challenge = row?.webauthn_challenge ?? null;
    if (challenge === null) return null;
    // Conditional on the value read: of two concurrent answers, only one takes it.
    const result = await this.db.updateTable('staff_sessions').set({ webauthn_challenge: null }).where('id', '=', sessionId).where('webauthn_challenge', '=', challenge).executeTakeFirst();
    return Number(result.numUpdatedRows) > 0 ? challenge : null;
  }

  async insertLoginState(stateSha256: string, browserSha256: string, secrets: StaffLoginSecrets, expiresAt: number, now: number): Promise<void> {
    const sealed = await this.cipher.encryptJson(secrets, loginContext(stateSha256));
    await this.db.insertInto('staff_login_states').values({ state_sha256: stateSha256, browser_sha256: browserSha256, secrets_sealed: sealed, expires_at: expiresAt }).execute();
    await this.db.deleteFrom('staff_login_states').where('expires_at', '<=', now).execute();
  }

  /** Removes and returns the state: used at most once, whatever the outcome. */
  async takeLoginState(stateSha256: string): Promise<{ browserSha256: string; secrets: StaffLoginSecrets; expiresAt: number } | undefined> {
    const row = await this.db.deleteFrom('staff_login_states').where('state_sha256', '=', stateSha256).returning(['browser_sha256', 'secrets_sealed', 'expires_at']).executeTakeFirst();
    if (!row) return undefined;
    const secrets = await this.cipher.decryptJson<StaffLoginSecrets>(Buffer.from(row.secrets_sealed), loginContext(stateSha256));
    return { browserSha256: row.browser_sha256, secrets, expiresAt: Number(row.expires_at) };
  }
}
