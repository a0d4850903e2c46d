/**
 * A key-encryption-key (KEK) holder that wraps and unwraps data keys: the local keyring in the
 * data dir, or AWS KMS. Data keys never leave the process unwrapped.
 */
export interface WrappedDataKey {
  readonly provider: KeyProviderName;
  /** Which master key wrapped it: a keyring version (`local:v3`) or a KMS key ARN. */
  readonly kekRef: string;
  readonly wrapped: Buffer;
}

export interface GeneratedDataKey extends WrappedDataKey {
  /** 32 bytes; the caller must persist the wrapped form before using this. */
  readonly plaintext: Buffer;
}

export type KeyProviderName = 'local' | 'aws-kms';

export interface KeyProviderStatus {
  readonly provider: KeyProviderName;
  /** The master key new data keys are wrapped under. */
  readonly currentKek: string;
  /** Whether the master key is rotated yearly (automatically for KMS, by the keyring schedule locally). */
  readonly rotationEnabled: boolean;
  readonly details: Record<string, unknown>;
}

export interface KeyProvider {
  readonly name: KeyProviderName;
  /**
   * A fresh 256-bit data key. `dataKeyId` is bound into the wrapping (as AES-GCM additional
   * data locally, as the KMS encryption context), so a wrapped key cannot be swapped for another.
   */
  generateDataKey(dataKeyId: string): Promise<GeneratedDataKey>;
  decryptDataKey(dataKeyId: string, key: WrappedDataKey): Promise<Buffer>;
  status(): Promise<KeyProviderStatus>;
}
