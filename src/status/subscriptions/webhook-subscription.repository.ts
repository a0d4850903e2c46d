import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';
import type { PreparedWrite } from '../../db/prepared-write.js';

export interface WebhookSubscriberRow {
  readonly id: string;
  readonly urlSealed: Buffer;
  readonly destinationId: string | null;
  readonly confirmedAt: number | null;
}

export interface PendingWebhookNotice {
  readonly updateId: string;
  readonly attempts: number;
  /** The update exactly as signed and published in status.json. */
  readonly document: string;
}

const columns = ['id', 'url_sealed', 'destination_id', 'confirmed_at'] as const;

function toRow(r: { id: string; url_sealed: Buffer | Uint8Array; destination_id: string | null; confirmed_at: number | string | null }): WebhookSubscriberRow {
  return { id: r.id, urlSealed: Buffer.from(r.url_sealed), destinationId: r.destination_id, confirmedAt: r.confirmed_at === null ? null : Number(r.confirmed_at) };
}

/**
 * Webhook subscribers of the status page and the queue of updates to ingest as `status.notice`
 * payloads (deployment-wide, like the e-mail subscribers; their destinations belong to the
 * deployment tenant). Tokens are looked up by SHA-256 only.
 */
export class WebhookSubscriptionRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async findByUrl(urlSha256: string): Promise<WebhookSubscriberRow | undefined> {
    const row = await this.db.selectFrom('status_webhook_subscribers').select(columns).where('url_sha256', '=', urlSha256).executeTakeFirst();
    return row && toRow(row);
  }

  /** False when the URL is already there (a concurrent subscription won). */
  async insert(row: { id: string; urlSealed: Buffer; urlSha256: string; confirmTokenSha256: string; confirmExpiresAt: number; createdAt: number }): Promise<boolean> {
    const result = await this.db
      .insertInto('status_webhook_subscribers')
      .values({
        id: row.id,
        url_sealed: row.urlSealed,
        url_sha256: row.urlSha256,
        confirm_token_sha256: row.confirmTokenSha256,
        confirm_expires_at: row.confirmExpiresAt,
        unsubscribe_token_sha256: null,
        destination_id: null,
        created_at: row.createdAt,
        confirmed_at: null,
      })
      .onConflict((oc) => oc.column('url_sha256').doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0n) === 1;
  }

  /** A new confirmation token for a subscriber not confirmed yet. */
  async renewConfirmation(id: string, confirmTokenSha256: string, expiresAt: number): Promise<void> {
    await this.db.updateTable('status_webhook_subscribers').set({ confirm_token_sha256: confirmTokenSha256, confirm_expires_at: expiresAt }).where('id', '=', id).where('confirmed_at', 'is', null).execute();
  }

  /** The pending subscriber whose unexpired confirmation token this is. */
  async findConfirmable(confirmTokenSha256: string, now: number): Promise<WebhookSubscriberRow | undefined> {
    const row = await this.db
      .selectFrom('status_webhook_subscribers')
      .select(columns)
      .where('confirm_token_sha256', '=', confirmTokenSha256)
      .where('confirm_expires_at', '>', now)
      .where('confirmed_at', 'is', null)
      .executeTakeFirst();
    return row && toRow(row);
  }

  /** Confirms once: false when the token was used (or renewed) meanwhile. */
  async markConfirmed(id: string, confirmTokenSha256: string, change: { destinationId: string; unsubscribeTokenSha256: string; now: number }): Promise<boolean> {
    const result = await this.db
      .updateTable('status_webhook_subscribers')
      .set({ confirmed_at: change.now, confirm_token_sha256: null, confirm_expires_at: null, destination_id: change.destinationId, unsubscribe_token_sha256: change.unsubscribeTokenSha256 })
      .where('id', '=', id)
      .where('confirm_token_sha256', '=', confirmTokenSha256)
      .where('confirmed_at', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /** Subscribers whose URL is a destination now (confirmed). */
  async countConfirmed(): Promise<number> {
    const row = await this.db.selectFrom('status_webhook_subscribers').select((eb) => eb.fn.countAll<string | number>().as('n')).where('confirmed_at', 'is not', null).executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  async findByUnsubscribe(unsubscribeTokenSha256: string): Promise<WebhookSubscriberRow | undefined> {
    const row = await this.db.selectFrom('status_webhook_subscribers').select(columns).where('unsubscribe_token_sha256', '=', unsubscribeTokenSha256).executeTakeFirst();
    return row && toRow(row);
  }

  async delete(id: string): Promise<void> {
    await this.db.deleteFrom('status_webhook_subscribers').where('id', '=', id).execute();
  }

  /** Pending subscribers whose confirmation expired: nothing more will happen to them. */
  async deleteExpired(now: number): Promise<number> {
    const result = await this.db.deleteFrom('status_webhook_subscribers').where('confirmed_at', 'is', null).where('confirm_expires_at', '<=', now).executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  /** In the update's transaction: the update is to be ingested as one `status.notice`. */
  async enqueue(tx: Kysely<Database>, updateId: string, now: number): Promise<void> {
    await tx.insertInto('status_webhook_notices').values({ update_id: updateId, created_at: now, attempts: 0, payload_id: null }).execute();
  }

  async pending(maxAttempts: number, limit: number): Promise<PendingWebhookNotice[]> {
    const rows = await this.db
      .selectFrom('status_webhook_notices as n')
      .innerJoin('status_updates as u', 'u.id', 'n.update_id')
      .select(['n.update_id', 'n.attempts', 'u.document'])
      .where('n.payload_id', 'is', null)
      .where('n.attempts', '<', maxAttempts)
      .orderBy('n.created_at')
      .limit(limit)
      .execute();
    return rows.map((r) => ({ updateId: r.update_id, attempts: r.attempts, document: r.document }));
  }

  /** Runs in the ingest transaction, so the payload and this mark commit together. */
  markIngested(updateId: string, payloadId: string): PreparedWrite {
    return async (tx) => {
      await tx.updateTable('status_webhook_notices').set({ payload_id: payloadId }).where('update_id', '=', updateId).execute();
    };
  }

  setIngested(updateId: string, payloadId: string): Promise<void> {
    return this.markIngested(updateId, payloadId)(this.db);
  }

  async markFailed(updateId: string): Promise<void> {
    await this.db
      .updateTable('status_webhook_notices')
      .set((eb) => ({ attempts: eb('attempts', '+', 1) }))
      .where('update_id', '=', updateId)
      .execute();
  }
}
