import path from 'node:path';
import type { SealpostConfig } from '../config/config.schema.js';
import { AwsKmsKeyProvider } from '../crypto/aws-kms-key-provider.js';
import type { KeyProvider } from '../crypto/key-provider.js';
import { LocalKeyring } from '../crypto/local-keyring.js';

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
