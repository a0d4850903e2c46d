import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';

export interface SubscriberRow {
  readonly id: string;
  readonly contactSealed: Buffer;
  readonly confirmedAt: number | null;
}

export interface PendingNotice {
  readonly id: string;
  readonly subscriberId: string;
  readonly contactSealed: Buffer;
  readonly attempts: number;
  readonly document: string;
}

/** Status page subscribers and the outbox of their notices (deployment-wide). */
export class SubscriptionRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async findByEmail(emailSha256: string): Promise<SubscriberRow | undefined> {
    const row = await this.db.selectFrom('status_subscribers').select(['id', 'contact_sealed', 'confirmed_at']).where('email_sha256', '=', emailSha256).executeTakeFirst();
    return row ? { id: row.id, contactSealed: Buffer.from(row.contact_sealed), confirmedAt: row.confirmed_at === null ? null : Number(row.confirmed_at) } : undefined;
  }

  async insert(row: { id: string; contactSealed: Buffer; emailSha256: string; confirmTokenSha256: string; confirmExpiresAt: number; unsubscribeTokenSha256: string; createdAt: number }): Promise<void> {
    await this.db
      .insertInto('status_subscribers')
      .values({
        id: row.id,
        contact_sealed: row.contactSealed,
        email_sha256: row.emailSha256,
        confirm_token_sha256: row.confirmTokenSha256,
        confirm_expires_at: row.confirmExpiresAt,
        unsubscribe_token_sha256: row.unsubscribeTokenSha256,
        created_at: row.createdAt,
        confirmed_at: null,
      })
      .onConflict((oc) => oc.column('email_sha256').doNothing())
      .execute();
  }

  /** A new confirmation token for a subscriber not confirmed yet. */
  async renewConfirmation(id: string, confirmTokenSha256: string, expiresAt: number): Promise<void> {
    await this.db.updateTable('status_subscribers').set({ confirm_token_sha256: confirmTokenSha256, confirm_expires_at: expiresAt }).where('id', '=', id).where('confirmed_at', 'is', null).execute();
  }

  /** Confirms the subscriber whose unexpired token this is; the token is single-use. */
  async confirm(confirmTokenSha256: string, now: number): Promise<boolean> {
    const result = await this.db
      .updateTable('status_subscribers')
      .set({ confirmed_at: now, confirm_token_sha256: null, confirm_expires_at: null })
      .where('confirm_token_sha256', '=', confirmTokenSha256)
      .where('confirm_expires_at', '>', now)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async unsubscribe(unsubscribeTokenSha256: string): Promise<boolean> {
    return this.db.transaction().execute(async (tx) => {
      const row = await tx.selectFrom('status_subscribers').select('id').where('unsubscribe_token_sha256', '=', unsubscribeTokenSha256).executeTakeFirst();
      if (!row) return false;
      await tx.deleteFrom('status_notices').where('subscriber_id', '=', row.id).execute();
      await tx.deleteFrom('status_subscribers').where('id', '=', row.id).execute();
      return true;
    });
  }

  /** In the update's transaction: one notice per confirmed subscriber. */
  async enqueue(tx: Kysely<Database>, updateId: string, now: number, newId: () => string): Promise<void> {
    const subscribers = await tx.selectFrom('status_subscribers').select('id').where('confirmed_at', 'is not', null).execute();
    for (let i = 0; i < subscribers.length; i += 500) {
      const batch = subscribers.slice(i, i + 500).map((s) => ({ id: newId(), subscriber_id: s.id, update_id: updateId, created_at: now, attempts: 0, sent_at: null }));
      await tx.insertInto('status_notices').values(batch).execute();
    }
  }

  async pending(maxAttempts: number, limit: number): Promise<PendingNotice[]> {
    const rows = await this.db
      .selectFrom('status_notices as n')
      .innerJoin('status_subscribers as s', 's.id', 'n.subscriber_id')
      .innerJoin('status_updates as u', 'u.id', 'n.update_id')
      .select(['n.id', 'n.subscriber_id', 's.contact_sealed', 'n.attempts', 'u.document'])
      .where('n.sent_at', 'is', null)
      .where('n.attempts', '<', maxAttempts)
      .orderBy('n.created_at')
      .limit(limit)
      .execute();
    return rows.map((r) => ({ id: r.id, subscriberId: r.subscriber_id, contactSealed: Buffer.from(r.contact_sealed), attempts: r.attempts, document: r.document }));
  }

  async markSent(id: string, now: number): Promise<void> {
    await this.db.updateTable('status_notices').set({ sent_at: now }).where('id', '=', id).execute();
  }

  async markFailed(id: string): Promise<void> {
    await this.db
      .updateTable('status_notices')
      .set((eb) => ({ attempts: eb('attempts', '+', 1) }))
      .where('id', '=', id)
      .execute();
  }
}
