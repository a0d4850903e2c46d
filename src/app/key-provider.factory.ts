import path from 'node:path';
import type { SealpostConfig } from '../config/config.schema.js';
import { AwsKmsKeyProvider } from '../crypto/aws-kms-key-provider.js';
import type { KeyProvider } from '../crypto/key-provider.js';
import { LocalKeyring } from '../crypto/local-keyring.js';

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
