import path from 'node:path';
import { KMSClient } from '@aws-sdk/client-kms';
import type { SealpostConfig } from '../config/config.schema.js';
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
 * The configured key provider, ready to use. For the local keyring this creates the first
 * master key on first start, and a new version when the newest is past its rotation age.
 */
export function openKeyProvider(config: SealpostConfig): { provider: KeyProvider; createdKekVersion: number | undefined } {
  if (config.keyProvider === 'aws-kms') {
    return { provider: AwsKmsKeyProvider.create(config.kmsKeyId ?? '', config.awsRegion), createdKekVersion: undefined };
  }
  const keyring = new LocalKeyring(keyringDir(config), config.kekRotationDays);
  return { provider: keyring, createdKekVersion: keyring.open().created };
}


/**
 * The per-tenant root keys (crypto-shredding): files sealed by the master key in the keyring
 * directory, or one AWS KMS key per tenant. See docs/operations.md "Data lifecycle".
 */
export function openTenantRootKeys(config: SealpostConfig, provider: KeyProvider, isLive: TenantLiveness): TenantRootKeys {
  if (config.keyProvider === 'aws-kms') return new AwsKmsTenantRootKeys(new KMSClient(config.awsRegion ? { region: config.awsRegion } : {}), isLive);
  // Beside the master keys (`tenant-<id>.json`), never in the database.
  return new LocalTenantRootKeys(keyringDir(config), provider, isLive);
}
