import { createHash } from 'node:crypto';
import { type Insertable, type Kysely } from 'kysely';
import type { RecordCipher, RecordContext } from '../crypto/record-cipher.js';
import type { AttachmentsTable, Database, DeliveryStatus, IdempotencyKeysTable, PayloadsTable } from '../db/schema.js';
import { HotStatement } from '../db/direct-statement.js';

export interface SealedPayload {
  readonly payload: Insertable<PayloadsTable>;
  readonly attachments: readonly Insertable<AttachmentsTable>[];
}

export interface PayloadSummary {
  readonly id: string;
  readonly type: string;
  readonly channel: string;
  readonly size: number;
  readonly bodySha256: string;
  readonly receivedAt: number;
}

/** What `GET /v1/payloads` may narrow the list by (times in ms since the epoch). */
export interface PayloadFilter {
  readonly type?: string;
  readonly channel?: string;
  readonly receivedFrom?: number;
  readonly receivedBefore?: number;
  readonly deliveryStatus?: DeliveryStatus;
}

export interface AttachmentMeta {
  readonly filename: string;
  readonly contentType: string;
}

export interface AttachmentRecord {
  readonly id: string;
  readonly payloadId: string;
  readonly size: number;
  readonly sha256: string;
  readonly blobKey: string;
  readonly meta: AttachmentMeta;
}

/** Where a payload's sealed envelope belongs; backups read it too, to find raw e-mail blobs. */
export const envelopeContext = (tenant: string, id: string): RecordContext => ({ tenant, table: 'payloads', id, field: 'envelope' });
/** Where an attachment's sealed metadata belongs; the scrub of a restored copy rewrites it. */
export const attachmentContext = (tenant: string, id: string): RecordContext => ({ tenant, table: 'attachments', id, field: 'meta' });
// Bound to the key as presented: the stored row holds only its hash (idempotencyKeySha256).
const idempotencyContext = (tenant: string, key: string): RecordContext => ({ tenant, table: 'idempotency_keys', id: key, field: 'response' });

/**
 * What identifies an idempotency record: an Idempotency-Key is a client's credential of a kind
 * (whoever knows it reads the replayed response), so only SHA-256 of it, with the tenant id
 * so that equal keys of two tenants never collide, is stored. Migration 0010 computes the same.
 */
export function idempotencyKeySha256(tenantId: string, key: string): string {
  return createHash('sha256').update(`${tenantId}\n${key}`, 'utf8').digest('hex');
}

// On the ingest path: run directly inside a group commit (src/db/direct-statement.ts).
const INSERT_PAYLOAD = new HotStatement('insert into payloads (id, tenant_id, type, channel, envelope_sealed, body_sha256, size, received_at) values (?, ?, ?, ?, ?, ?, ?, ?)');

/**
 * Payloads, their attachments and idempotency records. Sealing and unsealing happen here, so
 * services see plain values and the database only ciphertext (STYLE.md, "Data access").
 */
