import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import { SealpostError } from '../../errors/sealpost-error.js';
import { isId } from '../ids.js';
import type { GeneratedDataKey, KeyProvider, KeyProviderStatus, WrappedDataKey } from '../key-provider.js';
import { TENANT_KEY_RECHECK_MS, TenantProviderCache, tenantErased, type TenantLiveness, type TenantRootKeys } from './tenant-root-keys.js';

const ROOT_KEY_BYTES = 32; // AES-256
const IV_BYTES = 12; // NIST SP 800-38D §8.2.2
const TAG_BYTES = 16;

/** What the master key seals a tenant's root key under: bound to the tenant, so files cannot be swapped. */
function sealId(tenantId: string): string {
  return `tenant-root:${tenantId}`;
}

/** The data-key wrapping of one tenant, as recorded in `data_keys.kek_ref`. */
export function tenantKekRef(tenantId: string): string {
  return `tenant:${tenantId}`;
}

interface LiveKeyFile {
  readonly v: 1;
  readonly tenant: string;
  readonly created_at: string;
  /** The master key version (or KMS key) that sealed it. */
  readonly kek: string;
  readonly wrapped: string;
}
type RootKeyFile = LiveKeyFile | { readonly v: 1; readonly tenant: string; readonly erased_at: string };

/**
 * Tenant root keys as files in the keyring directory, beside the master keys (so whatever copies
 * the keyring copies them): `<keyring>/tenant-<tenant id>.json` (mode 0600), each a random 256-bit key sealed by the master key (`sealer`, normally the local
 * keyring, bound to the tenant id). Erasure replaces the file with a tombstone holding no key
 * material, which also stops the key from ever being created again for that tenant, even by a
 * process whose restored database still lists the tenant as live.
 */
export class LocalTenantRootKeys implements TenantRootKeys {
  private readonly cache: TenantProviderCache;

  constructor(
    private readonly dir: string,
    private readonly sealer: KeyProvider,
    private readonly isLive: TenantLiveness,
    now: () => number = Date.now,
    recheckMs = TENANT_KEY_RECHECK_MS,
  ) {
    this.cache = new TenantProviderCache(
      (tenantId) => this.load(tenantId),
      async (tenantId) => 'wrapped' in (this.read(tenantId) ?? { erased_at: '' }),
      now,
      recheckMs,
    );
  }

  providerFor(tenantId: string): Promise<KeyProvider> {
    return this.cache.get(tenantId);
  }

  async destroy(tenantId: string): Promise<void> {
    const file = this.fileOf(tenantId);
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const tombstone: RootKeyFile = { v: 1, tenant: tenantId, erased_at: new Date().toISOString() };
    const temp = `${file}.${process.pid}.erase.tmp`;
    writeDurably(temp, JSON.stringify(tombstone));
    // rename() replaces the key file in one step: a reader sees the key or the tombstone, never neither.
    renameSync(temp, file);
    syncDir(this.dir);
    this.cache.forget(tenantId);
  }

  private async load(tenantId: string): Promise<KeyProvider> {
    const existing = this.read(tenantId);
    if (existing && !('wrapped' in existing)) throw tenantErased(tenantId);
    if (existing) return this.unseal(tenantId, existing);
    if (!(await this.isLive(tenantId))) throw tenantErased(tenantId);
    return this.create(tenantId);
  }

