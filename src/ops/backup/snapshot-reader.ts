import { createHash, type Hash } from 'node:crypto';
import { Transform, Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { KeyProvider } from '../../crypto/key-provider.js';
import { createDecryptStream } from '../../crypto/stream-cipher.js';
import { SealpostError, isSealpostError } from '../../errors/sealpost-error.js';
import type { BackupTarget } from './backup-target.js';
import {
  blobCopyKey,
  corrupted,
  manifestKey,
  objectContext,
  objectKey,
  openManifest,
  parseManifest,
  snapshotKeySource,
  type BlobEntry,
  type SnapshotManifest,
} from './snapshot-format.js';

/** Progress of a long read or copy: bytes and objects, against totals set per phase. */
export interface TransferProgress {
  phase(name: string, totalBytes: number, totalObjects: number): void;
  advance(bytes: number, objects: number): void;
}

export const NO_PROGRESS: TransferProgress = { phase() {}, advance() {} };

/** Blobs read or copied at once: each local put waits on its fsyncs and each S3 call on the network, and both overlap well. */
export const BLOB_CONCURRENCY = 32;

/** The largest manifest read: JSON of a few hundred bytes, so anything bigger is not ours. */
const MAX_MANIFEST_BYTES = 64 * 1024;

export interface OpenedSnapshot {
  readonly manifest: SnapshotManifest;
  /** SHA-256 hex of manifest.json as stored. */
  readonly manifestSha256: string;
  readonly dataKey: Buffer;
}

export async function readAll(stream: Readable, limit = Infinity): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      stream.destroy();
      throw corrupted('object larger than allowed');
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Reads manifest.json, unwraps the snapshot's data key with the master key, checks the MAC. */
export async function openSnapshot(target: BackupTarget, id: string, keys: KeyProvider): Promise<OpenedSnapshot> {
  let bytes: Buffer;
  try {
    bytes = await readAll(await target.get(manifestKey(id)), MAX_MANIFEST_BYTES);
  } catch (error) {
    if (isSealpostError(error) && error.code === 'SP_ERR_STORAGE_BLOB_NOT_FOUND') {
      throw new SealpostError('SP_ERR_BACKUP_NOT_FOUND', `No snapshot ${id} in ${target.name}`);
    }
    throw error;
  }
  const manifest = parseManifest(bytes, id);
  let dataKey: Buffer;
  try {
    dataKey = await openManifest(manifest, keys);
  } catch (error) {
    if (isSealpostError(error) && (error.code === 'SP_ERR_CRYPTO_KEY_UNAVAILABLE' || error.code === 'SP_ERR_CRYPTO_DECRYPT_FAILED')) {
      throw new SealpostError(
        'SP_ERR_BACKUP_KEY_UNAVAILABLE',
        `The data key of snapshot ${id} (wrapped by ${manifest.data_key.kek_ref}) cannot be unwrapped here: import the keyring recovery file (sealpost keys import-recovery) or give access to the KMS key`,
        { cause: error },
      );
    }
    throw error;
  }
  return { manifest, manifestSha256: createHash('sha256').update(bytes).digest('hex'), dataKey };
}

/**
 * Streams one sealed object of the snapshot through its SHA-256 and the decryption into `sink`
 * (discarded when absent). Rejects with SP_ERR_BACKUP_CORRUPTED when the size, hash or any
 * authentication tag is wrong. The sink may have received verified segments before that: a
 * caller that must write nothing unverified runs this once without a sink first.
 */
export async function readSealedObject(
  target: BackupTarget,
  snapshot: OpenedSnapshot,
  object: 'database' | 'blobs',
  progress: TransferProgress,
  sink?: Writable,
): Promise<void> {
  const expected = snapshot.manifest.objects[object];
  const { measure, hash, size } = measured(progress);
  const decrypt = createDecryptStream(snapshotKeySource(snapshot.manifest.id, snapshot.dataKey), objectContext(snapshot.manifest.id, object));
  const out = sink ?? new Writable({ write: (_chunk, _encoding, callback) => callback() });
  try {
    await pipeline(await getObject(target, objectKey(snapshot.manifest.id, object)), measure, decrypt, out);
  } catch (error) {
    if (isSealpostError(error) && error.code === 'SP_ERR_CRYPTO_DECRYPT_FAILED') throw corrupted(`${object}.enc failed authentication`, { target: target.name });
    throw error;
  }
  if (size() !== expected.size || hash.digest('hex') !== expected.sha256) throw corrupted(`${object}.enc differs from its manifest entry`, { target: target.name });
  progress.advance(0, 1);
}

/** The decrypted contents of a sealed object, held in memory (the SQLite image, the blob manifest). */
export async function sealedObjectBytes(target: BackupTarget, snapshot: OpenedSnapshot, object: 'database' | 'blobs', progress: TransferProgress): Promise<Buffer> {
  const chunks: Buffer[] = [];
  await readSealedObject(
    target,
    snapshot,
    object,
    progress,
    new Writable({
      write(chunk: Buffer, _encoding, callback) {
        chunks.push(chunk);
        callback();
      },
    }),
  );
  return Buffer.concat(chunks);
}

export async function blobEntries(target: BackupTarget, snapshot: OpenedSnapshot, progress: TransferProgress): Promise<BlobEntry[]> {
  const bytes = await sealedObjectBytes(target, snapshot, 'blobs', progress);
  const parsed = JSON.parse(bytes.toString('utf8')) as { blobs?: unknown };
  if (!Array.isArray(parsed.blobs)) throw corrupted('blob manifest is malformed');
  return parsed.blobs as BlobEntry[];
}

/** Reads one blob copy, checking size and SHA-256; writes it to `sink` if given. */
export async function readBlobCopy(target: BackupTarget, entry: BlobEntry, progress: TransferProgress, sink?: (body: Readable) => Promise<unknown>): Promise<void> {
  const [key, expectedSize, expectedSha] = entry;
  const { measure, hash, size } = measured(progress);
  const source = await getObject(target, blobCopyKey(key));
  if (sink) {
    // The sink stores only a complete stream; a mismatch found at the end errors the stream first.
    const checked = new Transform({
      transform: (chunk: Buffer, _encoding, callback) => callback(null, chunk),
      flush: (callback) => callback(size() === expectedSize && hash.copy().digest('hex') === expectedSha ? null : corrupted('blob copy differs from the blob manifest', { key })),
    });
    await Promise.all([pipeline(source, measure, checked), sink(checked)]);
  } else {
    await pipeline(source, measure, new Writable({ write: (_chunk, _encoding, callback) => callback() }));
    if (size() !== expectedSize || hash.digest('hex') !== expectedSha) throw corrupted('blob copy differs from the blob manifest', { key, target: target.name });
  }
  progress.advance(0, 1);
}

/** A pass-through that hashes and counts what flows, reporting the bytes to `progress`. */
function measured(progress: TransferProgress): { measure: Transform; hash: Hash; size: () => number } {
  const hash = createHash('sha256');
  let size = 0;
  const measure = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      size += chunk.length;
      progress.advance(chunk.length, 0);
      callback(null, chunk);
    },
  });
  return { measure, hash, size: () => size };
}

