import { createCipheriv, createDecipheriv } from 'node:crypto';
import { ulid } from './ulid.js';
import { SealpostError } from '../errors/sealpost-error.js';
import type { DataKeyRepository } from './data-key.repository.js';
import type { DataKey, DataKeySource } from './data-key-source.js';
import type { KeyProvider } from './key-provider.js';
import { pooledRandomBytes } from './random-pool.js';
import { isTenantScoped, type TenantRootKeys } from './tenant-keys/tenant-root-keys.js';

const FORMAT_V1 = 0x01;
const IV_BYTES = 12; // random 96-bit nonces (NIST SP 800-38D §8.2.2)
const TAG_BYTES = 16;
const DATA_KEY_ID = /^dek_[0-9A-HJKMNP-TV-Z]{26}$/; // dek_ + ULID, see createDataKey

/**
 * A data key encrypts at most this many records before it is replaced. With random 96-bit
 * nonces, NIST SP 800-38D §8.3 caps a key at 2^32 messages; 2^24 keeps the nonce-collision
 * probability below 2^-48 while costing one KMS call per 16 million records.
 */
export const DATA_KEY_MAX_USES = 2 ** 24;
/** ...or is this old: bounds how long one key's plaintext sits in memory. */
export const DATA_KEY_MAX_AGE_MS = 24 * 3_600_000;
/** Unwrapped keys kept for decryption; older ones are unwrapped again on demand. */
const DECRYPT_CACHE_SIZE = 1_000;

/** What a ciphertext belongs to. Bound as additional authenticated data: a ciphertext moved to another row, field or tenant fails. */
export interface RecordContext {
  readonly tenant: string;
  readonly table: string;
  readonly id: string;
  readonly field: string;
}

interface CurrentKey extends DataKey {
  uses: number;
  readonly createdAt: number;
}

/** Key scope of the deployment's own records (`_system`) and of every record before per-tenant keys. */
const DEPLOYMENT_SCOPE = '';

function contextAad(header: Buffer, ctx: RecordContext): Buffer {
  return Buffer.concat([header, Buffer.from(JSON.stringify(['sealpost-record-v1', ctx.tenant, ctx.table, ctx.id, ctx.field]), 'utf8')]);
}

/**
 * Envelope encryption of records: AES-256-GCM under a data key, the data key wrapped by the
 * key provider (local keyring or AWS KMS) and persisted before its first use.
 *
 * With `tenantKeys`, a tenant's records (context `tenant` a tenant id) use data keys of that
 * tenant alone, wrapped by its root key (tenant-keys/), so destroying the root key shreds them.
 * Data keys from before per-tenant keys (no tenant on their row) stay readable by any record.
 *
 * Ciphertext layout (version 1): 0x01 | id length (1 byte) | data key id | IV (12) | ciphertext | tag (16).
 *
 * Call it outside database transactions: creating or loading a data key uses the database, and
 * on SQLite an open transaction holds the only connection, so the two would wait on each other.
 * Seal first, then write the sealed rows in a short transaction.
 */
export class RecordCipher implements DataKeySource {
  /** The current data key of each scope: a tenant id, or DEPLOYMENT_SCOPE. */
  private readonly current = new Map<string, CurrentKey>();
  private readonly pending = new Map<string, Promise<CurrentKey>>();
  /** Unwrapped data keys and the tenant they belong to (null: the deployment's). */
  private readonly cache = new Map<string, { key: Buffer; tenant: string | null }>();

  constructor(
    private readonly provider: KeyProvider,
    private readonly repository: DataKeyRepository,
    private readonly limits: { maxUses: number; maxAgeMs: number } = { maxUses: DATA_KEY_MAX_USES, maxAgeMs: DATA_KEY_MAX_AGE_MS },
    private readonly now: () => number = Date.now,
    private readonly tenantKeys?: TenantRootKeys,
  ) {}

