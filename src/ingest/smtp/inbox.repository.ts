import type { Kysely } from 'kysely';
import type { Database, InboxDmarcPolicy } from '../../db/schema.js';

export interface Inbox {
  readonly id: string;
  readonly tenantId: string;
  readonly token: string;
  readonly dmarcPolicy: InboxDmarcPolicy;
  readonly createdAt: number;
}

const COLUMNS = ['id', 'tenant_id', 'token', 'dmarc_policy', 'created_at'] as const;

function toInbox(row: { id: string; tenant_id: string; token: string; dmarc_policy: InboxDmarcPolicy; created_at: number }): Inbox {
  return { id: row.id, tenantId: row.tenant_id, token: row.token, dmarcPolicy: row.dmarc_policy, createdAt: Number(row.created_at) };
}

/** Inboxes. Every read takes the tenant id, except the SMTP recipient lookup, which is by token. */
export class InboxRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** Inserts the inbox; `alongside` (its audit event) runs in the same transaction. */
  async insert(inbox: Inbox, alongside: (tx: Kysely<Database>) => Promise<void>): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      await tx
        .insertInto('inboxes')
        .values({ id: inbox.id, tenant_id: inbox.tenantId, token: inbox.token, dmarc_policy: inbox.dmarcPolicy, created_at: inbox.createdAt, deleted_at: null })
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
    return rows.map(toInbox);
  }

  /** Marks the inbox deleted, with `alongside` (its audit event) in the same transaction; false when the tenant has no such (live) inbox. */
  async softDelete(tenantId: string, id: string, now: number, alongside: (tx: Kysely<Database>) => Promise<void>): Promise<boolean> {
    return this.db.transaction().execute(async (tx) => {
      const result = await tx
        .updateTable('inboxes')
        .set({ deleted_at: now })
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
      .where('token', '=', token)
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
    return row ? toInbox(row) : undefined;
  }
}
