import path from 'node:path';
import type { SealpostConfig } from '../config/config.schema.js';
import { kmsClient } from '../crypto/aws-kms-client.js';
import { AwsKmsKeyProvider } from '../crypto/aws-kms-key-provider.js';
import type { KeyProvider } from '../crypto/key-provider.js';
import { LocalKeyring } from '../crypto/local-keyring.js';
import { AwsKmsTenantRootKeys } from '../crypto/tenant-keys/aws-kms-tenant-root-keys.js';
import { LocalTenantRootKeys } from '../crypto/tenant-keys/local-tenant-root-keys.js';
import type { TenantLiveness, TenantRootKeys } from '../crypto/tenant-keys/tenant-root-keys.js';

export function keyringDir(config: SealpostConfig): string {
  return path.join(config.dataDir, 'keyring');
}

/**
 * The configured key provider. The local keyring is only read here: the database decides which
 * versions it must hold and which one wraps new data keys (src/crypto/kek-version.service.ts),
 * and only a rotation adds one.
 */
export function openKeyProvider(config: SealpostConfig): KeyProvider {
  if (config.keyProvider === 'aws-kms') return AwsKmsKeyProvider.create(config.kmsKeyId ?? '', config.awsRegion);
  const keyring = new LocalKeyring(keyringDir(config), config.kekRotationDays);
  keyring.load();
  return keyring;
}


/**
 * The per-tenant root keys (crypto-shredding): files sealed by the master key in the keyring
 * directory, or one AWS KMS key per tenant. See docs/operations.md "Data lifecycle".
 */
export function openTenantRootKeys(config: SealpostConfig, provider: KeyProvider, isLive: TenantLiveness): TenantRootKeys {
  if (config.keyProvider === 'aws-kms') return new AwsKmsTenantRootKeys(kmsClient(config.awsRegion), isLive);
  // Beside the master keys (`tenant-<id>.json`), never in the database.
  return new LocalTenantRootKeys(keyringDir(config), provider, isLive);
}