async function getObject(target: BackupTarget, key: string): Promise<Readable> {
  try {
    return await target.get(key);
  } catch (error) {
    if (isSealpostError(error) && error.code === 'SP_ERR_STORAGE_BLOB_NOT_FOUND') throw corrupted('object missing', { key, target: target.name });
    throw error;
  }
}

/** Runs `work` over `items`, at most `limit` at once; the first failure rejects (the rest finish first). */
export async function forEachLimit<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: unknown;
  const runners = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (failure === undefined && next < items.length) {
      const item = items[next++] as T;
      try {
        await work(item);
      } catch (error) {
        failure ??= error;
      }
    }
  });
  await Promise.all(runners);
  if (failure !== undefined) throw failure;
}

/** Full check of one snapshot in one target: manifest MAC, both sealed objects, every blob copy. */
export async function verifySnapshot(target: BackupTarget, snapshot: OpenedSnapshot, progress: TransferProgress): Promise<{ blobs: number; bytes: number }> {
  const { manifest } = snapshot;
  progress.phase(`verifying ${target.name}`, manifest.objects.database.size + manifest.objects.blobs.size + manifest.blob_bytes, 2 + manifest.blob_count);
  await readSealedObject(target, snapshot, 'database', progress);
  const entries = await blobEntries(target, snapshot, progress);
  if (entries.length !== manifest.blob_count) throw corrupted('blob manifest does not match the blob count');
  await forEachLimit(entries, BLOB_CONCURRENCY, (entry) => readBlobCopy(target, entry, progress));
  return { blobs: entries.length, bytes: manifest.objects.database.size + manifest.objects.blobs.size + manifest.blob_bytes };
}
