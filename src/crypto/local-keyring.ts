import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, readdirSync, statSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import { SealpostError } from '../errors/sealpost-error.js';
import type { GeneratedDataKey, KeyProvider, KeyProviderStatus, WrappedDataKey } from './key-provider.js';

const KEK_BYTES = 32; // AES-256
const IV_BYTES = 12; // GCM's recommended nonce size (NIST SP 800-38D §8.2.2)
const TAG_BYTES = 16;
const FILE_PATTERN = /^kek-v(\d{6})\.json$/;
const DAY_MS = 86_400_000;

interface KekVersion {
  readonly version: number;
  readonly createdAt: number;
  readonly key: Buffer;
}

/** A master key version as the database records it: the check value tells two keys apart without revealing either. */
export interface KekVersionCheck {
  readonly version: number;
  readonly createdAt: number;
  readonly check: string;
}

/** Label of the key check value: HMAC-SHA256 under the master key (a PRF: the value says nothing of the key). */
const CHECK_LABEL = 'sealpost-kek-check-v1';

function wrapAad(dataKeyId: string, version: number): Buffer {
  return Buffer.from(JSON.stringify(['sealpost-dek-wrap-v1', `local:v${version}`, dataKeyId]), 'utf8');
}

/**
 * Master keys kept in `<data dir>/keyring/kek-vNNNNNN.json` (mode 0600, directory 0700).
 * A new version is added every `rotationDays` (or on `sealpost keys rotate --kek`); older
 * versions stay so that data keys wrapped under them still unwrap.
 */
export class LocalKeyring implements KeyProvider {
  readonly name = 'local' as const;
  private versions = new Map<number, KekVersion>();
  /** The version new data keys are wrapped under, once the database has said which (src/crypto/kek-version.service.ts). */
  private active: number | undefined;

  constructor(
    private readonly dir: string,
    private readonly rotationDays: number,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Loads the keyring, creating the first version, or a new one when the newest is too old. For
   * tests and tools on a keyring of their own: Sealpost processes only `load()` it, and add versions
   * through KekVersionService.rotate (once, under the database lock, audited).
   */
  open(): { created: number | undefined } {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    this.reload();
    const newest = this.newest();
    if (newest === undefined || this.now() - newest.createdAt >= this.rotationDays * DAY_MS) {
      return { created: this.rotate() };
    }
    return { created: undefined };
  }

  /** Reads the keyring directory without adding any version (every process but the one that rotates). */
  load(): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    this.reload();
  }

  /** Every version in the directory with its check value, oldest first. */
  checks(): KekVersionCheck[] {
    this.reload();
    return [...this.versions.values()]
      .sort((a, b) => a.version - b.version)
      .map((v) => ({ version: v.version, createdAt: v.createdAt, check: createHmac('sha256', v.key).update(CHECK_LABEL).digest('hex') }));
  }

  /** Wraps new data keys under this version from now on (it must be in the directory). */
  useVersion(version: number): void {
    if (!this.versions.has(version)) this.reload();
    if (!this.versions.has(version)) throw new SealpostError('SP_ERR_CRYPTO_KEY_UNAVAILABLE', `Master key version ${version} is missing from the keyring`);
    this.active = version;
  }

  /** The version new data keys are wrapped under. */
  currentVersion(): number | undefined {
    return this.active ?? this.newest()?.version;
  }

  /**
   * Writes a new version with exactly this number; false if that file exists already. The
   * caller holds the rotation lock and records the version in the database.
   */
  createVersion(version: number): boolean {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    return this.write(version);
  }

  /** Adds a new master key version and makes it current; returns its number. */
  rotate(): number {
    this.reload();
    const version = (this.newest()?.version ?? 0) + 1;
    if (!this.write(version)) return this.rotate();
    this.active = undefined;
    return version;
  }

