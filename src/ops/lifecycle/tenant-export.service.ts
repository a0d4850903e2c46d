import { Readable } from 'node:stream';
import type { Kysely } from 'kysely';
import type { AuditActor } from '../../audit/audit-event.js';
import type { AuditRecorder } from '../../audit/audit-recorder.js';
import type { Database } from '../../db/schema.js';
import { attachmentBlobContext } from '../../ingest/multipart-upload.js';
import type { PayloadRepository } from '../../ingest/payload.repository.js';
import { rawMessageBlobContext, rawMessageBlobKey, rawMessageRefOf } from '../../ingest/smtp/raw-message.js';
import type { Logger } from '../../logging/logger.js';
import type { ReceiptRepository } from '../../receipts/receipt.repository.js';
import type { EncryptedBlobStore } from '../../storage/encrypted-blob-store.js';
import { tarBuffer, tarEnd, tarStream } from './tar-stream.js';
import type { TenantExportRepository } from './tenant-export.repository.js';

export const EXPORT_FORMAT = 'sealpost-export-v1';
/** Payloads read per query. */
const PAYLOADS_PER_QUERY = 100;
/** A part is closed (its JSONL written, its cursor recorded) after this many payloads or bytes: bounds memory and the work a resume repeats. */
export const PART_MAX_PAYLOADS = 100;
export const PART_MAX_BYTES = 4 * 1024 * 1024;

/**
 * The tenant's data export (GDPR art. 20 / PIPEDA access): a POSIX tar archive, streamed, of
 *
 *   attachments/<payload id>/<attachment id>   each attachment's bytes
 *   raw/<payload id>/<raw message id>.eml      each e-mail's raw message
 *   payloads/<part>.jsonl                      one line per payload: {id, type, channel, received_at, size, body_sha256, envelope}
 *   receipts/<part>.jsonl                      the signed receipts of those payloads, verbatim (they verify with @sealpost/verify)
 *   cursors/<part>.json                        {"next_cursor": …}: the part is complete; resume after it
 *   export.json                                last: {format, tenant, after, payloads, complete: true}
 *
 * in payload id order. A part's attachments come before its JSONL and its cursor, so a cursor in
 * the archive means everything before it is whole: a broken download resumes with
 * `{"cursor": <its next_cursor>}`. Archive names are ids only: a file name a sender chose never
 * becomes a path (it is in the envelope's `attachments`).
 */
export class TenantExportService {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly repository: TenantExportRepository,
    private readonly payloads: PayloadRepository,
    private readonly receipts: ReceiptRepository,
    private readonly blobs: EncryptedBlobStore,
    private readonly audit: AuditRecorder,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** Records `tenant.exported`, then returns the archive as a stream; `after` is a cursor from an earlier export. */
  async export(tenantId: string, after: string | undefined, actor: AuditActor): Promise<Readable> {
    await this.db.transaction().execute((tx) => this.audit(tx, { tenant: tenantId, actor, action: 'tenant.exported', resource: tenantId, details: { format: EXPORT_FORMAT, after: after ?? null } }));
    const archive = Readable.from(this.archive(tenantId, after), { objectMode: false });
    archive.on('error', (err) => this.logger.error({ err, tenantId }, 'tenant export stopped'));
    return archive;
  }

  private async *archive(tenantId: string, after: string | undefined): AsyncGenerator<Buffer> {
    const mtime = this.now();
    let cursor = after;
    let part = 0;
    let exported = 0;
    let lines: Buffer[] = [];
    let receiptLines: Buffer[] = [];
    let partPayloads = 0;
    let partBytes = 0;
    const closePart = function* (this: void, last: string): Generator<Buffer> {
      part += 1;
      const name = String(part).padStart(6, '0');
      yield* tarBuffer(`payloads/${name}.jsonl`, Buffer.concat(lines), mtime);
      yield* tarBuffer(`receipts/${name}.jsonl`, Buffer.concat(receiptLines), mtime);
      yield* tarBuffer(`cursors/${name}.json`, Buffer.from(`${JSON.stringify({ next_cursor: last })}\n`), mtime);
      lines = [];
      receiptLines = [];
      partPayloads = 0;
      partBytes = 0;
    };
    for (;;) {
      const ids = await this.repository.payloadIdsAfter(tenantId, cursor, PAYLOADS_PER_QUERY);
      if (ids.length === 0) break;
      for (const id of ids) {
        cursor = id;
        const payload = await this.payloads.find(tenantId, id);
        if (!payload) continue; // deleted by retention since it was listed
        for (const attachment of await this.repository.attachmentsOf(tenantId, id)) {
          const source = await this.blobs.getDecrypted(attachment.blobKey, attachmentBlobContext(tenantId, attachment.id), tenantId);
          yield* tarStream(`attachments/${id}/${attachment.id}`, attachment.size, source, mtime);
        }
        const envelope = payload.canonicalEnvelope;
        const raw = payload.type === 'email.received' ? rawMessageRefOf(JSON.parse(envelope.toString('utf8')) as { type: string; data: Record<string, unknown> }) : undefined;
        if (raw) {
          const source = await this.blobs.getDecrypted(rawMessageBlobKey(tenantId, raw.id), rawMessageBlobContext(tenantId, raw.id), tenantId);
          yield* tarStream(`raw/${id}/${raw.id}.eml`, raw.size, source, mtime);
        }
        // The envelope is embedded as stored (RFC 8785 JSON): re-serialising could change numbers the sender signed.
        const head = JSON.stringify({ id, type: payload.type, channel: payload.channel, received_at: new Date(payload.receivedAt).toISOString(), size: payload.size, body_sha256: payload.bodySha256 });
        const line = Buffer.concat([Buffer.from(`${head.slice(0, -1)},"envelope":`), envelope, Buffer.from('}\n')]);
        lines.push(line);
        for (const receipt of await this.receipts.listForMessage(tenantId, id)) receiptLines.push(Buffer.from(`${receipt.json}\n`));
        exported += 1;
        partPayloads += 1;
        partBytes += line.length;
        if (partPayloads >= PART_MAX_PAYLOADS || partBytes >= PART_MAX_BYTES) yield* closePart(id);
      }
    }
    if (partPayloads > 0 && cursor !== undefined) yield* closePart(cursor);
    const summary = { format: EXPORT_FORMAT, tenant: tenantId, after: after ?? null, payloads: exported, complete: true };
    yield* tarBuffer('export.json', Buffer.from(`${JSON.stringify(summary)}\n`), mtime);
    yield tarEnd();
  }
}
