import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import {
  CreateAliasCommand,
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  EnableKeyRotationCommand,
  GenerateDataKeyCommand,
  KMSClient,
  ScheduleKeyDeletionCommand,
} from '@aws-sdk/client-kms';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DataKeyRepository } from '../../src/crypto/data-key.repository.js';
import { newId } from '../../src/crypto/ids.js';
import { LocalKeyring } from '../../src/crypto/local-keyring.js';
import { RecordCipher, type RecordContext } from '../../src/crypto/record-cipher.js';
import { createDecryptStream, createEncryptStream } from '../../src/crypto/stream-cipher.js';
import { AwsKmsTenantRootKeys, tenantKeyAlias } from '../../src/crypto/tenant-keys/aws-kms-tenant-root-keys.js';
import { LocalTenantRootKeys } from '../../src/crypto/tenant-keys/local-tenant-root-keys.js';
import type { DatabaseHandle } from '../../src/db/database.js';
import { createTestDatabase, testDialects, type TestDatabase } from '../support/test-database.js';

const context = (tenant: string, id = 'msg_1'): RecordContext => ({ tenant, table: 'payloads', id, field: 'envelope' });

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function keyIdOf(sealed: Buffer): string {
  return sealed.subarray(2, 2 + (sealed[1] ?? 0)).toString('ascii');
}

