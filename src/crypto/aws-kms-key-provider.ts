import type { KMSClient } from '@aws-sdk/client-kms';
import { SealpostError } from '../errors/sealpost-error.js';
import { kmsClient, loadKms } from './aws-kms-client.js';
import type { GeneratedDataKey, KeyProvider, KeyProviderStatus, WrappedDataKey } from './key-provider.js';

/**
 * AWS KMS wraps the data keys (GenerateDataKey / Decrypt). Only these calls go to AWS: the
 * records themselves are encrypted in-process with node:crypto, which is about 20 times faster
 * than the AWS Encryption SDK for small records.
 */
export class AwsKmsKeyProvider implements KeyProvider {
  readonly name = 'aws-kms' as const;

  constructor(
    /** A promise while the SDK loads (kmsClient); the adapter awaits it per call. */
    private readonly client: KMSClient | Promise<KMSClient>,
    private readonly keyId: string,
    /** Bound into every data key's encryption context as well (a tenant's key: `{ tenant }`). */
    private readonly context: Readonly<Record<string, string>> = {},
  ) {}

  static create(keyId: string, region: string | undefined): AwsKmsKeyProvider {
    return new AwsKmsKeyProvider(kmsClient(region), keyId);
  }

  async generateDataKey(dataKeyId: string): Promise<GeneratedDataKey> {
    const { GenerateDataKeyCommand } = await loadKms();
    const out = await this.call('GenerateDataKey', async () =>
      (await this.client).send(new GenerateDataKeyCommand({ KeyId: this.keyId, KeySpec: 'AES_256', EncryptionContext: { ...this.context, ...encryptionContext(dataKeyId) } })),
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
    const { DecryptCommand } = await loadKms();
    // KeyId pins the key we expect, so a tampered blob cannot make us use another KMS key.
    const out = await this.call('Decrypt', async () =>
      (await this.client).send(new DecryptCommand({ CiphertextBlob: key.wrapped, KeyId: this.unwrappingKey(key.kekRef), EncryptionContext: { ...this.context, ...encryptionContext(dataKeyId) } })),
    );
    if (!out.Plaintext) throw new SealpostError('SP_ERR_CRYPTO_DECRYPT_FAILED', 'AWS KMS returned no plaintext');
    return Buffer.from(out.Plaintext);
  }

  /**
   * The key to name in Decrypt. A multi-region key (`mrk-…`) has the same key id in every region
   * and any replica decrypts what another wrapped; only the ARN's region differs. So a data key
   * (or a backup) wrapped under the primary region's ARN is unwrapped here by the configured
   * replica of the same key, which is how a restore in the replica region works.
   */
  private unwrappingKey(kekRef: string): string {
    const wrappedBy = keyIdOf(kekRef);
    return wrappedBy.startsWith('mrk-') && wrappedBy === keyIdOf(this.keyId) ? this.keyId : kekRef;
  }

  async status(): Promise<KeyProviderStatus> {
    const { DescribeKeyCommand, GetKeyRotationStatusCommand } = await loadKms();
    const described = await this.call('DescribeKey', async () => (await this.client).send(new DescribeKeyCommand({ KeyId: this.keyId })));
    const rotation = await this.call('GetKeyRotationStatus', async () => (await this.client).send(new GetKeyRotationStatusCommand({ KeyId: this.keyId })));
    return {
      provider: 'aws-kms',
      currentKek: described.KeyMetadata?.Arn ?? this.keyId,
      rotationEnabled: rotation.KeyRotationEnabled === true,
      details: {
        key_state: described.KeyMetadata?.KeyState,
        rotation_period_days: rotation.RotationPeriodInDays,
        next_rotation_at: rotation.NextRotationDate?.toISOString(),
        multi_region: described.KeyMetadata?.MultiRegion === true,
        replica_regions: (described.KeyMetadata?.MultiRegionConfiguration?.ReplicaKeys ?? []).flatMap((r) => (r.Region ? [r.Region] : [])),
        primary_region: described.KeyMetadata?.MultiRegionConfiguration?.PrimaryKey?.Region ?? null,
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

/** `key/<id>` of an ARN, or the id itself. */
function keyIdOf(ref: string): string {
  const at = ref.lastIndexOf(':key/');
  return at === -1 ? ref : ref.slice(at + ':key/'.length);
}

function encryptionContext(dataKeyId: string): Record<string, string> {
  return { purpose: 'sealpost-data-key', data_key_id: dataKeyId };
}
