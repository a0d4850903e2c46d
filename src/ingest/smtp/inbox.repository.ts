import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { RecordCipher, RecordContext } from '../../crypto/record-cipher.js';
import type { Database, InboxDmarcPolicy } from '../../db/schema.js';
import type { PreparedWrite } from '../../db/prepared-write.js';

export interface Inbox {
  readonly id: string;
  readonly tenantId: string;
  readonly token: string;
  readonly dmarcPolicy: InboxDmarcPolicy;
  readonly createdAt: number;
}

/**
 * The token is the inbox's whole credential: rows hold SHA-256 of it (the SMTP lookup; 80 random
 * bits, so a fast hash is enough, as for API keys) and the token sealed for showing the address.
 * Migration 0010 computes the same hash.
 */
export function inboxTokenSha256(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

const tokenContext = (tenant: string, id: string): RecordContext => ({ tenant, table: 'inboxes', id, field: 'token' });

const COLUMNS = ['id', 'tenant_id', 'token', 'token_sealed', 'dmarc_policy', 'created_at'] as const;

interface InboxRow {
  readonly id: string;
  readonly tenant_id: string;
  /** Plain only on a live inbox from before 0010 that has not been read since (see sealLegacyToken). */
  readonly token: string;
  readonly token_sealed: Buffer | Uint8Array | null;
  readonly dmarc_policy: InboxDmarcPolicy;
  readonly created_at: number;
}

/** Inboxes. Every read takes the tenant id, except the SMTP recipient lookup, which is by token. */
export class InboxRepository {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly cipher: RecordCipher,
  ) {}

  /** Inserts the inbox; `alongside` (its audit event) runs in the same transaction. */
  async insert(inbox: Inbox, alongside: PreparedWrite): Promise<void> {
    // Sealed before the transaction: the cipher may use the database (record-cipher.ts).
    const sealed = await this.cipher.encrypt(inbox.token, tokenContext(inbox.tenantId, inbox.id));
    await this.db.transaction().execute(async (tx) => {
      await tx
        .insertInto('inboxes')
        .values({
          id: inbox.id,
          tenant_id: inbox.tenantId,
          token: inbox.id,
          token_sha256: inboxTokenSha256(inbox.token),
          token_sealed: sealed,
          dmarc_policy: inbox.dmarcPolicy,
          created_at: inbox.createdAt,
          deleted_at: null,
        })
        .execute();
      await alongside(tx);
    });
  }

  async countActive(tenantId: string): Promise<number> {
    const row = await this.db
      .selectFrom('inboxes')
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .where('tenant_id', '=', tenantId)
      .where('deleted_at', 'is', null)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async listActive(tenantId: string): Promise<Inbox[]> {
    const rows = await this.db
      .selectFrom('inboxes')
      .select(COLUMNS)
      .where('tenant_id', '=', tenantId)
      .where('deleted_at', 'is', null)
      .orderBy('id')
      .execute();
    return Promise.all(rows.map(async (row) => this.toInbox(row, await this.tokenOf(row))));
  }

  /** Marks the inbox deleted, with `alongside` (its audit event) in the same transaction; false when the tenant has no such (live) inbox. */
  async softDelete(tenantId: string, id: string, now: number, alongside: PreparedWrite): Promise<boolean> {
    return this.db.transaction().execute(async (tx) => {
      const result = await tx
        .updateTable('inboxes')
        .set({ deleted_at: now, token: id })
        .where('tenant_id', '=', tenantId)
        .where('id', '=', id)
        .where('deleted_at', 'is', null)
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) === 0) return false;
      await alongside(tx);
      return true;
    });
  }

  /** The live inbox an SMTP recipient names; the token is the whole credential here. */
  async findActiveByToken(token: string): Promise<Inbox | undefined> {
    const row = await this.db
      .selectFrom('inboxes')
      .select(COLUMNS)
      .where('token_sha256', '=', inboxTokenSha256(token))
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
    if (!row) return undefined;
    if (!row.token_sealed) await this.sealLegacyToken(row);
    return this.toInbox(row, token);
  }

  /**
   * Seals every live inbox token still plain since migration 0010 (which has no cipher), so none
   * waits for its first read; run at start. Safe in many processes at once. Returns the count.
   */
  async sealLegacyTokens(): Promise<number> {
    const rows = await this.db.selectFrom('inboxes').select(COLUMNS).where('token_sealed', 'is', null).where('deleted_at', 'is', null).execute();
    for (const row of rows) await this.sealLegacyToken(row);
    return rows.length;
  }

  private async tokenOf(row: InboxRow): Promise<string> {
    if (!row.token_sealed) return this.sealLegacyToken(row);
    return (await this.cipher.decrypt(Buffer.from(row.token_sealed), tokenContext(row.tenant_id, row.id))).toString('utf8');
  }

  /**
   * A live inbox migrated by 0010 still holds its plain token (a migration has no cipher): sealed
   * the first time it is read, and the plain column blanked to the row id. Returns the token.
   */
  private async sealLegacyToken(row: InboxRow): Promise<string> {
    const sealed = await this.cipher.encrypt(row.token, tokenContext(row.tenant_id, row.id));
    // Only if still unsealed: a concurrent reader may have sealed it first, with the same result.
    await this.db.updateTable('inboxes').set({ token_sealed: sealed, token: row.id }).where('id', '=', row.id).where('token_sealed', 'is', null).execute();
    return row.token;
  }

  private toInbox(row: InboxRow, token: string): Inbox {
    return { id: row.id, tenantId: row.tenant_id, token, dmarcPolicy: row.dmarc_policy, createdAt: Number(row.created_at) };
  }
}