  private write(version: number): boolean {
    const key = randomBytes(KEK_BYTES);
    const body = JSON.stringify({ version, created_at: new Date(this.now()).toISOString(), key: key.toString('base64') });
    const final = path.join(this.dir, `kek-v${String(version).padStart(6, '0')}.json`);
    const temp = `${final}.${process.pid}.tmp`;
    const fd = openSync(temp, 'wx', 0o600);
    try {
      writeSync(fd, body);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    try {
      // link() fails if the version exists, so two processes writing at once cannot overwrite
      // each other's key.
      linkSync(temp, final);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw err;
    } finally {
      unlinkSync(temp);
    }
    const dirFd = openSync(this.dir, 'r');
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
    this.versions.set(version, { version, createdAt: this.now(), key });
    return true;
  }

  async generateDataKey(dataKeyId: string): Promise<GeneratedDataKey> {
    const kek = this.active === undefined ? this.newest() : this.versions.get(this.active);
    if (kek === undefined) throw new SealpostError('SP_ERR_CRYPTO_KEY_UNAVAILABLE', 'The local keyring is not open');
    const plaintext = randomBytes(32);
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', kek.key, iv);
    cipher.setAAD(wrapAad(dataKeyId, kek.version));
    const wrapped = Buffer.concat([iv, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
    return { provider: 'local', kekRef: `local:v${kek.version}`, wrapped, plaintext };
  }

  async decryptDataKey(dataKeyId: string, key: WrappedDataKey): Promise<Buffer> {
    const match = /^local:v(\d+)$/.exec(key.kekRef);
    if (key.provider !== 'local' || !match) {
      throw new SealpostError('SP_ERR_CRYPTO_KEY_UNAVAILABLE', 'Data key was not wrapped by the local keyring', {
        logDetail: { dataKeyId, provider: key.provider, kekRef: key.kekRef },
      });
    }
    const version = Number(match[1]);
    if (!this.versions.has(version)) this.reload(); // another process may have rotated
    const kek = this.versions.get(version);
    if (kek === undefined) {
      throw new SealpostError('SP_ERR_CRYPTO_KEY_UNAVAILABLE', `Master key version ${version} is missing from the keyring`);
    }
    const iv = key.wrapped.subarray(0, IV_BYTES);
    const tag = key.wrapped.subarray(key.wrapped.length - TAG_BYTES);
    const body = key.wrapped.subarray(IV_BYTES, key.wrapped.length - TAG_BYTES);
    try {
      const decipher = createDecipheriv('aes-256-gcm', kek.key, iv);
      decipher.setAAD(wrapAad(dataKeyId, version));
      decipher.setAuthTag(tag);
      return Buffer.concat([decipher.update(body), decipher.final()]);
    } catch (cause) {
      throw new SealpostError('SP_ERR_CRYPTO_DECRYPT_FAILED', 'A data key could not be unwrapped', { cause, logDetail: { dataKeyId } });
    }
  }

  async status(): Promise<KeyProviderStatus> {
    this.reload();
    const newest = this.newest();
    const current = this.currentVersion();
    return {
      provider: 'local',
      currentKek: current === undefined ? 'none' : `local:v${current}`,
      rotationEnabled: true,
      details: {
        directory: this.dir,
        rotation_days: this.rotationDays,
        versions: [...this.versions.values()].map((v) => ({ version: v.version, created_at: new Date(v.createdAt).toISOString() })),
        next_rotation_at: newest ? new Date(newest.createdAt + this.rotationDays * DAY_MS).toISOString() : null,
      },
    };
  }

  private newest(): KekVersion | undefined {
    let best: KekVersion | undefined;
    for (const v of this.versions.values()) if (!best || v.version > best.version) best = v;
    return best;
  }

  private reload(): void {
    for (const name of readdirSync(this.dir)) {
      const match = FILE_PATTERN.exec(name);
      if (!match) continue;
      const version = Number(match[1]);
      if (this.versions.has(version)) continue;
      const file = path.join(this.dir, name);
      const mode = statSync(file).mode & 0o777;
      if ((mode & 0o077) !== 0) {
        // A master key readable by other users is as good as published; refuse to use it.
        throw new SealpostError('SP_ERR_CRYPTO_KEYRING_INVALID', `${file} is accessible by other users (mode ${mode.toString(8)}); run chmod 600 on it`);
      }
      let parsed: { version?: unknown; created_at?: unknown; key?: unknown };
      try {
        parsed = JSON.parse(readFileSync(file, 'utf8')) as typeof parsed;
      } catch {
        throw new SealpostError('SP_ERR_CRYPTO_KEYRING_INVALID', `${file} is not a valid keyring file`);
      }
      const key = typeof parsed.key === 'string' ? Buffer.from(parsed.key, 'base64') : Buffer.alloc(0);
      const createdAt = typeof parsed.created_at === 'string' ? Date.parse(parsed.created_at) : NaN;
      if (parsed.version !== version || key.length !== KEK_BYTES || Number.isNaN(createdAt)) {
        throw new SealpostError('SP_ERR_CRYPTO_KEYRING_INVALID', `${file} is not a valid keyring file`);
      }
      this.versions.set(version, { version, createdAt, key });
    }
  }
}

