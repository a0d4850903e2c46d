import { randomBytes } from 'node:crypto';
import { DecryptCommand, DescribeKeyCommand, GenerateDataKeyCommand, GetKeyRotationStatusCommand, KMSClient } from '@aws-sdk/client-kms';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { AwsKmsKeyProvider } from '../../src/crypto/aws-kms-key-provider.js';

const ARN = 'arn:aws:kms:eu-central-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';

describe('AWS KMS key provider', () => {
  const kms = mockClient(KMSClient);
  afterEach(() => kms.reset());

  it('generates an AES-256 data key bound to its id by the encryption context', async () => {
    const plaintext = randomBytes(32);
    kms.on(GenerateDataKeyCommand).resolves({ KeyId: ARN, Plaintext: plaintext, CiphertextBlob: Buffer.from('wrapped') });
    const provider = new AwsKmsKeyProvider(new KMSClient({ region: 'eu-central-1' }), 'alias/sealpost');
    const key = await provider.generateDataKey('dek_1');
    expect(key).toMatchObject({ provider: 'aws-kms', kekRef: ARN });
    expect(key.plaintext.equals(plaintext)).toBe(true);
    const input = kms.commandCalls(GenerateDataKeyCommand)[0]?.args[0].input;
    expect(input).toEqual({ KeyId: 'alias/sealpost', KeySpec: 'AES_256', EncryptionContext: { purpose: 'sealpost-data-key', data_key_id: 'dek_1' } });
  });

  it('unwraps with the same context and pins the key that wrapped it', async () => {
    const plaintext = randomBytes(32);
    kms.on(DecryptCommand).resolves({ Plaintext: plaintext, KeyId: ARN });
    const provider = new AwsKmsKeyProvider(new KMSClient({ region: 'eu-central-1' }), 'alias/sealpost');
    const out = await provider.decryptDataKey('dek_1', { provider: 'aws-kms', kekRef: ARN, wrapped: Buffer.from('wrapped') });
    expect(out.equals(plaintext)).toBe(true);
    expect(kms.commandCalls(DecryptCommand)[0]?.args[0].input).toMatchObject({
      KeyId: ARN,
      EncryptionContext: { purpose: 'sealpost-data-key', data_key_id: 'dek_1' },
    });
  });

  it('unwraps in the replica region with the replica of a multi-region key (restore after losing the primary region)', async () => {
    const primary = 'arn:aws:kms:eu-central-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab';
    const replica = 'arn:aws:kms:eu-west-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab';
    kms.on(DecryptCommand).resolves({ Plaintext: randomBytes(32), KeyId: replica });
    const provider = new AwsKmsKeyProvider(new KMSClient({ region: 'eu-west-1' }), replica);
    await provider.decryptDataKey('bak_1', { provider: 'aws-kms', kekRef: primary, wrapped: Buffer.from('wrapped') });
    expect(kms.commandCalls(DecryptCommand)[0]?.args[0].input).toMatchObject({ KeyId: replica });
    // A single-region key wrapped elsewhere is still pinned as recorded, never swapped for the configured one.
    await provider.decryptDataKey('dek_3', { provider: 'aws-kms', kekRef: ARN, wrapped: Buffer.from('wrapped') });
    expect(kms.commandCalls(DecryptCommand)[1]?.args[0].input).toMatchObject({ KeyId: ARN });
  });

  it('maps a wrong context or tampered blob to a decryption error without leaking details', async () => {
    kms.on(DecryptCommand).rejects(Object.assign(new Error('secret internals'), { name: 'InvalidCiphertextException' }));
    const provider = new AwsKmsKeyProvider(new KMSClient({ region: 'eu-central-1' }), 'alias/sealpost');
    const err = await provider.decryptDataKey('dek_2', { provider: 'aws-kms', kekRef: ARN, wrapped: Buffer.from('x') }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'SP_ERR_CRYPTO_DECRYPT_FAILED', message: 'AWS KMS Decrypt failed (InvalidCiphertextException)' });
  });

  it('reports whether automatic yearly rotation is enabled (sealpost keys check)', async () => {
    kms.on(DescribeKeyCommand).resolves({ KeyMetadata: { KeyId: 'k', Arn: ARN, KeyState: 'Enabled' } });
    kms.on(GetKeyRotationStatusCommand).resolvesOnce({ KeyRotationEnabled: true, RotationPeriodInDays: 365 }).resolvesOnce({ KeyRotationEnabled: false });
    const provider = new AwsKmsKeyProvider(new KMSClient({ region: 'eu-central-1' }), 'alias/sealpost');
    expect(await provider.status()).toMatchObject({ currentKek: ARN, rotationEnabled: true, details: { rotation_period_days: 365 } });
    expect(await provider.status()).toMatchObject({ rotationEnabled: false });
  });

  it('reports a multi-region key and the regions of its replicas', async () => {
    kms.on(DescribeKeyCommand).resolves({
      KeyMetadata: { KeyId: 'mrk-1', Arn: ARN, KeyState: 'Enabled', MultiRegion: true, MultiRegionConfiguration: { PrimaryKey: { Region: 'eu-central-1' }, ReplicaKeys: [{ Region: 'eu-west-1' }] } },
    });
    kms.on(GetKeyRotationStatusCommand).resolves({ KeyRotationEnabled: true });
    const provider = new AwsKmsKeyProvider(new KMSClient({ region: 'eu-central-1' }), 'alias/sealpost');
    expect((await provider.status()).details).toMatchObject({ multi_region: true, primary_region: 'eu-central-1', replica_regions: ['eu-west-1'] });
  });
});
