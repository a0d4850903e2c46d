import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { sql, type Kysely } from 'kysely';
import type { AuditActor } from '../../audit/audit-event.js';
import type { AuditRecorder } from '../../audit/audit-recorder.js';
import { canonicalJson } from '../../crypto/canonical-json.js';
import { isId, newId } from '../../crypto/ids.js';
import type { KeyProvider } from '../../crypto/key-provider.js';
import type { RecordCipher } from '../../crypto/record-cipher.js';
import { createEncryptStream } from '../../crypto/stream-cipher.js';
import type { Database } from '../../db/schema.js';
import type { SealpostConfig } from '../../config/config.schema.js';
import { SealpostError, isSealpostError } from '../../errors/sealpost-error.js';
import type { Logger } from '../../logging/logger.js';
import type { BlobStore } from '../../storage/blob-store.js';
import type { BackupRepository, SnapshotRow } from './backup.repository.js';
import { snapshotsToPrune } from './backup-retention.js';
import type { BackupTarget, StoredObject } from './backup-target.js';
import { pgDump, readFacts, serializeSqlite, type DatabaseFacts } from './database-dump.js';
import {
  BLOB_CONCURRENCY,
  NO_PROGRESS,
  blobEntries,
  forEachLimit,
  openSnapshot,
  readAll,
  verifySnapshot,
  type TransferProgress,
} from './snapshot-reader.js';
import {
  SNAPSHOT_FORMAT,
  blobCopyKey,
  corrupted,
  manifestKey,
  objectContext,
  objectKey,
  parseManifest,
  sealManifest,
  snapshotKeySource,
  snapshotPrefix,
  type BlobEntry,
  type Environment,
  type SnapshotManifest,
} from './snapshot-format.js';

export interface BackupDeps {
  readonly db: Kysely<Database>;
  readonly database: SealpostConfig['database'];
  readonly keyProvider: KeyProvider;
  /** Reads raw e-mail references out of sealed envelopes. */
  readonly cipher: RecordCipher;
  /** The live blob store, raw: blobs are copied as stored (sealed). */
  readonly blobs: BlobStore;
  readonly target: BackupTarget;
  readonly replica: BackupTarget;
  readonly environment: Environment;
  readonly repository: BackupRepository;
  /** Records `backup.created` and `backup.pruned` (the `backup` effect). */
  readonly record: AuditRecorder;
  readonly logger: Logger;
  readonly now?: () => number;
}

export interface SnapshotSummary {
  readonly id: string;
  readonly createdAt: string;
  readonly environment: Environment;
  readonly databaseBytes: number;
  readonly blobCount: number;
  readonly blobBytes: number;
  readonly blobsCopied: number;
  readonly rowCounts: Record<string, number>;
  readonly durationMs: number;
}

/** One snapshot as each target holds it (`backup list`). */
export interface ListedSnapshot {
  readonly id: string;
  readonly createdAt: string | null;
  readonly environment: string | null;
  /** SHA-256 of manifest.json in each target; null where missing. */
  readonly target: string | null;
  readonly replica: string | null;
  readonly status: 'ok' | 'missing-in-target' | 'missing-in-replica' | 'differs' | 'unreadable';
}

/**
 * Snapshots (DESIGN §1 scheduler "backups"): a consistent dump of the database and the manifest
 * of its blobs, sealed under the snapshot's own data key, put in the target, copied to the
 * replica, read back from both and compared, then recorded with a `backup.created` event.
 */
export class BackupService {
  private readonly now: () => number;

  constructor(private readonly deps: BackupDeps) {
    this.now = deps.now ?? Date.now;
  }

  get targets(): { target: BackupTarget; replica: BackupTarget } {
    return { target: this.deps.target, replica: this.deps.replica };
  }

