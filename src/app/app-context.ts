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
import { openKeyProvider } from './key-provider.factory.js';
import type { Logger } from '../logging/logger.js';

/** The services every role shares, opened once per process. */
export interface AppContext {
  readonly config: SealpostConfig;
  readonly logger: Logger;
  readonly database: DatabaseHandle;
  readonly keyProvider: KeyProvider;
  readonly cipher: RecordCipher;
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
  const database = openDatabase(config.database, (err) => logger.warn({ err }, 'database connection lost while idle; reconnecting'));
  try {
    const applied = await migrateToLatest(database.db, database.dialect);
    if (applied.length > 0) logger.info({ migrations: applied }, 'database migrated');
    const { provider, createdKekVersion } = openKeyProvider(config);
    if (createdKekVersion !== undefined) logger.info({ version: createdKekVersion }, 'local keyring: new master key version created');
    const cipher = new RecordCipher(provider, new DataKeyRepository(database.db));
    const rawBlobs = await createBlobStore(config);
    const blobs = new EncryptedBlobStore(rawBlobs, cipher);
    const close = async (): Promise<void> => {
      await rawBlobs.close();
      await database.close();
    };
    const tenantRepository = new TenantRepository(database.db);
    const audit = createAuditServices({
      db: database.db,
      dialect: database.dialect,
      cipher,
      origin: auditOriginOf(config),
      planOf: async (tenantId) => (await tenantRepository.find(tenantId))?.plan,
    });
    return { config, logger, database, keyProvider: provider, cipher, blobs, rawBlobs, committer: new GroupCommitter(database.db), tenantRepository, audit, receipts: createReceiptServices({ db: database.db, cipher, audit: audit.log }), close };
  } catch (err) {
    await database.close();
    throw err;
  }
}
