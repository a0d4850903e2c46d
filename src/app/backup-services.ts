import { sign } from 'node:crypto';
import { existsSync } from 'node:fs';
import type { AuditActor } from '../audit/audit-event.js';
import type { SealpostConfig } from '../config/config.schema.js';
import type { KeyProvider } from '../crypto/key-provider.js';
import { LocalKeyring } from '../crypto/local-keyring.js';
import { AwsKmsKeyProvider } from '../crypto/aws-kms-key-provider.js';
import { SealpostError } from '../errors/sealpost-error.js';
import { BackupRepository } from '../ops/backup/backup.repository.js';
import { BackupService } from '../ops/backup/backup.service.js';
import type { DrillDeps } from '../ops/backup/drill.js';
import { DataKeyRepository } from '../crypto/data-key.repository.js';
import { RecordCipher } from '../crypto/record-cipher.js';
import { createReceiptServices } from './receipt-services.js';
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import { scrubRestored, type ScrubResult } from '../ops/backup/scrub.js';
import { EncryptedBlobStore } from '../storage/encrypted-blob-store.js';
import { openBackupTarget, type BackupTarget, type BackupTargetOptions } from '../ops/backup/backup-target.js';
import { createBlobStore } from '../storage/create-blob-store.js';
import type { BlobStore } from '../storage/blob-store.js';
import type { AppContext } from './app-context.js';
import { recorderFor } from './effects.js';
import { keyringDir, openTenantRootKeys } from './key-provider.factory.js';
import type { TenantRootKeys } from '../crypto/tenant-keys/tenant-root-keys.js';

/** Test-only: S3 credentials for the backup targets (production uses the AWS SDK default chain). */
export interface BackupTargetOverrides {
  readonly credentials?: BackupTargetOptions['credentials'];
}

/** The two places snapshots go, from SEALPOST_BACKUP_TARGET / _REPLICA. */
export async function openBackupTargets(config: SealpostConfig, overrides: BackupTargetOverrides = {}): Promise<{ target: BackupTarget; replica: BackupTarget }> {
  if (config.backupTarget === undefined || config.backupReplica === undefined) {
    throw new SealpostError('SP_ERR_BACKUP_NOT_CONFIGURED', 'Set SEALPOST_BACKUP_TARGET and SEALPOST_BACKUP_REPLICA to use backups');
  }
  const target = await openBackupTarget({ location: config.backupTarget, endpoint: config.backupTargetEndpoint, region: config.awsRegion, credentials: overrides.credentials });
  try {
    const replica = await openBackupTarget({
      location: config.backupReplica,
      endpoint: config.backupReplicaEndpoint,
      region: config.backupReplicaRegion ?? config.awsRegion,
      credentials: overrides.credentials,
    });
    return { target, replica };
  } catch (error) {
    await target.close();
    throw error;
  }
}

/** The backup service over a running Sealpost's database, keys and raw blob store. */
export function createBackupService(context: AppContext, targets: { target: BackupTarget; replica: BackupTarget }, now?: () => number): BackupService {
  return new BackupService({
    db: context.database.db,
    database: context.config.database,
    keyProvider: context.keyProvider,
    cipher: context.cipher,
    blobs: context.rawBlobs,
    ...targets,
    environment: context.config.environment,
    repository: new BackupRepository(context.database.db),
    record: recorderFor(context.audit.record, 'backup'),
    logger: context.logger,
    ...(now ? { now } : {}),
  });
}

/**
 * The master key for a restore, opened without creating anything: a restore onto a new machine
 * must not mint a fresh keyring (which could never unwrap the snapshot) before the recovery file
 * is imported.
 */
export async function restoreKeyProvider(config: SealpostConfig): Promise<KeyProvider> {
  if (config.keyProvider === 'aws-kms') return AwsKmsKeyProvider.create(config.kmsKeyId ?? '', config.awsRegion);
  const keyring = new LocalKeyring(keyringDir(config), config.kekRotationDays);
  // status() loads the versions present; an absent keyring stays empty and unwrapping then fails clearly.
  if (existsSync(keyringDir(config))) await keyring.status();
  return keyring;
}

/** The blob store a restore into `dataDir` writes to: the deployment's store, with a local store under that dir. */
export function restoreBlobStore(config: SealpostConfig, dataDir: string | undefined): () => Promise<BlobStore> {
  return () => createBlobStore({ ...config, dataDir: dataDir ?? config.dataDir });
}

/** What a drill needs from the running deployment: its replica, keys, database and audit log key. */
export function createDrillDeps(context: AppContext, replica: BackupTarget, now?: () => number): DrillDeps {
  return {
    replica,
    keyProvider: context.keyProvider,
    db: context.database.db,
    liveDatabase: context.config.database,
    environment: context.config.environment,
    repository: new BackupRepository(context.database.db),
    record: recorderFor(context.audit.record, 'backup'),
    openScratchBlobs: (dir) => createBlobStore({ ...context.config, blobStore: 'local', dataDir: dir }),
    inspect: (db) => {
      // The restored database's own data keys, unwrapped by this deployment's master and tenant root keys.
      const cipher = new RecordCipher(context.keyProvider, new DataKeyRepository(db), undefined, undefined, restoredTenantKeys(context.config, context.keyProvider));
      const receipts = createReceiptServices({ db, cipher });
      return {
        receiptJson: async (tenantId, id) => (await receipts.receipts.get(tenantId, id)).json,
        jwks: async (tenantId) => {
          const [live, archive] = await Promise.all([receipts.keys.jwks(tenantId), receipts.keys.jwksArchive(tenantId)]);
          return { keys: [...live.keys, ...archive.keys] };
        },
      };
    },
    sign: async (bytes) => {
      const key = await context.audit.keys.currentKey();
      return { alg: 'Ed25519', kid: key.id, value: sign(null, bytes, key.privateKey).toString('base64url') };
    },
    ...(now ? { now } : {}),
  };
}

/**
 * The tenant root keys a restored copy is read with: this deployment's (the keyring, with the
 * tenant key files the recovery file carries; or the KMS tenant keys), never created. A tenant
 * whose root key is not there (erased since the snapshot: a tombstone; or newer than the recovery
 * file) stays unreadable (SP_ERR_TENANT_ERASED): a snapshot alone never brings erased data back.
 */
function restoredTenantKeys(config: SealpostConfig, keyProvider: KeyProvider): TenantRootKeys {
  return openTenantRootKeys(config, keyProvider, async () => false);
}

/** `restore --scrub`: rewrites a restored copy's contents with a cipher over the restored database and this deployment's keys. */
export function restoreScrubber(config: SealpostConfig, keyProvider: KeyProvider): (db: Kysely<Database>, store: BlobStore) => Promise<ScrubResult> {
  return (db, store) => {
    const cipher = new RecordCipher(keyProvider, new DataKeyRepository(db), undefined, undefined, restoredTenantKeys(config, keyProvider));
    return scrubRestored({ db, cipher, blobs: new EncryptedBlobStore(store, cipher) });
  };
}

/** The record of snapshots and drills, for listings. */
export function backupRepository(context: AppContext): BackupRepository {
  return new BackupRepository(context.database.db);
}

export const SCHEDULER_ACTOR: AuditActor = { type: 'system', id: 'scheduler' };