  async create(actor: AuditActor): Promise<SnapshotSummary> {
    const { target, replica, keyProvider } = this.deps;
    const started = this.now();
    const id = newId('backup', started);
    const generated = await keyProvider.generateDataKey(id);
    const dataKey = generated.plaintext;
    try {
      const keys = snapshotKeySource(id, dataKey);
      const seal = async (object: 'database' | 'blobs', plaintext: Readable): Promise<StoredObject> => {
        const encrypt = await createEncryptStream(keys, objectContext(id, object));
        // A failed put ends the cipher too, so the source (pg_dump's stdout) is not left blocked.
        const put = target.put(objectKey(id, object), encrypt).catch((error: unknown) => {
          encrypt.destroy(error as Error);
          throw error;
        });
        const [stored] = await Promise.all([put, pipeline(plaintext, encrypt)]);
        return stored;
      };

      let facts: DatabaseFacts;
      let database: StoredObject;
      if (this.deps.database.dialect === 'sqlite') {
        const snapshot = await serializeSqlite(this.deps.database.file, this.deps.cipher);
        facts = snapshot.facts;
        database = await seal('database', Readable.from([snapshot.image]));
        snapshot.image.fill(0);
      } else {
        const url = this.deps.database.url;
        // The dump runs on this transaction's exported snapshot, so counts, blob list and dump agree.
        [facts, database] = await this.deps.db
          .transaction()
          .setIsolationLevel('repeatable read')
          .execute(async (tx) => {
            const exported = await sql<{ id: string }>`select pg_export_snapshot() as id`.execute(tx);
            const dump = pgDump(url, exported.rows[0]?.id ?? '');
            try {
              const [s, f] = await Promise.all([seal('database', dump.stream), readFacts(tx, 'postgres', this.deps.cipher), dump.done]);
              return [f, s] as const;
            } catch (error) {
              dump.kill();
              throw error;
            }
          });
      }

      const { entries, copied } = await this.copyBlobs(facts.blobKeys);
      const blobs = await seal('blobs', Readable.from([Buffer.from(JSON.stringify({ blobs: entries }), 'utf8')]));
      const manifest = sealManifest(
        {
          format: SNAPSHOT_FORMAT,
          id,
          created_at: new Date(started).toISOString(),
          environment: this.deps.environment,
          dialect: this.deps.database.dialect,
          schema: facts.schema,
          data_key: { provider: generated.provider, kek_ref: generated.kekRef, wrapped: generated.wrapped.toString('base64') },
          objects: { database, blobs },
          blob_count: entries.length,
          blob_bytes: entries.reduce((sum, e) => sum + e[1], 0),
          row_counts: facts.rowCounts,
        },
        dataKey,
      );
      const manifestBytes = Buffer.from(JSON.stringify(manifest, null, 2), 'utf8');
      const manifestDigest = await target.put(manifestKey(id), Readable.from([manifestBytes]));
      // The replica gets a copy read back from the target: what the target holds is what is replicated.
      for (const key of [objectKey(id, 'database'), objectKey(id, 'blobs'), manifestKey(id)]) await copyBetween(target, replica, key, key);
      await this.verifyPlaced(manifest, manifestDigest, copied);

      const durationMs = this.now() - started;
      const row = {
        id,
        created_at: started,
        environment: this.deps.environment,
        dialect: this.deps.database.dialect,
        row_counts: JSON.stringify(facts.rowCounts),
        database_bytes: database.size,
        blob_count: entries.length,
        blob_bytes: manifest.blob_bytes,
        blobs_copied: copied.length,
        manifest_sha256: manifestDigest.sha256,
        database_sha256: database.sha256,
        blobs_sha256: blobs.sha256,
        target: target.name,
        replica: replica.name,
        duration_ms: durationMs,
      };
      await this.deps.db.transaction().execute(async (tx) => {
        await this.deps.repository.insertSnapshot(tx, row);
        await this.deps.record(tx, {
          tenant: null,
          actor,
          action: 'backup.created',
          resource: id,
          details: {
            environment: this.deps.environment,
            manifest_sha256: manifestDigest.sha256,
            database_bytes: database.size,
            blob_count: entries.length,
            blobs_copied: copied.length,
            target: target.name,
            replica: replica.name,
          },
        });
      });
      return {
        id,
        createdAt: manifest.created_at,
        environment: this.deps.environment,
        databaseBytes: database.size,
        blobCount: entries.length,
        blobBytes: manifest.blob_bytes,
        blobsCopied: copied.length,
        rowCounts: facts.rowCounts,
        durationMs,
      };
    } finally {
      dataKey.fill(0);
    }
  }

