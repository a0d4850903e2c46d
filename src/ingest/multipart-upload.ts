import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { safeContentType } from './content-type.js';
import { SealpostError } from '../errors/sealpost-error.js';
import type { EncryptedBlobStore } from '../storage/encrypted-blob-store.js';
import type { AttachmentRecord } from './payload.repository.js';
import { newId } from '../crypto/ids.js';

/** More parts than this is not a document upload; it is an attempt to exhaust us. */
const MAX_PARTS = 101;
const MAX_FILENAME_LENGTH = 255;

export interface UploadLimits {
  readonly maxBodyBytes: number;
  readonly maxAttachmentBytes: number;
}

export async function registerMultipart(app: FastifyInstance, limits: UploadLimits): Promise<void> {
  await app.register(multipart, {
    limits: { fileSize: limits.maxAttachmentBytes, fieldSize: limits.maxBodyBytes, parts: MAX_PARTS, files: MAX_PARTS - 1, fields: 1 },
    throwFileSizeLimit: true,
  });
}

export function attachmentBlobKey(tenantId: string, attachmentId: string): string {
  return `attachments/${tenantId.toLowerCase()}/${attachmentId.toLowerCase()}`;
}

export function attachmentBlobContext(tenantId: string, attachmentId: string): string {
  return JSON.stringify([tenantId, 'attachments', attachmentId]);
}

/**
 * Reads a `multipart/form-data` ingest: one `payload` part (JSON, as a field or a file part)
 * and any number of file parts, each streamed through encryption to the blob store with its
 * SHA-256 computed on the way. On any failure the blobs already written are removed before the
 * error propagates, so nothing half-stored remains.
 */
export async function readMultipartUpload(
  request: FastifyRequest,
  tenantId: string,
  blobs: EncryptedBlobStore,
  maxJsonBytes: number,
): Promise<{ payloadJson: Buffer; attachments: AttachmentRecord[] }> {
  let payloadJson: Buffer | undefined;
  const attachments: AttachmentRecord[] = [];
  try {
    for await (const part of request.parts()) {
      if (part.type === 'field') {
        if (part.fieldname !== 'payload') throw invalid(`unexpected field "${part.fieldname}"; send the JSON as "payload" and files as file parts`);
        if (part.valueTruncated) throw new SealpostError('SP_ERR_HTTP_BODY_TOO_LARGE', 'The payload part exceeds the body size limit');
        if (payloadJson) throw invalid('more than one "payload" part');
        payloadJson = Buffer.from(part.value as string, 'utf8');
        continue;
      }
      if (part.fieldname === 'payload') {
        if (payloadJson) throw invalid('more than one "payload" part');
        // The JSON limit holds however the JSON arrives (the file-size limit is the attachments').
        payloadJson = await readAtMost(part.file, maxJsonBytes);
        continue;
      }
      const id = newId('attachment');
      const filename = (part.filename || 'attachment').slice(0, MAX_FILENAME_LENGTH);
      const key = attachmentBlobKey(tenantId, id);
      // Recorded before the upload starts, so a failure midway still cleans this blob up.
      attachments.push({ id, payloadId: '', size: 0, sha256: '', blobKey: key, meta: { filename, contentType: safeContentType(part.mimetype) } });
      const stored = await blobs.putEncrypted(key, part.file, attachmentBlobContext(tenantId, id), tenantId);
      const index = attachments.length - 1;
      attachments[index] = { ...attachments[index]!, size: stored.size, sha256: stored.sha256 };
    }
    if (!payloadJson) throw invalid('no "payload" part');
    return { payloadJson, attachments };
  } catch (err) {
    await removeBlobs(blobs, attachments);
    throw mapMultipartError(err);
  }
}

/** Buffers a stream up to `limit` bytes; one byte more is a 413, and the rest is not read into memory. */
async function readAtMost(stream: AsyncIterable<Buffer> & { resume(): unknown }, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += chunk.length;
    if (size > limit) {
      stream.resume(); // discard what is left of this part so the parser can finish the body
      throw new SealpostError('SP_ERR_HTTP_BODY_TOO_LARGE', `The payload part exceeds the ${limit}-byte JSON limit`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

export async function removeBlobs(blobs: EncryptedBlobStore, attachments: readonly AttachmentRecord[]): Promise<void> {
  await Promise.all(attachments.map((a) => blobs.delete(a.blobKey).catch(() => undefined)));
}

function invalid(detail: string): SealpostError {
  return new SealpostError('SP_ERR_INGEST_MULTIPART_INVALID', `Invalid multipart body: ${detail}`);
}

function mapMultipartError(err: unknown): unknown {
  const code = (err as { code?: string }).code;
  switch (code) {
    case 'FST_REQ_FILE_TOO_LARGE':
      return new SealpostError('SP_ERR_INGEST_ATTACHMENT_TOO_LARGE', 'An attachment exceeds the size limit; nothing was stored');
    case 'FST_PARTS_LIMIT':
    case 'FST_FILES_LIMIT':
    case 'FST_FIELDS_LIMIT':
      return invalid('too many parts');
    case 'FST_INVALID_MULTIPART_CONTENT_TYPE':
    case 'FST_NO_FORM_DATA':
      return invalid('not multipart/form-data');
    default:
      // busboy reports malformed bodies as plain Errors ("Unexpected end of form", "Malformed part header").
      if (err instanceof Error && !(err instanceof SealpostError) && /form|part|boundary|multipart/i.test(err.message)) return invalid(err.message);
      return err;
  }
}
