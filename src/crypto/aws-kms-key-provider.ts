import { DecryptCommand, DescribeKeyCommand, GenerateDataKeyCommand, GetKeyRotationStatusCommand, KMSClient } from '@aws-sdk/client-kms';
import { SealpostError } from '../errors/sealpost-error.js';
import type { GeneratedDataKey, KeyProvider, KeyProviderStatus, WrappedDataKey } from './key-provider.js';

/**
 * AWS KMS wraps the data keys (GenerateDataKey / Decrypt). Only these calls go to AWS: the
 * records themselves are encrypted in-process with node:crypto, which is about 20 times faster
 * than the AWS Encryption SDK for small records.
 */
export class AwsKmsKeyProvider implements KeyProvider {
  readonly name = 'aws-kms' as const;

  constructor(
    private readonly client: KMSClient,
    private readonly keyId: string,
    /** Bound into every data key's encryption context as well (a tenant's key: `{ tenant }`). */
    private readonly context: Readonly<Record<string, string>> = {},
  ) {}

  static create(keyId: string, region: string | undefined): AwsKmsKeyProvider {
    return new AwsKmsKeyProvider(new KMSClient(region ? { region } : {}), keyId);
  }

  async generateDataKey(dataKeyId: string): Promise<GeneratedDataKey> {
    const out = await this.call('GenerateDataKey', () =>
      this.client.send(new GenerateDataKeyCommand({ KeyId: this.keyId, KeySpec: 'AES_256', EncryptionContext: { ...this.context, ...encryptionContext(dataKeyId) } })),
    );
    if (!out.Plaintext || !out.CiphertextBlob || !out.KeyId) {
      throw new SealpostError('SP_ERR_CRYPTO_KEY_UNAVAILABLE', 'AWS KMS returned an incomplete data key');
    }
    return { provider: 'aws-kms', kekRef: out.KeyId, wrapped: Buffer.from(out.CiphertextBlob), plaintext: Buffer.from(out.Plaintext) };
  }

  async decryptDataKey(dataKeyId: string, key: WrappedDataKey): Promise<Buffer> {
    if (key.provider !== 'aws-kms') {
      throw new SealpostError('SP_ERR_CRYPTO_KEY_UNAVAILABLE', 'Data key was not wrapped by AWS KMS', { logDetail: { dataKeyId } });
    }
    // KeyId pins the key we expect, so a tampered blob cannot make us use another KMS key.
    const out = await this.call('Decrypt', () =>
      this.client.send(new DecryptCommand({ CiphertextBlob: key.wrapped, KeyId: key.kekRef, EncryptionContext: { ...this.context, ...encryptionContext(dataKeyId) } })),
    );
    if (!out.Plaintext) throw new SealpostError('SP_ERR_CRYPTO_DECRYPT_FAILED', 'AWS KMS returned no plaintext');
    return Buffer.from(out.Plaintext);
  }

  async status(): Promise<KeyProviderStatus> {
    const described = await this.call('DescribeKey', () => this.client.send(new DescribeKeyCommand({ KeyId: this.keyId })));
    const rotation = await this.call('GetKeyRotationStatus', () => this.client.send(new GetKeyRotationStatusCommand({ KeyId: this.keyId })));
    return {
      provider: 'aws-kms',
      currentKek: described.KeyMetadata?.Arn ?? this.keyId,
      rotationEnabled: rotation.KeyRotationEnabled === true,
      details: {
        key_state: described.KeyMetadata?.KeyState,
        rotation_period_days: rotation.RotationPeriodInDays,
        next_rotation_at: rotation.NextRotationDate?.toISOString(),
      },
    };
  }

  private async call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (cause) {
      const name = (cause as { name?: string }).name ?? 'Error';
      const code = name === 'InvalidCiphertextException' ? 'SP_ERR_CRYPTO_DECRYPT_FAILED' : 'SP_ERR_CRYPTO_KEY_UNAVAILABLE';
      throw new SealpostError(code, `AWS KMS ${operation} failed (${name})`, { cause });
    }
  }
}

function encryptionContext(dataKeyId: string): Record<string, string> {
  return { purpose: 'sealpost-data-key', data_key_id: dataKeyId };
}
