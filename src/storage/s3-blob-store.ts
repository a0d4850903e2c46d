import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import { Readable, Transform, pipeline } from 'node:stream';
import { assertValidBlobKey, blobNotFound, storageFailed, type BlobStore } from './blob-store.js';
import { loadS3, loadS3Upload, s3Client } from './s3-client.js';

/** S3's minimum part size; a blob smaller than one part goes up as a single PutObject. */
const PART_BYTES = 5 * 1024 * 1024;
/** Parts in flight per upload. Memory per upload is at most PART_BYTES × this, whatever the blob size. */
const PARTS_IN_FLIGHT = 2;

export interface S3BlobStoreOptions {
  readonly bucket: string;
  /** S3-compatible endpoint (MinIO, Ceph…); unset uses AWS S3. */
  readonly endpoint?: string;
  /** Unset uses the AWS SDK default chain (AWS_REGION, profile…). */
  readonly region?: string;
  readonly forcePathStyle?: boolean;
  /** Unset uses the AWS SDK default credential chain (environment, profile, instance role…). */
  readonly credentials?: S3ClientConfig['credentials'];
  /** Prepended to every key, e.g. `sealpost/` to share a bucket. */
  readonly keyPrefix?: string;
}

/**
 * Blobs as S3 objects. Uploads stream through lib-storage's `Upload`, which switches to a
 * multipart upload once the body passes one part and aborts the multipart upload on failure,
 * so an object appears under its key only when complete (S3 writes are atomic per object).
 */
export class S3BlobStore implements BlobStore {
  private readonly client: Promise<S3Client>;
  private readonly bucket: string;
  private readonly prefix: string;

  constructor(options: S3BlobStoreOptions) {
    this.bucket = options.bucket;
    this.prefix = normalizePrefix(options.keyPrefix);
    this.client = s3Client({
      ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
      ...(options.region === undefined ? {} : { region: options.region }),
      ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
      forcePathStyle: options.forcePathStyle ?? false,
      // S3-compatible stores differ in support for the SDK's default CRC32 trailers
      // (aws-chunked uploads); every blob is AEAD-sealed already, so checksums add no integrity.
      ...(options.endpoint === undefined ? {} : { requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' }),
    });
  }

  async put(key: string, body: Readable): Promise<{ size: number }> {
    try {
      assertValidBlobKey(key);
    } catch (error) {
      body.destroy(); // put always consumes or destroys its body, so no producer is left blocked
      throw error;
    }
    let size = 0;
    let bodyError: unknown;
    const counted = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        size += chunk.length;
        callback(null, chunk);
      },
    });
    pipeline(body, counted, (error) => {
      bodyError ??= error;
    });
    body.once('error', (error) => {
      bodyError = error;
    });
    try {
      const [{ Upload }, client] = await Promise.all([loadS3Upload(), this.client]);
      const upload = new Upload({
        client,
        params: { Bucket: this.bucket, Key: this.prefix + key, Body: counted },
        partSize: PART_BYTES,
        queueSize: PARTS_IN_FLIGHT,
      });
      await upload.done();
    } catch (error) {
      counted.destroy();
      // A failing body (client gone, decryption error upstream) keeps its own error.
      if (bodyError !== undefined && bodyError !== null) throw bodyError;
      throw storageFailed('put', key, error);
    }
    return { size };
  }

  async get(key: string): Promise<Readable> {
    return getS3Object(await this.client, this.bucket, this.prefix, key);
  }

  async delete(key: string): Promise<void> {
    assertValidBlobKey(key);
    const { DeleteObjectCommand } = await loadS3();
    try {
      await (await this.client).send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }));
    } catch (error) {
      throw storageFailed('delete', key, error);
    }
  }

  async exists(key: string): Promise<boolean> {
    assertValidBlobKey(key);
    const { HeadObjectCommand } = await loadS3();
    try {
      await (await this.client).send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }));
      return true;
    } catch (error) {
      // HEAD responses have no body, so the SDK can only name a 404 "NotFound".
      if (hasName(error, 'NotFound') || hasName(error, 'NoSuchKey')) return false;
      throw storageFailed('exists', key, error);
    }
  }

  async close(): Promise<void> {
    (await this.client).destroy();
  }
}

function normalizePrefix(prefix: string | undefined): string {
  if (prefix === undefined || prefix === '') return '';
  const trimmed = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  assertValidBlobKey(trimmed);
  return `${trimmed}/`;
}

function hasName(error: unknown, name: string): boolean {
  return error instanceof Error && error.name === name;
}

/** Streams one object of an S3 bucket under `prefix`; a missing key is SP_ERR_STORAGE_BLOB_NOT_FOUND (the backup targets read the same way). */
export async function getS3Object(client: S3Client, bucket: string, prefix: string, key: string): Promise<Readable> {
  assertValidBlobKey(key);
  const { GetObjectCommand } = await loadS3();
  try {
    const response = await client.send(new GetObjectCommand({ Bucket: bucket, Key: prefix + key }));
    if (!(response.Body instanceof Readable)) throw new Error('GetObject returned no stream body');
    return response.Body;
  } catch (error) {
    if (hasName(error, 'NoSuchKey')) throw blobNotFound(key);
    throw storageFailed('get', key, error);
  }
}