  async encrypt(plaintext: Buffer | string, ctx: RecordContext): Promise<Buffer> {
    const key = await this.currentDataKey(ctx.tenant);
    const idBytes = Buffer.from(key.id, 'ascii');
    const header = Buffer.concat([Buffer.from([FORMAT_V1, idBytes.length]), idBytes]);
    const iv = pooledRandomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key.key, iv);
    cipher.setAAD(contextAad(header, ctx));
    const body = Buffer.concat([cipher.update(typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext), cipher.final()]);
    return Buffer.concat([header, iv, body, cipher.getAuthTag()]);
  }

  async decrypt(ciphertext: Buffer, ctx: RecordContext): Promise<Buffer> {
    const fail = (reason: string, cause?: unknown): SealpostError =>
      new SealpostError('SP_ERR_CRYPTO_DECRYPT_FAILED', 'Stored data could not be decrypted', {
        cause,
        logDetail: { reason, table: ctx.table, field: ctx.field, id: ctx.id },
      });
    if (ciphertext.length < 2 || ciphertext[0] !== FORMAT_V1) throw fail('unknown format');
    const idLength = ciphertext[1] ?? 0;
    const headerLength = 2 + idLength;
    if (ciphertext.length < headerLength + IV_BYTES + TAG_BYTES) throw fail('truncated');
    const header = ciphertext.subarray(0, headerLength);
    const keyId = header.subarray(2).toString('latin1');
    const key = await this.dataKeyById(keyId, ctx.tenant);
    const iv = ciphertext.subarray(headerLength, headerLength + IV_BYTES);
    const tag = ciphertext.subarray(ciphertext.length - TAG_BYTES);
    try {
      const decipher = createDecipheriv('aes-256-gcm', key.key, iv);
      decipher.setAAD(contextAad(header, ctx));
      decipher.setAuthTag(tag);
      return Buffer.concat([decipher.update(ciphertext.subarray(headerLength + IV_BYTES, ciphertext.length - TAG_BYTES)), decipher.final()]);
    } catch (cause) {
      throw fail('authentication failed', cause);
    }
  }

  async encryptJson(value: unknown, ctx: RecordContext): Promise<Buffer> {
    return this.encrypt(JSON.stringify(value), ctx);
  }

  async decryptJson<T>(ciphertext: Buffer, ctx: RecordContext): Promise<T> {
    return JSON.parse((await this.decrypt(ciphertext, ctx)).toString('utf8')) as T;
  }

  /** The data key new ciphertexts of `owner` (a tenant id, or `_system`) use. */
  async currentDataKey(owner: string = DEPLOYMENT_SCOPE): Promise<DataKey> {
    const scope = this.scopeOf(owner);
    // Every use of a tenant's key re-checks (cheaply, see TenantProviderCache) that it is not erased.
    if (scope !== DEPLOYMENT_SCOPE) await this.tenantProvider(scope);
    const current = this.current.get(scope);
    if (current && current.uses < this.limits.maxUses && this.now() - current.createdAt < this.limits.maxAgeMs) {
      current.uses++;
      return current;
    }
    // One new key per scope at a time, however many encryptions are waiting for it.
    let pending = this.pending.get(scope);
    if (!pending) {
      pending = this.createDataKey(scope).finally(() => this.pending.delete(scope));
      this.pending.set(scope, pending);
    }
    const fresh = await pending;
    fresh.uses++;
    return fresh;
  }

  /** Unwraps (or returns from cache) the data key a ciphertext of `owner` names; a key of another tenant is refused. */
  async dataKeyById(id: string, owner: string = DEPLOYMENT_SCOPE): Promise<DataKey> {
    const scope = this.scopeOf(owner);
    const cached = this.cache.get(id);
    if (cached) {
      this.assertOwner(id, cached.tenant, scope);
      if (cached.tenant !== null) await this.tenantProvider(cached.tenant);
      return { id, key: cached.key };
    }
    // A damaged header must fail as undecryptable, not reach the database as a malformed key id.
    const wrapped = DATA_KEY_ID.test(id) ? await this.repository.find(id) : undefined;
    if (!wrapped) {
      // An erased tenant's data key rows are deleted with it: say so rather than "unknown key".
      if (scope !== DEPLOYMENT_SCOPE) await this.tenantProvider(scope);
      throw new SealpostError('SP_ERR_CRYPTO_DECRYPT_FAILED', 'Stored data could not be decrypted', { logDetail: { reason: 'unknown data key', id } });
    }
    this.assertOwner(id, wrapped.tenantId, scope);
    const provider = wrapped.tenantId === null ? this.provider : await this.tenantProvider(wrapped.tenantId);
    const key = await provider.decryptDataKey(id, wrapped);
    this.remember(id, key, wrapped.tenantId);
    return { id, key };
  }

  /** Forgets the current data keys, so the next encryptions use new ones (after a KEK rotation). */
  retireCurrentKey(): void {
    this.current.clear();
  }

  /** Drops every key of the tenant this process holds (after its erasure). */
  forgetTenant(tenantId: string): void {
    this.current.delete(tenantId);
    for (const [id, entry] of this.cache) if (entry.tenant === tenantId) this.cache.delete(id);
  }

  private scopeOf(owner: string): string {
    return this.tenantKeys && isTenantScoped(owner) ? owner : DEPLOYMENT_SCOPE;
  }

  private async tenantProvider(tenantId: string): Promise<KeyProvider> {
    if (!this.tenantKeys) {
      throw new SealpostError('SP_ERR_CRYPTO_KEY_UNAVAILABLE', 'Encryption key unavailable', { logDetail: { reason: 'tenant data key without tenant keys', tenantId } });
    }
    try {
      return await this.tenantKeys.providerFor(tenantId);
    } catch (err) {
      if ((err as { code?: unknown }).code === 'SP_ERR_TENANT_ERASED') this.forgetTenant(tenantId);
      throw err;
    }
  }

  /**
   * A tenant's data key decrypts only that tenant's records (its root key may be gone while
   * another's is not). Data keys of the deployment decrypt any record: every record written
   * before per-tenant keys names one.
   */
  private assertOwner(id: string, keyTenant: string | null, scope: string): void {
    if (keyTenant === null || keyTenant === scope) return;
    throw new SealpostError('SP_ERR_CRYPTO_DECRYPT_FAILED', 'Stored data could not be decrypted', { logDetail: { reason: 'data key of another tenant', id } });
  }

  private async createDataKey(scope: string): Promise<CurrentKey> {
    const id = `dek_${ulid()}`; // matches DATA_KEY_ID
    const tenantId = scope === DEPLOYMENT_SCOPE ? null : scope;
    const provider = tenantId === null ? this.provider : await this.tenantProvider(tenantId);
    const generated = await provider.generateDataKey(id);
    // Persist before first use: a ciphertext must never name a key that is not stored.
    await this.repository.insert(id, generated, this.now(), tenantId);
    this.remember(id, generated.plaintext, tenantId);
    const current = { id, key: generated.plaintext, uses: 0, createdAt: this.now() };
    this.current.set(scope, current);
    return current;
  }

  private remember(id: string, key: Buffer, tenant: string | null): void {
    if (this.cache.size >= DECRYPT_CACHE_SIZE) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
    this.cache.set(id, { key, tenant });
  }
}
