import type { S3Client } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform, pipeline } from 'node:stream';
import { SealpostError } from '../../errors/sealpost-error.js';
import { assertValidBlobKey, storageFailed } from '../../storage/blob-store.js';
import { LocalBlobStore } from '../../storage/local-blob-store.js';
import { getS3Object } from '../../storage/s3-blob-store.js';
import { loadS3, loadS3Upload, s3Client } from '../../storage/s3-client.js';

/** What was stored: the byte count and SHA-256 (hex) of exactly the bytes the target holds. */
export interface StoredObject {
  readonly size: number;
  readonly sha256: string;
}

/**
 * One place snapshots go: a directory or an S3 bucket and prefix. Keys follow the blob-key rules
 * (assertValidBlobKey), so they mean the same on disk and in S3.
 */
export interface BackupTarget {
  /** `dir:/path` or `s3://bucket/prefix`: for messages; holds no credential. */
  readonly name: string;
  /** Stores the stream under `key` (visible only once complete) and returns its size and SHA-256. */
  put(key: string, body: Readable): Promise<StoredObject>;
  get(key: string): Promise<Readable>;
  /** Size of the object, or undefined when there is none. */
  size(key: string): Promise<number | undefined>;
  /** Every key under `prefix` (ending in `/`). */
  list(prefix: string): Promise<string[]>;
  delete(key: string): Promise<void>;
  close(): Promise<void>;
}

export interface BackupTargetOptions {
  /** Absolute directory, or `s3://bucket[/prefix]`. */
  readonly location: string;
  readonly endpoint?: string;
  readonly region?: string;
  /** Path-style addressing; on whenever an endpoint is given (S3-compatible stores need it). */
  readonly forcePathStyle?: boolean;
  /** Tests only; production uses the AWS SDK default credential chain. */
  readonly credentials?: { accessKeyId: string; secretAccessKey: string };
}

/** Opens the directory (created 0700) or the S3 client for `location`. */
export async function openBackupTarget(options: BackupTargetOptions): Promise<BackupTarget> {
  if (options.location.startsWith('s3://')) return new S3Target(options);
  if (!path.isAbsolute(options.location)) {
    throw new SealpostError('SP_ERR_CONFIG_INVALID', 'A backup target is an absolute directory or s3://bucket/prefix');
  }
  return DirectoryTarget.open(options.location);
}

/** Counts and hashes what flows through, so every put reports what it stored without a second read. */
function measuring(): { stream: Transform; result(): StoredObject } {
  const hash = createHash('sha256');
  let size = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      size += chunk.length;
      callback(null, chunk);
    },
  });
  return { stream, result: () => ({ size, sha256: hash.digest('hex') }) };
}

class DirectoryTarget implements BackupTarget {
  private constructor(
    readonly name: string,
    private readonly store: LocalBlobStore,
  ) {}

  static async open(dir: string): Promise<DirectoryTarget> {
    return new DirectoryTarget(`dir:${dir}`, await LocalBlobStore.open(dir));
  }

  async put(key: string, body: Readable): Promise<StoredObject> {
    const measure = measuring();
    const piped = pipeline(body, measure.stream, () => {});
    await this.store.put(key, piped);
    return measure.result();
  }

  get(key: string): Promise<Readable> {
    return this.store.get(key);
  }

  async size(key: string): Promise<number | undefined> {
    assertValidBlobKey(key);
    try {
      const info = await stat(path.join(this.store.root, ...key.split('/')));
      return info.isFile() ? info.size : undefined;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
      throw storageFailed('size', key, error);
    }
  }

  async list(prefix: string): Promise<string[]> {
    const start = path.join(this.store.root, ...prefix.split('/').filter((s) => s.length > 0));
    let entries;
    try {
      entries = await readdir(start, { recursive: true, withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw storageFailed('list', prefix, error);
    }
    return entries
      .filter((e) => e.isFile())
      .map((e) => path.relative(this.store.root, path.join(e.parentPath, e.name)).split(path.sep).join('/'))
      .filter((key) => !key.split('/').some((segment) => segment.startsWith('.')))
      .sort();
  }

  delete(key: string): Promise<void> {
    return this.store.delete(key);
  }

  close(): Promise<void> {
    return this.store.close();
  }
}

/** S3's minimum part size; larger objects go up as multipart uploads, two parts in flight. */
const PART_BYTES = 5 * 1024 * 1024;

class S3Target implements BackupTarget {
  readonly name: string;
  private readonly client: Promise<S3Client>;
  private readonly bucket: string;
  private readonly prefix: string;

  constructor(options: BackupTargetOptions) {
    const [bucket = '', ...rest] = options.location.slice('s3://'.length).split('/');
    if (bucket === '') throw new SealpostError('SP_ERR_CONFIG_INVALID', 'A backup target is an absolute directory or s3://bucket/prefix');
    this.bucket = bucket;
    const prefix = rest.filter((segment) => segment !== '').join('/');
    if (prefix !== '') assertValidBlobKey(prefix);
    this.prefix = prefix === '' ? '' : `${prefix}/`;
    this.name = `s3://${this.bucket}/${this.prefix}`;
    this.client = s3Client({
      ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' }),
      ...(options.region === undefined ? {} : { region: options.region }),
      ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
      forcePathStyle: options.forcePathStyle ?? options.endpoint !== undefined,
    });
  }

  async put(key: string, body: Readable): Promise<StoredObject> {
    assertValidBlobKey(key);
    const measure = measuring();
    let bodyError: unknown;
    pipeline(body, measure.stream, (error) => {
      bodyError ??= error;
    });
    try {
      const [{ Upload }, client] = await Promise.all([loadS3Upload(), this.client]);
      const upload = new Upload({ client, params: { Bucket: this.bucket, Key: this.prefix + key, Body: measure.stream }, partSize: PART_BYTES, queueSize: 2 });
      await upload.done();
    } catch (error) {
      measure.stream.destroy();
      if (bodyError !== undefined && bodyError !== null) throw bodyError;
      throw storageFailed('put', key, error);
    }
    return measure.result();
  }

  async get(key: string): Promise<Readable> {
    return getS3Object(await this.client, this.bucket, this.prefix, key);
  }

  async size(key: string): Promise<number | undefined> {
    assertValidBlobKey(key);
    const { HeadObjectCommand } = await loadS3();
    try {
      const head = await (await this.client).send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }));
      return head.ContentLength ?? 0;
    } catch (error) {
      if (error instanceof Error && (error.name === 'NotFound' || error.name === 'NoSuchKey')) return undefined;
      throw storageFailed('size', key, error);
    }
  }

  async list(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    const [{ ListObjectsV2Command }, client] = await Promise.all([loadS3(), this.client]);
    try {
      do {
        const page = await client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.prefix + prefix, ContinuationToken: token }));
        for (const object of page.Contents ?? []) if (object.Key) keys.push(object.Key.slice(this.prefix.length));
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token !== undefined);
    } catch (error) {
      throw storageFailed('list', prefix, error);
    }
    return keys.sort();
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

  async close(): Promise<void> {
    (await this.client).destroy();
  }
}
