import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import { columnTypes } from '../column-types.js';
import type { Dialect } from '../database.js';

/*
 * Inbox tokens and Idempotency-Keys are credentials of a kind: stored in plain text, a copy of
 * the database would let its reader send mail into every inbox and learn every tenant's keys.
 * The hashes below are computed here, not imported, so this migration keeps meaning what it meant
 * when it shipped.
 */

/** SHA-256 hex of the inbox token: what the SMTP RCPT lookup matches (80 random bits, so a fast hash is enough). */
function inboxTokenSha256(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** SHA-256 hex of tenant id and Idempotency-Key, so equal keys of two tenants never collide. */
function idempotencyKeySha256(tenantId: string, key: string): string {
  return createHash('sha256').update(`${tenantId}\n${key}`, 'utf8').digest('hex');
}

interface Tables {
  inboxes: { id: string; token: string; token_sha256: string | null; token_sealed: Buffer | null; deleted_at: number | null };
  idempotency_keys: { tenant_id: string; key: string; key_sha256: string; request_sha256: string; payload_id: string; response_sealed: Buffer; created_at: number };
}

/**
 * Inboxes gain `token_sha256` (unique; the recipient lookup) and `token_sealed` (the token under
 * the record cipher, for `GET /v1/inboxes`). No cipher exists inside a migration, so a live
 * inbox keeps its plain `token` until the repository first reads it and seals it; a deleted
 * inbox is never shown again, so its token is blanked here. Blanked and sealed rows hold their
 * own id in `token` (NOT NULL UNIQUE since 0005; SQLite cannot relax that without a rebuild).
 *
 * Idempotency records keep only `key_sha256`: the key itself is presented with every retry, so
 * nothing needs it stored. The sealed responses stay bound to the presented key (their context
 * is not stored), so migrated records still replay.
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const t = columnTypes(dialect);
  const tx = db as unknown as Kysely<Tables>;

  await db.schema.alterTable('inboxes').addColumn('token_sha256', 'text').execute();
  await db.schema.alterTable('inboxes').addColumn('token_sealed', t.bytes).execute();
  const inboxes = await tx.selectFrom('inboxes').select(['id', 'token', 'deleted_at']).execute();
  for (const inbox of inboxes) {
    const blank = inbox.deleted_at === null ? {} : { token: inbox.id };
    await tx
      .updateTable('inboxes')
      .set({ token_sha256: inboxTokenSha256(inbox.token), ...blank })
      .where('id', '=', inbox.id)
      .execute();
  }
  await db.schema.createIndex('inboxes_token_sha256').on('inboxes').column('token_sha256').unique().execute();

  await db.schema.alterTable('idempotency_keys').renameColumn('key', 'key_sha256').execute();
  const records = await tx.selectFrom('idempotency_keys').select(['tenant_id', 'key_sha256']).execute();
  for (const record of records) {
    await tx
      .updateTable('idempotency_keys')
      .set({ key_sha256: idempotencyKeySha256(record.tenant_id, record.key_sha256) })
      .where('tenant_id', '=', record.tenant_id)
      .where('key_sha256', '=', record.key_sha256)
      .execute();
  }
}