export class PayloadRepository {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly cipher: RecordCipher,
  ) {}

  /**
   * Seals the rows of a payload and its attachments. Kept apart from `insert` because no
   * encryption runs inside a transaction: on SQLite the transaction holds the only connection,
   * which a new data key would need (see RecordCipher).
   */
  async seal(
    payload: PayloadSummary & { tenantId: string; canonicalEnvelope: Buffer },
    attachments: readonly AttachmentRecord[],
  ): Promise<SealedPayload> {
    return {
      payload: {
        id: payload.id,
        tenant_id: payload.tenantId,
        type: payload.type,
        channel: payload.channel,
        envelope_sealed: await this.cipher.encrypt(payload.canonicalEnvelope, envelopeContext(payload.tenantId, payload.id)),
        body_sha256: payload.bodySha256,
        size: payload.size,
        received_at: payload.receivedAt,
      },
      attachments: await Promise.all(
        attachments.map(async (a) => ({
          id: a.id,
          tenant_id: payload.tenantId,
          payload_id: payload.id,
          meta_sealed: await this.cipher.encryptJson(a.meta, attachmentContext(payload.tenantId, a.id)),
          size: a.size,
          sha256: a.sha256,
          blob_key: a.blobKey,
          created_at: payload.receivedAt,
        })),
      ),
    };
  }

  async insert(tx: Kysely<Database>, sealed: SealedPayload): Promise<void> {
    const p = sealed.payload;
    await INSERT_PAYLOAD.execute(tx, [p.id, p.tenant_id, p.type, p.channel, p.envelope_sealed, p.body_sha256, p.size, p.received_at]);
    if (sealed.attachments.length > 0) await tx.insertInto('attachments').values(sealed.attachments).execute();
  }

  async find(tenantId: string, id: string): Promise<(PayloadSummary & { canonicalEnvelope: Buffer }) | undefined> {
    const row = await this.db
      .selectFrom('payloads')
      .select(['id', 'type', 'channel', 'size', 'body_sha256', 'received_at', 'envelope_sealed'])
      .where('tenant_id', '=', tenantId)
      .where('id', '=', id)
      .executeTakeFirst();
    if (!row) return undefined;
    return {
      ...summary(row),
      canonicalEnvelope: await this.cipher.decrypt(Buffer.from(row.envelope_sealed), envelopeContext(tenantId, id)),
    };
  }

  /** Newest first; `before` is the last id of the previous page (ids are ULIDs, so they sort by time). */
  /**
   * The tenant's payloads, newest first, matching every filter given. Each filter is on a plain
   * column of `payloads` (or an indexed lookup of its deliveries); the sender and the inbox are
   * inside the sealed envelope and cannot be searched here.
   */
  async list(tenantId: string, limit: number, before?: string, filter: PayloadFilter = {}): Promise<PayloadSummary[]> {
    let query = this.db
      .selectFrom('payloads')
      .select(['id', 'type', 'channel', 'size', 'body_sha256', 'received_at'])
      .where('tenant_id', '=', tenantId)
      .orderBy('id', 'desc')
      .limit(limit);
    if (before) query = query.where('id', '<', before);
    if (filter.type) query = query.where('type', '=', filter.type);
    if (filter.channel) query = query.where('channel', '=', filter.channel);
    if (filter.receivedFrom !== undefined) query = query.where('received_at', '>=', filter.receivedFrom);
    if (filter.receivedBefore !== undefined) query = query.where('received_at', '<', filter.receivedBefore);
    const status = filter.deliveryStatus;
    if (status) {
      // deliveries_payload (tenant_id, payload_id) answers this per payload; the tenant filter keeps it in the tenant.
      query = query.where(({ exists, selectFrom }) =>
        exists(
          selectFrom('deliveries as d')
            .select('d.id')
            .whereRef('d.payload_id', '=', 'payloads.id')
            .where('d.tenant_id', '=', tenantId)
            .where('d.status', '=', status),
        ),
      );
    }
    return (await query.execute()).map(summary);
  }

  async findAttachment(tenantId: string, id: string): Promise<AttachmentRecord | undefined> {
    const row = await this.db
      .selectFrom('attachments')
      .select(['id', 'payload_id', 'size', 'sha256', 'blob_key', 'meta_sealed'])
      .where('tenant_id', '=', tenantId)
      .where('id', '=', id)
      .executeTakeFirst();
    if (!row) return undefined;
    return {
      id: row.id,
      payloadId: row.payload_id,
      size: Number(row.size),
      sha256: row.sha256,
      blobKey: row.blob_key,
      meta: await this.cipher.decryptJson<AttachmentMeta>(Buffer.from(row.meta_sealed), attachmentContext(tenantId, row.id)),
    };
  }

  async findIdempotent(
    tenantId: string,
    key: string,
    notBefore: number,
  ): Promise<{ requestSha256: string; response: unknown } | undefined> {
    const row = await this.db
      .selectFrom('idempotency_keys')
      .select(['request_sha256', 'response_sealed', 'created_at'])
      .where('tenant_id', '=', tenantId)
      .where('key_sha256', '=', idempotencyKeySha256(tenantId, key))
      .executeTakeFirst();
    if (!row || row.created_at < notBefore) return undefined;
    return {
      requestSha256: row.request_sha256,
      response: await this.cipher.decryptJson(Buffer.from(row.response_sealed), idempotencyContext(tenantId, key)),
    };
  }

  async sealIdempotent(record: { tenantId: string; key: string; requestSha256: string; payloadId: string; response: unknown; createdAt: number }): Promise<Insertable<IdempotencyKeysTable>> {
    return {
      tenant_id: record.tenantId,
      key_sha256: idempotencyKeySha256(record.tenantId, record.key),
      request_sha256: record.requestSha256,
      payload_id: record.payloadId,
      response_sealed: await this.cipher.encryptJson(record.response, idempotencyContext(record.tenantId, record.key)),
      created_at: record.createdAt,
    };
  }

  async insertIdempotent(tx: Kysely<Database>, row: Insertable<IdempotencyKeysTable>, expiredBefore: number): Promise<void> {
    // An expired record under the same key is replaced, not kept forever.
    await tx.deleteFrom('idempotency_keys').where('tenant_id', '=', row.tenant_id).where('key_sha256', '=', row.key_sha256).where('created_at', '<', expiredBefore).execute();
    await tx.insertInto('idempotency_keys').values(row).execute();
  }
}

function summary(row: { id: string; type: string; channel: string; size: number; body_sha256: string; received_at: number }): PayloadSummary {
  return { id: row.id, type: row.type, channel: row.channel, size: row.size, bodySha256: row.body_sha256, receivedAt: row.received_at };
}