  private async create(tenantId: string): Promise<KeyProvider> {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const sealed = await this.sealer.generateDataKey(sealId(tenantId));
    const body: RootKeyFile = { v: 1, tenant: tenantId, created_at: new Date().toISOString(), kek: sealed.kekRef, wrapped: sealed.wrapped.toString('base64') };
    const file = this.fileOf(tenantId);
    const temp = `${file}.${process.pid}.tmp`;
    writeDurably(temp, JSON.stringify(body));
    try {
      // link() fails if the file exists: two processes creating at once agree on one key.
      linkSync(temp, file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      sealed.plaintext.fill(0);
      return this.load(tenantId);
    } finally {
      unlinkSync(temp);
    }
    syncDir(this.dir);
    return new TenantKeyWrapper(tenantId, sealed.plaintext);
  }

  private async unseal(tenantId: string, file: LiveKeyFile): Promise<KeyProvider> {
    const key = await this.sealer.decryptDataKey(sealId(tenantId), { provider: this.sealer.name, kekRef: file.kek, wrapped: Buffer.from(file.wrapped, 'base64') });
    if (key.length !== ROOT_KEY_BYTES) throw invalid(this.fileOf(tenantId));
    return new TenantKeyWrapper(tenantId, key);
  }

  private read(tenantId: string): RootKeyFile | undefined {
    const file = this.fileOf(tenantId);
    let mode: number;
    try {
      mode = statSync(file).mode & 0o777;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    if ((mode & 0o077) !== 0) {
      throw new SealpostError('SP_ERR_CRYPTO_KEYRING_INVALID', `${file} is accessible by other users (mode ${mode.toString(8)}); run chmod 600 on it`);
    }
    let parsed: Partial<Record<string, unknown>>;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8')) as typeof parsed;
    } catch {
      throw invalid(file);
    }
    if (parsed.v !== 1 || parsed.tenant !== tenantId) throw invalid(file);
    if (typeof parsed.erased_at === 'string') return { v: 1, tenant: tenantId, erased_at: parsed.erased_at };
    if (typeof parsed.kek !== 'string' || typeof parsed.wrapped !== 'string' || typeof parsed.created_at !== 'string') throw invalid(file);
    return { v: 1, tenant: tenantId, created_at: parsed.created_at, kek: parsed.kek, wrapped: parsed.wrapped };
  }

  private fileOf(tenantId: string): string {
    // Only real tenant ids become file names: no path separators, no dots.
    if (!isId('tenant', tenantId)) throw new SealpostError('SP_ERR_INTERNAL_ERROR', 'Internal error', { logDetail: { reason: 'not a tenant id' } });
    return path.join(this.dir, `tenant-${tenantId}.json`);
  }
}

/** Wraps one tenant's data keys under its root key (AES-256-GCM, bound to tenant and data key id). */
class TenantKeyWrapper implements KeyProvider {
  readonly name = 'local' as const;

  constructor(
    private readonly tenantId: string,
    private readonly rootKey: Buffer,
  ) {}

  async generateDataKey(dataKeyId: string): Promise<GeneratedDataKey> {
    const plaintext = randomBytes(32);
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.rootKey, iv);
    cipher.setAAD(this.aad(dataKeyId));
    const wrapped = Buffer.concat([iv, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
    return { provider: 'local', kekRef: tenantKekRef(this.tenantId), wrapped, plaintext };
  }

  async decryptDataKey(dataKeyId: string, key: WrappedDataKey): Promise<Buffer> {
    if (key.provider !== 'local' || key.kekRef !== tenantKekRef(this.tenantId) || key.wrapped.length !== IV_BYTES + 32 + TAG_BYTES) {
      throw new SealpostError('SP_ERR_CRYPTO_DECRYPT_FAILED', 'A data key could not be unwrapped', { logDetail: { dataKeyId, kekRef: key.kekRef } });
    }
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.rootKey, key.wrapped.subarray(0, IV_BYTES));
      decipher.setAAD(this.aad(dataKeyId));
      decipher.setAuthTag(key.wrapped.subarray(key.wrapped.length - TAG_BYTES));
      return Buffer.concat([decipher.update(key.wrapped.subarray(IV_BYTES, key.wrapped.length - TAG_BYTES)), decipher.final()]);
    } catch (cause) {
      throw new SealpostError('SP_ERR_CRYPTO_DECRYPT_FAILED', 'A data key could not be unwrapped', { cause, logDetail: { dataKeyId } });
    }
  }

  async status(): Promise<KeyProviderStatus> {
    return { provider: 'local', currentKek: tenantKekRef(this.tenantId), rotationEnabled: false, details: {} };
  }

  private aad(dataKeyId: string): Buffer {
    return Buffer.from(JSON.stringify(['sealpost-tenant-dek-wrap-v1', this.tenantId, dataKeyId]), 'utf8');
  }
}

function invalid(file: string): SealpostError {
  return new SealpostError('SP_ERR_CRYPTO_KEYRING_INVALID', `${file} is not a valid tenant key file`);
}

function writeDurably(file: string, body: string): void {
  const fd = openSync(file, 'wx', 0o600);
  try {
    writeSync(fd, body);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function syncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