  /**
   * Copies the blobs both targets lack. A blob is immutable once stored under its key, so one
   * present in both targets with the size the previous snapshot recorded is not read again.
   */
  private async copyBlobs(keys: readonly string[]): Promise<{ entries: BlobEntry[]; copied: BlobEntry[] }> {
    const { target, replica } = this.deps;
    const known = await this.previousBlobEntries();
    const [inTarget, inReplica] = await Promise.all([target.list('blobs/'), replica.list('blobs/')]);
    const inBoth = new Set(inReplica);
    const present = new Set(inTarget.filter((k) => inBoth.has(k)));
    const entries: BlobEntry[] = [];
    const copied: BlobEntry[] = [];
    let missing = 0;
    await forEachLimit(keys, BLOB_CONCURRENCY, async (key) => {
      const previous = known.get(key);
      if (previous && present.has(blobCopyKey(key))) {
        entries.push(previous);
        return;
      }
      let stored: StoredObject;
      try {
        stored = await target.put(blobCopyKey(key), await this.deps.blobs.get(key));
      } catch (error) {
        // Deleted by retention since the dump: the snapshot's row refers to a blob that is gone by design.
        if (isSealpostError(error) && error.code === 'SP_ERR_STORAGE_BLOB_NOT_FOUND') {
          missing++;
          return;
        }
        throw error;
      }
      await copyBetween(target, replica, blobCopyKey(key), blobCopyKey(key), stored);
      const entry: BlobEntry = [key, stored.size, stored.sha256];
      entries.push(entry);
      copied.push(entry);
    });
    if (missing > 0) this.deps.logger.warn({ missing }, 'backup: blobs deleted between the dump and their copy were left out');
    entries.sort((a, b) => (a[0] < b[0] ? -1 : 1));
    return { entries, copied };
  }

  /** The blob manifest of the newest snapshot still in the target, or nothing (then every blob is copied). */
  private async previousBlobEntries(): Promise<Map<string, BlobEntry>> {
    const latest = (await this.deps.repository.liveSnapshots())[0];
    if (!latest) return new Map();
    try {
      const opened = await openSnapshot(this.deps.target, latest.id, this.deps.keyProvider);
      return new Map((await blobEntries(this.deps.target, opened, NO_PROGRESS)).map((e) => [e[0], e]));
    } catch (error) {
      this.deps.logger.warn({ err: error, snapshot: latest.id }, 'backup: previous blob manifest unreadable; copying every blob');
      return new Map();
    }
  }

  /** Reads back the snapshot's objects and the blobs this run copied from both targets; sizes of the others. */
  private async verifyPlaced(manifest: SnapshotManifest, manifestDigest: StoredObject, copied: readonly BlobEntry[]): Promise<void> {
    const { target, replica } = this.deps;
    for (const place of [target, replica]) {
      const manifestBack = await digestOf(place, manifestKey(manifest.id));
      if (manifestBack.sha256 !== manifestDigest.sha256) throw corrupted('manifest read back differs', { target: place.name });
      for (const object of ['database', 'blobs'] as const) {
        const back = await digestOf(place, objectKey(manifest.id, object));
        if (back.sha256 !== manifest.objects[object].sha256 || back.size !== manifest.objects[object].size) throw corrupted(`${object}.enc read back differs`, { target: place.name });
      }
      await forEachLimit(copied, BLOB_CONCURRENCY, async ([key, size, sha256]) => {
        const back = await digestOf(place, blobCopyKey(key));
        if (back.sha256 !== sha256 || back.size !== size) throw corrupted('blob copy read back differs', { key, target: place.name });
      });
    }
  }

  /** Both targets side by side: every snapshot either holds, with any missing or differing copy flagged. */
  async list(): Promise<ListedSnapshot[]> {
    const { target, replica } = this.deps;
    const [a, b] = await Promise.all([manifestsIn(target), manifestsIn(replica)]);
    const ids = [...new Set([...a.keys(), ...b.keys()])].sort().reverse();
    return ids.map((id) => {
      const inTarget = a.get(id);
      const inReplica = b.get(id);
      const described = inTarget?.manifest ?? inReplica?.manifest;
      const status: ListedSnapshot['status'] =
        !inTarget ? 'missing-in-target'
        : !inReplica ? 'missing-in-replica'
        : !inTarget.manifest || !inReplica.manifest ? 'unreadable'
        : inTarget.sha256 !== inReplica.sha256 ? 'differs'
        : 'ok';
      return {
        id,
        createdAt: described?.created_at ?? null,
        environment: described?.environment ?? null,
        target: inTarget?.sha256 ?? null,
        replica: inReplica?.sha256 ?? null,
        status,
      };
    });
  }

