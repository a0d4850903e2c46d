import type { Readable } from 'node:stream';
import { SealpostError, isSealpostError } from '../errors/sealpost-error.js';

/**
 * Raw byte storage for blobs (attachments, raw e-mails). Everything stored here is already
 * encrypted (see encrypted-blob-store.ts); the stores never see plaintext.
 */
export interface BlobStore {
  /**
   * Stores the whole stream under `key`, replacing any blob there; visible only once complete.
   * Always consumes or destroys `body`; if `body` errors, that error is rethrown and nothing is stored.
   */
  put(key: string, body: Readable): Promise<{ size: number }>;
  /** Streams the blob; `SP_ERR_STORAGE_BLOB_NOT_FOUND` if there is none. */
  get(key: string): Promise<Readable>;
  /** Removes the blob; removing a missing blob is not an error. */
  delete(key: string): Promise<void>;
  exists(key: string): Promise<boolean>;
  /** Releases connections; the store is unusable afterwards. */
  close(): Promise<void>;
}

/** Longer keys only serve to hit path and S3 key length limits (S3 allows 1,024 bytes, with a prefix). */
export const MAX_BLOB_KEY_LENGTH = 512;
const BLOB_KEY_PATTERN = /^[a-z0-9_./-]+$/;

/**
 * Keys become file paths and S3 keys, so they are held to a set that means the same thing in
 * both: lower-case ASCII, `/`-separated segments. Empty, `.` and dot-led segments are refused
 * too, since a filesystem would alias `a//b` and `a/./b` to `a/b`, and `.tmp/` holds the local
 * store's unfinished writes.
 */
export function assertValidBlobKey(key: string): void {
  const valid =
    key.length > 0 &&
    key.length <= MAX_BLOB_KEY_LENGTH &&
    BLOB_KEY_PATTERN.test(key) &&
    !key.includes('..') &&
    key.split('/').every((segment) => segment.length > 0 && !segment.startsWith('.'));
  if (!valid) {
    throw new SealpostError('SP_ERR_STORAGE_BLOB_KEY_INVALID', 'Invalid blob key', { logDetail: { key: key.slice(0, MAX_BLOB_KEY_LENGTH) } });
  }
}

export function blobNotFound(key: string): SealpostError {
  return new SealpostError('SP_ERR_STORAGE_BLOB_NOT_FOUND', 'Blob not found', { logDetail: { key } });
}

/** I/O failures of the backend (disk full, S3 unreachable); Sealpost errors pass through unchanged. */
export function storageFailed(operation: string, key: string, cause: unknown): SealpostError {
  if (isSealpostError(cause)) return cause;
  return new SealpostError('SP_ERR_STORAGE_UNAVAILABLE', 'Blob storage unavailable', { cause, logDetail: { operation, key } });
}
