import { createCipheriv, createDecipheriv } from 'node:crypto';
import { ulid } from './ulid.js';
import { SealpostError } from '../errors/sealpost-error.js';
import type { DataKeyRepository } from './data-key.repository.js';
import type { DataKey, DataKeySource } from './data-key-source.js';
import type { KeyProvider } from './key-provider.js';
import { pooledRandomBytes } from './random-pool.js';

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

function contextAad(header: Buffer, ctx: RecordContext): Buffer {
  return Buffer.concat([header, Buffer.from(JSON.stringify(['sealpost-record-v1', ctx.tenant, ctx.table, ctx.id, ctx.field]), 'utf8')]);
}

/**
 * Envelope encryption of records: AES-256-GCM under a data key, the data key wrapped by the
 * key provider (local keyring or AWS KMS) and persisted before its first use.
 *
 * Ciphertext layout (version 1): 0x01 | id length (1 byte) | data key id | IV (12) | ciphertext | tag (16).
 *
 * Call it outside database transactions: creating or loading a data key uses the database, and
 * on SQLite an open transaction holds the only connection, so the two would wait on each other.
 * Seal first, then write the sealed rows in a short transaction.
 */
export class RecordCipher implements DataKeySource {
  private current: CurrentKey | undefined;
  private pending: Promise<CurrentKey> | undefined;
  private readonly cache = new Map<string, Buffer>();

  constructor(
    private readonly provider: KeyProvider,
    private readonly repository: DataKeyRepository,
    private readonly limits: { maxUses: number; maxAgeMs: number } = { maxUses: DATA_KEY_MAX_USES, maxAgeMs: DATA_KEY_MAX_AGE_MS },
    private readonly now: () => number = Date.now,
  ) {}

  async encrypt(plaintext: Buffer | string, ctx: RecordContext): Promise<Buffer> {
    const key = await this.currentDataKey();
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
    const key = await this.dataKeyById(keyId);
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

  async currentDataKey(): Promise<DataKey> {
    const current = this.current;
    if (current && current.uses < this.limits.maxUses && this.now() - current.createdAt < this.limits.maxAgeMs) {
      current.uses++;
      return current;
    }
    // One new key at a time, however many encryptions are waiting for it.
    this.pending ??= this.createDataKey().finally(() => {
      this.pending = undefined;
    });
    const fresh = await this.pending;
    fresh.uses++;
    return fresh;
  }

  async dataKeyById(id: string): Promise<DataKey> {
    const cached = this.cache.get(id);
    if (cached) return { id, key: cached };
    // A damaged header must fail as undecryptable, not reach the database as a malformed key id.
    const wrapped = DATA_KEY_ID.test(id) ? await this.repository.find(id) : undefined;
    if (!wrapped) {
      throw new SealpostError('SP_ERR_CRYPTO_DECRYPT_FAILED', 'Stored data could not be decrypted', { logDetail: { reason: 'unknown data key', id } });
    }
    const key = await this.provider.decryptDataKey(id, wrapped);
    this.remember(id, key);
    return { id, key };
  }

  /** Forgets the current data key, so the next encryption uses a new one (after a KEK rotation). */
  retireCurrentKey(): void {
    this.current = undefined;
  }

  private async createDataKey(): Promise<CurrentKey> {
    const id = `dek_${ulid()}`; // matches DATA_KEY_ID
    const generated = await this.provider.generateDataKey(id);
    // Persist before first use: a ciphertext must never name a key that is not stored.
    await this.repository.insert(id, generated, this.now());
    this.remember(id, generated.plaintext);
    this.current = { id, key: generated.plaintext, uses: 0, createdAt: this.now() };
    return this.current;
  }

  private remember(id: string, key: Buffer): void {
    if (this.cache.size >= DECRYPT_CACHE_SIZE) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
    this.cache.set(id, key);
  }
}