describe.each(testDialects())('per-tenant data keys on %s', (dialect) => {
  let testDb: TestDatabase;
  let handle: DatabaseHandle;
  let dir: string;
  const live = new Set<string>();

  beforeAll(async () => {
    testDb = await createTestDatabase(dialect);
    handle = await testDb.openMigrated();
    dir = mkdtempSync(path.join(os.tmpdir(), 'sealpost-tenant-keys-'));
  });
  afterAll(async () => {
    await testDb.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  /** One process: its own keyring handle, tenant key cache and cipher over the shared database and keyring directory. */
  function processOf(options: { now?: () => number; recheckMs?: number } = {}): { cipher: RecordCipher; tenantKeys: LocalTenantRootKeys } {
    const keyring = new LocalKeyring(dir, 365);
    keyring.open();
    const tenantKeys = new LocalTenantRootKeys(dir, keyring, async (id) => live.has(id), options.now, options.recheckMs);
    const cipher = new RecordCipher(keyring, new DataKeyRepository(handle.db), undefined, options.now, tenantKeys);
    return { cipher, tenantKeys };
  }

  function tenant(): string {
    const id = newId('tenant');
    live.add(id);
    return id;
  }

  it("encrypts each tenant's records under data keys of that tenant alone, wrapped by its root key", async () => {
    const { cipher } = processOf();
    const [a, b] = [tenant(), tenant()];
    const sealedA = await cipher.encrypt('for a', context(a));
    const sealedB = await cipher.encrypt('for b', context(b));
    const system = await cipher.encrypt('log key', context('_system'));
    const repo = new DataKeyRepository(handle.db);
    expect(await repo.find(keyIdOf(sealedA))).toMatchObject({ tenantId: a, kekRef: `tenant:${a}` });
    expect(await repo.find(keyIdOf(sealedB))).toMatchObject({ tenantId: b, kekRef: `tenant:${b}` });
    expect(await repo.find(keyIdOf(system))).toMatchObject({ tenantId: null, kekRef: 'local:v1' });
    // Another process reads them from the database and the keyring directory alone.
    const other = processOf().cipher;
    expect((await other.decrypt(sealedA, context(a))).toString()).toBe('for a');
    expect((await other.decrypt(sealedB, context(b))).toString()).toBe('for b');
  });

  it('keeps the root keys out of the database: one sealed 0600 file per tenant beside the master keys', async () => {
    const { cipher } = processOf();
    const a = tenant();
    await cipher.encrypt('x', context(a));
    const file = path.join(dir, `tenant-${a}.json`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    const stored = JSON.parse(readFileSync(file, 'utf8')) as { tenant: string; kek: string; wrapped: string };
    expect(stored).toMatchObject({ tenant: a, kek: 'local:v1' });
    expect(Buffer.from(stored.wrapped, 'base64')).toHaveLength(12 + 32 + 16);
  });

  it("refuses a tenant's record whose header names another tenant's data key", async () => {
    const { cipher } = processOf();
    const [a, b] = [tenant(), tenant()];
    const sealedB = await cipher.encrypt('b', context(b));
    await expect(cipher.decrypt(sealedB, context(a))).rejects.toMatchObject({ code: 'SP_ERR_CRYPTO_DECRYPT_FAILED' });
    await expect(processOf().cipher.decrypt(sealedB, context(a))).rejects.toMatchObject({ code: 'SP_ERR_CRYPTO_DECRYPT_FAILED' });
  });

  it('still reads records written under the shared data keys before the upgrade', async () => {
    const keyring = new LocalKeyring(dir, 365);
    keyring.open();
    const before = new RecordCipher(keyring, new DataKeyRepository(handle.db)); // no tenant keys: the old cipher
    const a = tenant();
    const old = await before.encrypt('written before per-tenant keys', context(a));
    const { cipher } = processOf();
    expect((await cipher.decrypt(old, context(a))).toString()).toBe('written before per-tenant keys');
    const fresh = await cipher.encrypt('after', context(a));
    expect(keyIdOf(fresh)).not.toBe(keyIdOf(old));
  });

  it("shreds a tenant's records and blobs when its root key is destroyed, and leaves other tenants intact", async () => {
    const { cipher, tenantKeys } = processOf();
    const [a, b] = [tenant(), tenant()];
    const recordA = await cipher.encrypt('secret of a', context(a));
    const recordB = await cipher.encrypt('secret of b', context(b));
    const blobA = await readAll(Readable.from([Buffer.from('attachment of a')]).pipe(await createEncryptStream(cipher, 'ctx-a', a)));

    await tenantKeys.destroy(a);
    cipher.forgetTenant(a);
    live.delete(a);

    for (const reader of [cipher, processOf().cipher]) {
      await expect(reader.decrypt(recordA, context(a))).rejects.toMatchObject({ code: 'SP_ERR_TENANT_ERASED' });
      await expect(readAll(Readable.from([blobA]).pipe(createDecryptStream(reader, 'ctx-a', a)))).rejects.toMatchObject({ code: 'SP_ERR_TENANT_ERASED' });
      await expect(reader.encrypt('new data', context(a))).rejects.toMatchObject({ code: 'SP_ERR_TENANT_ERASED' });
      expect((await reader.decrypt(recordB, context(b))).toString()).toBe('secret of b');
    }
    // The tombstone holds no key material.
    const tombstone = readFileSync(path.join(dir, `tenant-${a}.json`), 'utf8');
    expect(Object.keys(JSON.parse(tombstone) as object).sort()).toEqual(['erased_at', 'tenant', 'v']);
  });

  it('never creates a new root key for an erased tenant, even if a restored database still lists it as live', async () => {
    const { tenantKeys } = processOf();
    const a = tenant();
    await tenantKeys.destroy(a);
    // `live` still has a: the database says the tenant exists and is not erased.
    await expect(processOf().cipher.encrypt('x', context(a))).rejects.toMatchObject({ code: 'SP_ERR_TENANT_ERASED' });
  });

  it('creates no root key for a tenant that does not exist', async () => {
    await expect(processOf().cipher.encrypt('x', context(newId('tenant')))).rejects.toMatchObject({ code: 'SP_ERR_TENANT_ERASED' });
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('stops a process that still holds an erased tenant\'s keys within the recheck interval', async () => {
    let now = 1_000_000;
    const holder = processOf({ now: () => now, recheckMs: 60_000 });
    const a = tenant();
    const sealed = await holder.cipher.encrypt('held in memory', context(a));
    await processOf().tenantKeys.destroy(a); // erased by another process
    now += 60_000;
    await expect(holder.cipher.decrypt(sealed, context(a))).rejects.toMatchObject({ code: 'SP_ERR_TENANT_ERASED' });
    await expect(holder.cipher.encrypt('more', context(a))).rejects.toMatchObject({ code: 'SP_ERR_TENANT_ERASED' });
  });
});

describe('AWS KMS tenant root keys', () => {
  const kms = mockClient(KMSClient);
  afterEach(() => kms.reset());
  const arn = 'arn:aws:kms:eu-central-1:111122223333:key/tenant-key';

  it("creates one KMS key per tenant on first use, with rotation, and wraps data keys under it bound to the tenant", async () => {
    const tenantId = newId('tenant');
    kms.on(DescribeKeyCommand).rejectsOnce(Object.assign(new Error('no alias'), { name: 'NotFoundException' }));
    kms.on(CreateKeyCommand).resolves({ KeyMetadata: { KeyId: 'k', Arn: arn, KeyState: 'Enabled' } });
    kms.on(GenerateDataKeyCommand).resolves({ KeyId: arn, Plaintext: randomBytes(32), CiphertextBlob: Buffer.from('wrapped') });
    const keys = new AwsKmsTenantRootKeys(new KMSClient({ region: 'eu-central-1' }), async () => true);
    const provider = await keys.providerFor(tenantId);
    await provider.generateDataKey('dek_1');
    expect(kms.commandCalls(CreateKeyCommand)[0]?.args[0].input).toMatchObject({ Tags: [{ TagKey: 'sealpost:tenant', TagValue: tenantId }] });
    expect(kms.commandCalls(CreateAliasCommand)[0]?.args[0].input).toEqual({ AliasName: tenantKeyAlias(tenantId), TargetKeyId: arn });
    expect(kms.commandCalls(EnableKeyRotationCommand)).toHaveLength(1);
    expect(kms.commandCalls(GenerateDataKeyCommand)[0]?.args[0].input).toMatchObject({
      KeyId: arn,
      EncryptionContext: { tenant: tenantId, purpose: 'sealpost-data-key', data_key_id: 'dek_1' },
    });
  });

  it('erases by disabling the tenant key and scheduling its deletion; the tenant is refused afterwards', async () => {
    const tenantId = newId('tenant');
    kms.on(DescribeKeyCommand).resolvesOnce({ KeyMetadata: { KeyId: 'k', Arn: arn, KeyState: 'Enabled' } }).resolves({ KeyMetadata: { KeyId: 'k', Arn: arn, KeyState: 'PendingDeletion' } });
    const keys = new AwsKmsTenantRootKeys(new KMSClient({ region: 'eu-central-1' }), async () => true);
    await keys.destroy(tenantId);
    expect(kms.commandCalls(DisableKeyCommand)[0]?.args[0].input).toEqual({ KeyId: arn });
    expect(kms.commandCalls(ScheduleKeyDeletionCommand)[0]?.args[0].input).toEqual({ KeyId: arn, PendingWindowInDays: 7 });
    await expect(keys.providerFor(tenantId)).rejects.toMatchObject({ code: 'SP_ERR_TENANT_ERASED' });
    expect(kms.commandCalls(CreateKeyCommand)).toHaveLength(0);
    expect(kms.commandCalls(DecryptCommand)).toHaveLength(0);
  });

  it('creates no key for a tenant that is not live', async () => {
    kms.on(DescribeKeyCommand).rejects(Object.assign(new Error('no alias'), { name: 'NotFoundException' }));
    const keys = new AwsKmsTenantRootKeys(new KMSClient({ region: 'eu-central-1' }), async () => false);
    await expect(keys.providerFor(newId('tenant'))).rejects.toMatchObject({ code: 'SP_ERR_TENANT_ERASED' });
    expect(kms.commandCalls(CreateKeyCommand)).toHaveLength(0);
  });
});
