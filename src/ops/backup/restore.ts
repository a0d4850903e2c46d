import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { sql, type Kysely } from 'kysely';
import type { AuditActor } from '../../audit/audit-event.js';
import { AuditLog } from '../../audit/audit-log.js';
import type { KeyProvider } from '../../crypto/key-provider.js';
import { openDatabase } from '../../db/database.js';
import { migrateToLatest } from '../../db/migrator.js';
import type { Database } from '../../db/schema.js';
import { SealpostError } from '../../errors/sealpost-error.js';
import type { BlobStore } from '../../storage/blob-store.js';
import { assertSnapshotId } from './backup.service.js';
import type { BackupTarget } from './backup-target.js';
import { checkSqliteImage, pgRestore } from './database-dump.js';
import { BLOB_CONCURRENCY, blobEntries, forEachLimit, openSnapshot, readBlobCopy, readSealedObject, sealedObjectBytes, type TransferProgress } from './snapshot-reader.js';
import type { ScrubResult } from './scrub.js';
import { corrupted, type Environment, type SnapshotManifest } from './snapshot-format.js';

/** Where a restore writes: a data dir (SQLite `sealpost.db` and, with the local blob store, `blobs/`) or a PostgreSQL database. */
export type RestoreDestination = { readonly dialect: 'sqlite'; readonly dir: string } | { readonly dialect: 'postgres'; readonly url: string };

export interface RestoreOptions {
  readonly id: string;
  /** The target read from (the replica, for a drill or after losing the primary region). */
  readonly source: BackupTarget;
  /** The restoring deployment's master key: it must unwrap the snapshot's data key. */
  readonly keyProvider: KeyProvider;
  readonly to: RestoreDestination;
  /** Opens the blob store the blobs go to (of the restoring deployment). */
  readonly openBlobStore: () => Promise<BlobStore>;
  /** `SEALPOST_ENVIRONMENT` of the restoring deployment. */
  readonly environment: Environment;
  readonly force: boolean;
  /**
   * Replaces contents with synthetic values after writing (restore.ts docs, scrub.ts); required
   * to bring a production snapshot into another environment. Built in src/app/ (it needs a cipher).
   */
  readonly scrub?: (db: Kysely<Database>, blobs: BlobStore) => Promise<ScrubResult>;
  readonly progress: TransferProgress;
  readonly actor: AuditActor;
}

export interface RestoreResult {
  readonly manifest: SnapshotManifest;
  readonly bytes: number;
  readonly blobs: number;
  readonly durationMs: number;
  readonly scrubbed?: ScrubResult;
}

/** Tables that a freshly migrated, never-used database already has rows in. */
const EMPTY_DATABASE_TABLES = new Set(['schema_migrations', 'audit_log_head']);

/**
 * Restores one snapshot. Everything is checked first (manifest MAC, the database object's hash
 * and every authentication tag, the blob manifest, every blob copy's size and SHA-256) and the
 * destination is found empty (or `force`), before the first byte is written.
 */
export async function restoreSnapshot(options: RestoreOptions): Promise<RestoreResult> {
  const started = Date.now();
  assertSnapshotId(options.id);
  const { source, progress } = options;
  const opened = await openSnapshot(source, options.id, options.keyProvider);
  const { manifest } = opened;
  if (manifest.environment === 'production' && options.environment !== 'production' && !options.scrub) {
    throw new SealpostError('SP_ERR_BACKUP_ENVIRONMENT_REFUSED', `Snapshot ${manifest.id} holds production data and this deployment is ${options.environment}; restore it with --scrub`);
  }
  if (manifest.dialect !== options.to.dialect) {
    throw new SealpostError('SP_ERR_CONFIG_INVALID', `Snapshot ${manifest.id} is a ${manifest.dialect} database; restore it --to a ${manifest.dialect === 'sqlite' ? 'data directory' : 'postgres:// URL'}`);
  }
  await assertEmpty(options.to, options.force);

  // 1. Verify everything, writing nothing.
  const total = manifest.objects.database.size + manifest.objects.blobs.size + manifest.blob_bytes;
  progress.phase('verifying', total, 2 + manifest.blob_count);
  const image = manifest.dialect === 'sqlite' ? await sealedObjectBytes(source, opened, 'database', progress) : undefined;
  if (image) checkSqliteImage(image);
  else await readSealedObject(source, opened, 'database', progress);
  const entries = await blobEntries(source, opened, progress);
  if (entries.length !== manifest.blob_count) throw corrupted('blob manifest does not match the blob count');
  await forEachLimit(entries, BLOB_CONCURRENCY, (entry) => readBlobCopy(source, entry, progress));

  // 2. Write: the database, then the blobs (each re-checked as it streams into the store).
  progress.phase('restoring', manifest.objects.database.size + manifest.blob_bytes, 1 + manifest.blob_count);
  if (options.to.dialect === 'sqlite') {
    writeSqliteImage(path.join(options.to.dir, 'sealpost.db'), image as Buffer);
    image?.fill(0);
    progress.advance(manifest.objects.database.size, 1);
  } else {
    await restorePostgres(options.to.url, (sink) => readSealedObject(source, opened, 'database', { phase() {}, advance: (b, o) => progress.advance(b, o) }, sink));
  }
  const store = await options.openBlobStore();
  const database = openDatabase(options.to.dialect === 'sqlite' ? { dialect: 'sqlite', file: path.join(options.to.dir, 'sealpost.db') } : { dialect: 'postgres', url: options.to.url });
  let scrubbed: ScrubResult | undefined;
  try {
    await forEachLimit(entries, BLOB_CONCURRENCY, (entry) => readBlobCopy(source, entry, progress, (body) => store.put(entry[0], body)));
    await migrateToLatest(database.db, database.dialect);
    if (options.scrub) {
      progress.phase('scrubbing', 0, 0);
      try {
        scrubbed = await options.scrub(database.db, store);
        // Rewrite the file so no free page keeps a production row (PostgreSQL: VACUUM FULL of the two tables).
        if (database.dialect === 'sqlite') await sql`vacuum`.execute(database.db);
        else await sql`vacuum full payloads, attachments, delivery_attempts`.execute(database.db);
      } catch (error) {
        // Half-scrubbed production data must not stay behind.
        await wipe(options.to, store, entries.map((e) => e[0])).catch(() => undefined);
        throw error;
      }
    }
    // 3. The restored deployment's own log says where its data came from, and that it was scrubbed.
    const log = new AuditLog();
    const time = new Date().toISOString();
    await log.appendInOwnTransaction(database.db, {
      time,
      tenant: null,
      actor: options.actor,
      action: 'backup.restored',
      resource: manifest.id,
      details: { source: source.name, snapshot_environment: manifest.environment, environment: options.environment, snapshot_created_at: manifest.created_at, blobs: entries.length, scrubbed: scrubbed !== undefined },
    });
    if (scrubbed) {
      await log.appendInOwnTransaction(database.db, {
        time,
        tenant: null,
        actor: options.actor,
        action: 'backup.scrubbed',
        resource: manifest.id,
        details: { payloads: scrubbed.payloads, attachments: scrubbed.attachments, raw_messages: scrubbed.rawMessages, attempt_responses: scrubbed.attemptResponses, erased_payloads: scrubbed.erasedPayloads },
      });
    }
  } finally {
    await store.close();
    await database.close();
  }
  return { manifest, bytes: total, blobs: entries.length, durationMs: Date.now() - started, ...(scrubbed ? { scrubbed } : {}) };
}

