import { createHash } from 'node:crypto';
import { Transform, pipeline, type Readable } from 'node:stream';
import type { DataKeySource } from '../crypto/data-key-source.js';
import { createDecryptStream, createEncryptStream } from '../crypto/stream-cipher.js';
import { assertValidBlobKey, type BlobStore } from './blob-store.js';

/**
 * Blobs sealed in-process (stream-cipher.ts) before they reach the backing store, so the disk or
 * the bucket only ever holds ciphertext. `context` binds a blob to what it belongs to (for
 * example JSON of `[tenant, kind, id]`): read under any other context, it fails to decrypt.
 */
export class EncryptedBlobStore {
  constructor(
    private readonly store: BlobStore,
    private readonly keys: DataKeySource,
  ) {}

  /**
   * Streams `plaintext` through the cipher into the store, under a data key of `tenant` (so the
   * tenant's erasure shreds it); size and SHA-256 are of the plaintext.
   */
  async putEncrypted(key: string, plaintext: Readable, context: string, tenant: string): Promise<{ size: number; sha256: string }> {
    let encrypt: Transform;
    try {
      assertValidBlobKey(key);
      encrypt = await createEncryptStream(this.keys, context, tenant);
    } catch (error) {
      plaintext.destroy();
      throw error;
    }
    const hash = createHash('sha256');
    let size = 0;
    const measure = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        hash.update(chunk);
        size += chunk.length;
        callback(null, chunk);
      },
    });
    // An error anywhere destroys every stage, so a failing source fails the put (no blob is written).
    const piped = new Promise<void>((resolve, reject) => {
      pipeline(plaintext, measure, encrypt, (error) => (error ? reject(error) : resolve()));
    });
    const stored = this.store.put(key, encrypt).catch((error: unknown) => {
      encrypt.destroy(); // a store that gave up must not leave the source waiting on backpressure
      throw error;
    });
    const [put, pipe] = await Promise.allSettled([stored, piped]);
    // Report the root cause: a failing source or cipher over the store's view of it, and a
    // store failure over the premature close it causes upstream.
    if (pipe.status === 'rejected' && !isPrematureClose(pipe.reason)) throw pipe.reason;
    if (put.status === 'rejected') throw put.reason;
    if (pipe.status === 'rejected') throw pipe.reason;
    return { size, sha256: hash.digest('hex') };
  }

  /** Plaintext of the blob. The stream errors with `SP_ERR_CRYPTO_DECRYPT_FAILED` if it was altered. */
  async getDecrypted(key: string, context: string, tenant: string): Promise<Readable> {
    const sealed = await this.store.get(key);
    return pipeline(sealed, createDecryptStream(this.keys, context, tenant), () => {
      // Errors reach the consumer through the returned stream, which pipeline destroys with them.
    });
  }

  async delete(key: string): Promise<void> {
    await this.store.delete(key);
  }

  async exists(key: string): Promise<boolean> {
    return this.store.exists(key);
  }
}

function isPrematureClose(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 'ERR_STREAM_PREMATURE_CLOSE';
}