  /** Downloads and checks one snapshot in `from` (default: both) without restoring anything. */
  async verify(id: string, from: 'target' | 'replica' | 'both', progress: TransferProgress = NO_PROGRESS): Promise<{ target: string; blobs: number; bytes: number }[]> {
    assertSnapshotId(id);
    const places = from === 'both' ? [this.deps.target, this.deps.replica] : [this.deps[from]];
    const results = [];
    for (const place of places) {
      const opened = await openSnapshot(place, id, this.deps.keyProvider);
      results.push({ target: place.name, ...(await verifySnapshot(place, opened, progress)) });
    }
    return results;
  }

  /** Newest snapshot id in the database's record (the scheduler's and the drill's "latest"). */
  async latest(): Promise<SnapshotRow | undefined> {
    return (await this.deps.repository.liveSnapshots())[0];
  }

  /**
   * Applies the retention schedule: snapshots it no longer keeps are deleted from both targets
   * (manifest last, so a half-deleted snapshot no longer lists as whole). Blob copies are kept:
   * they are sealed, and newer snapshots share them.
   */
  async prune(actor: AuditActor): Promise<string[]> {
    const live = await this.deps.repository.liveSnapshots();
    const { prune } = snapshotsToPrune(live.map((s) => ({ id: s.id, createdAt: s.created_at })), this.now());
    for (const id of prune) {
      for (const place of [this.deps.target, this.deps.replica]) {
        for (const key of [objectKey(id, 'database'), objectKey(id, 'blobs'), manifestKey(id)]) await place.delete(key);
      }
      await this.deps.db.transaction().execute(async (tx) => {
        await this.deps.repository.markPruned(tx, id, this.now());
        await this.deps.record(tx, { tenant: null, actor, action: 'backup.pruned', resource: id });
      });
    }
    return prune;
  }
}

export function assertSnapshotId(id: string): void {
  if (!isId('backup', id)) throw new SealpostError('SP_ERR_BACKUP_NOT_FOUND', 'Not a snapshot id (bak_<ULID>)');
}

async function digestOf(place: BackupTarget, key: string): Promise<StoredObject> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of await place.get(key)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { size, sha256: hash.digest('hex') };
}

/** Copies one object from `from` to `to` and checks the copy's digest against `expected` (the source's, if not given). */
async function copyBetween(from: BackupTarget, to: BackupTarget, fromKey: string, toKey: string, expected?: StoredObject): Promise<void> {
  const stored = await to.put(toKey, await from.get(fromKey));
  const want = expected ?? (await digestOf(from, fromKey));
  if (stored.sha256 !== want.sha256 || stored.size !== want.size) throw corrupted('replica copy differs from the target', { key: toKey, to: to.name });
}

/** Every manifest in `place` by snapshot id, with the SHA-256 of its bytes; unparsable ones have no manifest. */
export async function manifestsIn(place: BackupTarget): Promise<Map<string, { sha256: string; manifest: SnapshotManifest | undefined }>> {
  const out = new Map<string, { sha256: string; manifest: SnapshotManifest | undefined }>();
  const keys = (await place.list(snapshotPrefix('x').replace(/x\/$/, ''))).filter((k) => k.endsWith('/manifest.json'));
  await forEachLimit(keys, BLOB_CONCURRENCY, async (key) => {
    const bytes = await readAll(await place.get(key), 64 * 1024).catch(() => Buffer.alloc(0));
    let manifest: SnapshotManifest | undefined;
    try {
      manifest = parseManifest(bytes);
    } catch {
      manifest = undefined;
    }
    const id = manifest?.id ?? key.split('/')[1]?.toUpperCase().replace(/^BAK_/, 'bak_') ?? key;
    out.set(id, { sha256: createHash('sha256').update(bytes).digest('hex'), manifest });
  });
  return out;
}

/** Exposed for the JSON output of `backup create` and the drill's report. */
export function digestJson(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex');
}