/** Removes what a failed scrub leaves: the database contents and the restored blobs. */
async function wipe(to: RestoreDestination, store: BlobStore, keys: readonly string[]): Promise<void> {
  for (const key of keys) await store.delete(key);
  if (to.dialect === 'sqlite') {
    for (const suffix of ['', '-wal', '-shm']) rmSync(path.join(to.dir, `sealpost.db${suffix}`), { force: true });
    return;
  }
  const database = openDatabase({ dialect: 'postgres', url: to.url });
  try {
    await sql`drop schema if exists public cascade`.execute(database.db);
    await sql`create schema public`.execute(database.db);
  } finally {
    await database.close();
  }
}

async function assertEmpty(to: RestoreDestination, force: boolean): Promise<void> {
  if (force) return;
  const notEmpty = (what: string): SealpostError =>
    new SealpostError('SP_ERR_BACKUP_TARGET_NOT_EMPTY', `${what} is not empty; --force replaces it`);
  if (to.dialect === 'sqlite') {
    const blobs = path.join(to.dir, 'blobs');
    if (existsSync(blobs) && readdirSync(blobs).some((name) => !name.startsWith('.'))) throw notEmpty(blobs);
    const file = path.join(to.dir, 'sealpost.db');
    if (!existsSync(file) || statSync(file).size === 0) return;
    const database = openDatabase({ dialect: 'sqlite', file });
    try {
      if (await holdsData(database.db, 'sqlite')) throw notEmpty(file);
    } finally {
      await database.close();
    }
    return;
  }
  const database = openDatabase({ dialect: 'postgres', url: to.url });
  try {
    if (await holdsData(database.db, 'postgres')) throw notEmpty('The database');
  } finally {
    await database.close();
  }
}

/** Any row outside the tables a fresh migration fills. */
export async function holdsData(db: Kysely<Database>, dialect: 'sqlite' | 'postgres'): Promise<boolean> {
  const tables =
    dialect === 'sqlite'
      ? await sql<{ name: string }>`select name from sqlite_master where type = 'table' and name not like 'sqlite_%'`.execute(db)
      : await sql<{ name: string }>`select table_name as name from information_schema.tables where table_schema = current_schema() and table_type = 'BASE TABLE'`.execute(db);
  for (const { name } of tables.rows) {
    if (EMPTY_DATABASE_TABLES.has(name)) continue;
    const row = await sql<{ one: number }>`select 1 as one from ${sql.table(name)} limit 1`.execute(db);
    if (row.rows.length > 0) return true;
  }
  return false;
}

/** Writes the verified image beside the destination and renames it into place; stale WAL files of a replaced database go first. */
function writeSqliteImage(file: string, image: Buffer): void {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const temp = `${file}.restore-${process.pid}.tmp`;
  const fd = openSync(temp, 'w', 0o600);
  try {
    let offset = 0;
    while (offset < image.length) offset += writeSync(fd, image, offset, image.length - offset);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  for (const stale of [`${file}-wal`, `${file}-shm`]) rmSync(stale, { force: true });
  renameSync(temp, file);
  const dir = openSync(path.dirname(file), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}

async function restorePostgres(url: string, stream: (sink: Writable) => Promise<void>): Promise<void> {
  const database = openDatabase({ dialect: 'postgres', url });
  try {
    // The destination holds no data (checked) or --force was given: its schema is replaced whole,
    // since the tables of a migrated but unused database would collide with the dump's.
    await sql`drop schema if exists public cascade`.execute(database.db);
    await sql`create schema public`.execute(database.db);
  } finally {
    await database.close();
  }
  const run = pgRestore(url);
  try {
    await Promise.all([stream(run.stream), run.done]);
  } catch (error) {
    run.kill();
    await run.done.catch(() => undefined);
    throw error;
  }
}
