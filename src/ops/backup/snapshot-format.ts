import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import { canonicalJson } from '../../crypto/canonical-json.js';
import type { DataKeySource } from '../../crypto/data-key-source.js';
import type { KeyProvider, KeyProviderName } from '../../crypto/key-provider.js';
import { isId } from '../../crypto/ids.js';
import { SealpostError } from '../../errors/sealpost-error.js';

/*
 * A snapshot in a backup target (both targets hold the same bytes):
 *
 *   snapshots/<id>/manifest.json   plain JSON, authenticated by `mac` (below)
 *   snapshots/<id>/database.enc    the database dump, STREAM-sealed (src/crypto/stream-cipher.ts)
 *   snapshots/<id>/blobs.enc       the blob manifest (every blob key, size, SHA-256), STREAM-sealed
 *   blobs/<blob key>               the blobs, copied as stored (already sealed at rest); shared by snapshots
 *
 * Each snapshot has its own 256-bit data key from the key provider, bound to the snapshot id
 * (AES-GCM AAD locally, the KMS encryption context), stored wrapped in the manifest: the
 * snapshot holds no key material that opens anything without the master key. The manifest's
 * MAC (HMAC-SHA256 under a key derived from the data key) covers every field, including the
 * SHA-256 of each sealed object, so a flipped bit anywhere is found before anything is written.
 */

export const SNAPSHOT_FORMAT = 'sealpost-backup-v1';
const MAC_INFO = Buffer.from('sealpost-backup-manifest-v1', 'ascii');

export type Environment = 'production' | 'staging' | 'development';

export interface ObjectDigest {
  readonly size: number;
  readonly sha256: string;
}

/** The manifest as stored, `mac` included. */
export interface SnapshotManifest {
  readonly format: typeof SNAPSHOT_FORMAT;
  readonly id: string;
  readonly created_at: string;
  readonly environment: Environment;
  readonly dialect: 'sqlite' | 'postgres';
  /** The newest migration applied when the dump was taken. */
  readonly schema: string;
  readonly data_key: { readonly provider: KeyProviderName; readonly kek_ref: string; readonly wrapped: string };
  readonly objects: { readonly database: ObjectDigest; readonly blobs: ObjectDigest };
  readonly blob_count: number;
  readonly blob_bytes: number;
  readonly row_counts: Readonly<Record<string, number>>;
  readonly mac: string;
}

/** One blob of the blob manifest: key, size and SHA-256 of the stored (sealed) bytes. */
export type BlobEntry = readonly [key: string, size: number, sha256: string];

export function snapshotPrefix(id: string): string {
  return `snapshots/${id.toLowerCase()}/`;
}

export function manifestKey(id: string): string {
  return `${snapshotPrefix(id)}manifest.json`;
}

export function objectKey(id: string, object: 'database' | 'blobs'): string {
  return `${snapshotPrefix(id)}${object}.enc`;
}

export function blobCopyKey(blobKey: string): string {
  return `blobs/${blobKey}`;
}

/** Binds each sealed object to its snapshot and role: database.enc of one snapshot never opens as another's. */
export function objectContext(id: string, object: 'database' | 'blobs'): string {
  return JSON.stringify([SNAPSHOT_FORMAT, id, object]);
}

/** The snapshot's data key as the stream cipher takes it; it opens nothing but this snapshot. */
export function snapshotKeySource(id: string, key: Buffer): DataKeySource {
  const dataKey = { id, key };
  return {
    currentDataKey: async () => dataKey,
    dataKeyById: async (wanted) => {
      if (wanted !== id) throw corrupted('sealed object names another data key');
      return dataKey;
    },
  };
}

function macKey(dataKey: Buffer, id: string): Buffer {
  return Buffer.from(hkdfSync('sha256', dataKey, Buffer.from(id, 'ascii'), MAC_INFO, 32));
}

export function sealManifest(manifest: Omit<SnapshotManifest, 'mac'>, dataKey: Buffer): SnapshotManifest {
  const mac = createHmac('sha256', macKey(dataKey, manifest.id)).update(canonicalJson(manifest)).digest('base64');
  return { ...manifest, mac };
}

/** Parses manifest.json without trusting it: enough to list it and to find its data key. */
export function parseManifest(bytes: Buffer, expectedId?: string): SnapshotManifest {
  let value: Partial<SnapshotManifest>;
  try {
    value = JSON.parse(bytes.toString('utf8')) as Partial<SnapshotManifest>;
  } catch {
    throw corrupted('manifest is not JSON');
  }
  const ok =
    value.format === SNAPSHOT_FORMAT &&
    typeof value.id === 'string' &&
    isId('backup', value.id) &&
    (expectedId === undefined || value.id === expectedId) &&
    typeof value.mac === 'string' &&
    typeof value.data_key?.wrapped === 'string' &&
    typeof value.objects?.database?.sha256 === 'string' &&
    typeof value.objects.blobs?.sha256 === 'string';
  if (!ok) throw corrupted('manifest fields are missing or malformed');
  return value as SnapshotManifest;
}

/** Unwraps the snapshot's data key with the master key and checks the manifest's MAC; returns the data key. */
export async function openManifest(manifest: SnapshotManifest, keys: KeyProvider): Promise<Buffer> {
  const dataKey = await keys.decryptDataKey(manifest.id, {
    provider: manifest.data_key.provider,
    kekRef: manifest.data_key.kek_ref,
    wrapped: Buffer.from(manifest.data_key.wrapped, 'base64'),
  });
  const { mac, ...rest } = manifest;
  const expected = createHmac('sha256', macKey(dataKey, manifest.id)).update(canonicalJson(rest)).digest();
  const given = Buffer.from(mac, 'base64');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw corrupted('manifest MAC does not verify');
  return dataKey;
}

export function corrupted(reason: string, logDetail: Record<string, unknown> = {}): SealpostError {
  return new SealpostError('SP_ERR_BACKUP_CORRUPTED', 'The snapshot is corrupted or incomplete', { logDetail: { reason, ...logDetail } });
}
