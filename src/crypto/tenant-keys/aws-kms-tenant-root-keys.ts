import type { KMSClient } from '@aws-sdk/client-kms';
import { SealpostError } from '../../errors/sealpost-error.js';
import { isId } from '../ids.js';
import { loadKms } from '../aws-kms-client.js';
import { AwsKmsKeyProvider } from '../aws-kms-key-provider.js';
import type { KeyProvider } from '../key-provider.js';
import { TENANT_KEY_RECHECK_MS, TenantProviderCache, tenantErased, type TenantLiveness, type TenantRootKeys } from './tenant-root-keys.js';

/**
 * AWS KMS refuses to delete a key sooner than 7 days after it is scheduled; during the wait the
 * key is unusable (state PendingDeletion), so erased data is unreadable from the first second.
 */
export const KMS_DELETION_WINDOW_DAYS = 7;

export function tenantKeyAlias(tenantId: string): string {
  return `alias/sealpost/tenant/${tenantId}`;
}

/**
 * One AWS KMS key per tenant (alias `alias/sealpost/tenant/<tenant id>`), created on the tenant's
 * first encryption, with yearly rotation. The tenant's data keys are generated under it with the
 * tenant in the encryption context. Erasure disables the key and schedules its deletion: nothing
 * outside KMS ever held the root key, so no copy of the database, the blobs or the process can
 * bring it back. Costs one KMS key per tenant (about 1 USD a month) and KMS's key quota.
 */
export class AwsKmsTenantRootKeys implements TenantRootKeys {
  private readonly cache: TenantProviderCache;

  constructor(
    /** A promise while the SDK loads (kmsClient); awaited per call. */
    private readonly client: KMSClient | Promise<KMSClient>,
    private readonly isLive: TenantLiveness,
    now: () => number = Date.now,
    recheckMs = TENANT_KEY_RECHECK_MS,
  ) {
    this.cache = new TenantProviderCache(
      (tenantId) => this.load(tenantId),
      async (tenantId) => (await this.describe(tenantId))?.state === 'Enabled',
      now,
      recheckMs,
    );
  }

  providerFor(tenantId: string): Promise<KeyProvider> {
    return this.cache.get(tenantId);
  }

  async destroy(tenantId: string): Promise<void> {
    this.cache.forget(tenantId);
    const key = await this.describe(tenantId);
    if (!key || key.state === 'PendingDeletion') return;
    const { DisableKeyCommand, ScheduleKeyDeletionCommand } = await loadKms();
    const client = await this.client;
    await this.call('DisableKey', () => client.send(new DisableKeyCommand({ KeyId: key.arn })));
    await this.call('ScheduleKeyDeletion', () => client.send(new ScheduleKeyDeletionCommand({ KeyId: key.arn, PendingWindowInDays: KMS_DELETION_WINDOW_DAYS })));
  }

  private async load(tenantId: string): Promise<KeyProvider> {
    let key = await this.describe(tenantId);
    if (!key) {
      if (!(await this.isLive(tenantId))) throw tenantErased(tenantId);
      key = await this.create(tenantId);
    }
    if (key.state !== 'Enabled') throw tenantErased(tenantId);
    return new AwsKmsKeyProvider(this.client, key.arn, { tenant: tenantId });
  }

  private async create(tenantId: string): Promise<{ arn: string; state: string }> {
    const { CreateAliasCommand, CreateKeyCommand, EnableKeyRotationCommand, ScheduleKeyDeletionCommand } = await loadKms();
    const client = await this.client;
    const created = await this.call('CreateKey', () =>
      client.send(
        new CreateKeyCommand({
          Description: `Sealpost root key of tenant ${tenantId} (deleting it erases the tenant)`,
          KeyUsage: 'ENCRYPT_DECRYPT',
          KeySpec: 'SYMMETRIC_DEFAULT',
          Tags: [{ TagKey: 'sealpost:tenant', TagValue: tenantId }],
        }),
      ),
    );
    const arn = created.KeyMetadata?.Arn;
    if (!arn) throw new SealpostError('SP_ERR_CRYPTO_KEY_UNAVAILABLE', 'AWS KMS CreateKey returned no key');
    try {
      await client.send(new CreateAliasCommand({ AliasName: tenantKeyAlias(tenantId), TargetKeyId: arn }));
    } catch (cause) {
      // Another process created the tenant's key first: use that one, drop ours.
      if ((cause as { name?: string }).name !== 'AlreadyExistsException') throw kmsFailed('CreateAlias', cause);
      await this.call('ScheduleKeyDeletion', () => client.send(new ScheduleKeyDeletionCommand({ KeyId: arn, PendingWindowInDays: KMS_DELETION_WINDOW_DAYS })));
      const winner = await this.describe(tenantId);
      if (!winner) throw new SealpostError('SP_ERR_CRYPTO_KEY_UNAVAILABLE', 'AWS KMS tenant key alias vanished');
      return winner;
    }
    await this.call('EnableKeyRotation', () => client.send(new EnableKeyRotationCommand({ KeyId: arn })));
    return { arn, state: created.KeyMetadata?.KeyState ?? 'Enabled' };
  }

  private async describe(tenantId: string): Promise<{ arn: string; state: string } | undefined> {
    if (!isId('tenant', tenantId)) throw new SealpostError('SP_ERR_INTERNAL_ERROR', 'Internal error', { logDetail: { reason: 'not a tenant id' } });
    const { DescribeKeyCommand } = await loadKms();
    try {
      const out = await (await this.client).send(new DescribeKeyCommand({ KeyId: tenantKeyAlias(tenantId) }));
      const arn = out.KeyMetadata?.Arn;
      if (!arn) return undefined;
      return { arn, state: out.KeyMetadata?.KeyState ?? 'Unknown' };
    } catch (cause) {
      if ((cause as { name?: string }).name === 'NotFoundException') return undefined;
      throw kmsFailed('DescribeKey', cause);
    }
  }

  private async call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (cause) {
      throw kmsFailed(operation, cause);
    }
  }
}

function kmsFailed(operation: string, cause: unknown): SealpostError {
  return new SealpostError('SP_ERR_CRYPTO_KEY_UNAVAILABLE', `AWS KMS ${operation} failed (${(cause as { name?: string }).name ?? 'Error'})`, { cause });
}
