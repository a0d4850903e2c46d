import { mkdirSync } from 'node:fs';
import { auditOriginOf, createAuditServices, type AuditServices } from './audit-services.js';
import type { SealpostConfig } from '../config/config.schema.js';
import { createReceiptServices, type ReceiptServices } from './receipt-services.js';
import { DataKeyRepository } from '../crypto/data-key.repository.js';
import type { KeyProvider } from '../crypto/key-provider.js';
import { RecordCipher } from '../crypto/record-cipher.js';
import { openDatabase, type DatabaseHandle } from '../db/database.js';
import { GroupCommitter } from '../db/group-commit.js';
import { migrateToLatest } from '../db/migrator.js';
import { TenantRepository } from '../identity/tenant.repository.js';
import type { BlobStore } from '../storage/blob-store.js';
import { createBlobStore } from '../storage/create-blob-store.js';
import { EncryptedBlobStore } from '../storage/encrypted-blob-store.js';
import { keyringDir, openKeyProvider, openTenantRootKeys } from './key-provider.factory.js';
import type { TenantRootKeys } from '../crypto/tenant-keys/tenant-root-keys.js';
import { LocalTenantRootKeys } from '../crypto/tenant-keys/local-tenant-root-keys.js';
import { hostname } from 'node:os';
import { auditRecorder } from '../audit/audit-recorder.js';
import { KekVersionRepository } from '../crypto/kek-version.repository.js';
import { KekVersionService } from '../crypto/kek-version.service.js';
import { LocalKeyring } from '../crypto/local-keyring.js';
import { startPeriodicJob, type PeriodicJob } from '../util/periodic-job.js';
import { kekRotatedEvent, recorderFor } from './effects.js';
import type { Logger } from '../logging/logger.js';

/** The services every role shares, opened once per process. */
export interface AppContext {
  readonly config: SealpostConfig;
  readonly logger: Logger;
  readonly database: DatabaseHandle;
  readonly keyProvider: KeyProvider;
  /** Each tenant's root key, which wraps its data keys; destroying it erases the tenant. */
  readonly tenantKeys: TenantRootKeys;
  readonly cipher: RecordCipher;
  /** The local keyring's versions kept in step with the database; undefined with AWS KMS. */
  readonly kekVersions: KekVersionService | undefined;
  /** Re-reads the master key version every SEALPOST_KEY_REFRESH_SECONDS (local keyring only). */
  readonly keyRefresh: PeriodicJob | undefined;
  readonly blobs: EncryptedBlobStore;
  /** The same store without the cipher: backups copy blobs as stored (sealed). */
  readonly rawBlobs: BlobStore;
  /** Shared by every writer on the request path, so their commits are grouped. */
  readonly committer: GroupCommitter;
  readonly tenantRepository: TenantRepository;
  readonly audit: AuditServices;
  /** Ed25519 signing keys, the webhook signer and receipts (DESIGN §4–6). */
  readonly receipts: ReceiptServices;
  close(): Promise<void>;
}

export async function openAppContext(config: SealpostConfig, logger: Logger): Promise<AppContext> {
  // The data dir holds the keyring and the database: nobody else may read it.
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  // Migrations run on a connection of their own, without the serving timeouts: a migration may
  // legitimately run long, and the other processes starting at once wait for its lock.
  const migrating = openDatabase(config.database, { connectTimeoutMs: config.databaseTimeoutSeconds * 1000 });
  try {
    const applied = await migrateToLatest(migrating.db, migrating.dialect);
    if (applied.length > 0) logger.info({ migrations: applied }, 'database migrated');
  } finally {
    await migrating.close();
  }
  const database = openDatabase(config.database, {
    onIdleError: (err) => logger.warn({ err }, 'database connection lost while idle; reconnecting'),
    timeoutMs: config.databaseTimeoutSeconds * 1000,
  });
  try {
    const provider = openKeyProvider(config);
    const tenantRepository = new TenantRepository(database.db);
    const tenantKeys = openTenantRootKeys(config, provider, async (tenantId) => (await tenantRepository.lifecycle(tenantId))?.erasedAt === null);
    const cipher = new RecordCipher(provider, new DataKeyRepository(database.db), undefined, undefined, tenantKeys);
    const audit = createAuditServices({
      db: database.db,
      dialect: database.dialect,
      cipher,
      origin: auditOriginOf(config),
      planOf: async (tenantId) => (await tenantRepository.find(tenantId))?.plan,
    });
    const kekVersions = provider instanceof LocalKeyring ? kekVersionService(config, logger, database, provider, cipher, audit, tenantKeys) : undefined;
    // Before anything is encrypted: a keyring that differs from the database's refuses to start.
    await kekVersions?.verify();
    const keyRefresh = kekVersions
      ? startPeriodicJob({
          name: 'key-refresh',
          intervalMs: config.keyRefreshSeconds * 1000,
          run: () => kekVersions.refresh(),
          onError: (err) => logger.warn({ err }, 'checking the master key version failed; retrying'),
        })
      : undefined;
    const rawBlobs = await createBlobStore(config);
    const blobs = new EncryptedBlobStore(rawBlobs, cipher);
    const committer = GroupCommitter.forDatabase(database);
    const close = async (): Promise<void> => {
      await keyRefresh?.stop();
      await committer.drain();
      await rawBlobs.close();
      await database.close();
    };
    const receipts = createReceiptServices({ db: database.db, cipher, audit: audit.log, keys: { refreshMs: config.keyRefreshSeconds * 1000 } });
    return { config, logger, database, keyProvider: provider, tenantKeys, cipher, kekVersions, keyRefresh, blobs, rawBlobs, committer, tenantRepository, audit, receipts, close };
  } catch (err) {
    await database.close();
    throw err;
  }
}

function kekVersionService(
  config: SealpostConfig,
  logger: Logger,
  database: DatabaseHandle,
  keyring: LocalKeyring,
  cipher: RecordCipher,
  audit: AuditServices,
  tenantKeys: TenantRootKeys,
): KekVersionService {
  const record = recorderFor(auditRecorder(audit.log), 'kek');
  return new KekVersionService(new KekVersionRepository(database.db), keyring, keyringDir(config), {
    rotationDays: config.kekRotationDays,
    holder: `${hostname()}:${process.pid}`,
    audit: (kek, actor, trigger, resealed) => (tx) => record(tx, kekRotatedEvent(kek, actor, trigger, resealed)),
    // The rotation reaches tenant data: each tenant's root key is sealed by the master key.
    resealTenantKeys: async (version) =>
      tenantKeys instanceof LocalTenantRootKeys ? tenantKeys.resealAll({ kekRef: `local:v${version}`, wrap: (id, key) => keyring.rewrapDataKey(id, key, version) }) : 0,
    // Data keys wrapped under the old version are still read; new ones use the new version.
    onNewVersion: () => cipher.retireCurrentKey(),
    logger,
  });
}
