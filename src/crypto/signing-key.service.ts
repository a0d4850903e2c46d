import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import type { JwkSet } from '@sealpost/verify';
import { SealpostError } from '../errors/sealpost-error.js';
import type { RecordCipher } from './record-cipher.js';
import {
  jwkSets,
  keyStatus,
  newKid,
  rawPublicKey,
  signingKeySealContext,
  SIGNING_KEY_ACTIVE_MS,
  SIGNING_KEY_NBF_LEEWAY_MS,
  SIGNING_KEY_OVERLAP_MS,
  type ActiveSigningKey,
  type SigningKeyRecord,
  type SigningKeyStatus,
} from './signing-key.js';
import type { NewSigningKey, SigningKeyRepository } from './signing-key.repository.js';

/**
 * How long a process signs with the key it loaded before asking the database whether another
 * process rotated it. Rotation promises other processes pick the new key up within a minute;
 * the check is one indexed single-row query.
 */
export const ACTIVE_KEY_REFRESH_MS = 30_000;
/**
 * How long the public keys behind the JWKS endpoints are reused: they are served without
 * authentication, so this bounds their database queries to one per interval per process.
 */
export const PUBLIC_KEYS_CACHE_MS = 5_000;

export interface RotationResult {
  /** True when this call made a new key (the first one, or a replacement). */
  readonly rotated: boolean;
  /** The active key after the call. */
  readonly active: string;
  /** The key this call replaced. */
  readonly replaced: string | null;
  readonly reason: 'created' | 'rotated' | 'not-due' | 'not-expected-key' | 'rotated-elsewhere';
}

export interface RotateOptions {
  /** Rotate only if the active key is at least 90 days old (what the scheduler asks). */
  readonly ifDue?: boolean;
  /** Rotate only if this is still the active key. */
  readonly expectedKid?: string;
}

export interface SigningKeyServiceOptions {
  readonly now?: () => number;
  readonly refreshMs?: number;
  readonly publicKeysCacheMs?: number;
}

function unavailable(message: string, cause?: unknown, logDetail?: Record<string, unknown>): SealpostError {
  return new SealpostError('SP_ERR_SIGNING_KEY_UNAVAILABLE', message, { cause, logDetail });
}

/**
 * The Ed25519 signing keys (DESIGN §6): one active key, replaced every 90 days, valid for
 * verification 90 days more, then retired. Private halves are stored only sealed by the record
 * cipher (so wrapped by the KMS keyring) and exist in plain form only in this process's memory.
 *
 * Call it outside database transactions: loading or creating a key decrypts or encrypts, which
 * may need the database connection an open SQLite transaction holds.
 */
export class SigningKeyService {
  private readonly now: () => number;
  private readonly refreshMs: number;
  private readonly publicKeysCacheMs: number;
  private cached: { key: ActiveSigningKey; checkedAt: number } | undefined;
  private refreshing: Promise<ActiveSigningKey> | undefined;
  private publicKeys: { keys: Promise<SigningKeyRecord[]>; loadedAt: number } | undefined;

  constructor(
    private readonly repository: SigningKeyRepository,
    private readonly cipher: RecordCipher,
    options: SigningKeyServiceOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.refreshMs = options.refreshMs ?? ACTIVE_KEY_REFRESH_MS;
    this.publicKeysCacheMs = options.publicKeysCacheMs ?? PUBLIC_KEYS_CACHE_MS;
  }

  /**
   * The key to sign with now. Reloaded at most every {@link ACTIVE_KEY_REFRESH_MS}, so a rotation
   * by another process is picked up within that time; created if there is none yet.
   */
  async currentKey(): Promise<ActiveSigningKey> {
    const cached = this.cached;
    if (cached && this.now() - cached.checkedAt < this.refreshMs) return cached.key;
    // One reload at a time, however many signatures wait for it.
    this.refreshing ??= this.refresh().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  /** Rotates now (or only when due / when `expectedKid` is still active). Safe to race from many processes. */
  async rotate(options: RotateOptions = {}): Promise<RotationResult> {
    const now = this.now();
    const active = await this.repository.findActive();
    if (!active) {
      const kid = await this.createFirst(now);
      return { rotated: kid.created, active: kid.kid, replaced: null, reason: kid.created ? 'created' : 'rotated-elsewhere' };
    }
    if (options.expectedKid !== undefined && options.expectedKid !== active.kid) {
      return { rotated: false, active: active.kid, replaced: null, reason: 'not-expected-key' };
    }
    if (options.ifDue && now - active.activatedAt < SIGNING_KEY_ACTIVE_MS) {
      return { rotated: false, active: active.kid, replaced: null, reason: 'not-due' };
    }
    // Generated and sealed before the transaction, which then only writes two rows.
    const next = await this.generate(now);
    if (!(await this.repository.replaceActive(active.kid, next, now, SIGNING_KEY_OVERLAP_MS))) {
      const winner = await this.repository.findActive();
      return { rotated: false, active: winner?.kid ?? active.kid, replaced: null, reason: 'rotated-elsewhere' };
    }
    this.cached = undefined;
    this.publicKeys = undefined;
    return { rotated: true, active: next.kid, replaced: active.kid, reason: 'rotated' };
  }

  /** The scheduler's step: make the first key, replace the active one once it is 90 days old. */
  rotateIfDue(): Promise<RotationResult> {
    return this.rotate({ ifDue: true });
  }

  /** Retires replaced keys whose 90-day overlap is over, and drops their private halves. */
  async retireExpired(): Promise<string[]> {
    const retired = await this.repository.retireExpired(this.now());
    if (retired.length > 0) this.publicKeys = undefined;
    return retired;
  }

  /** Every key with its state and dates, oldest first (`sealpost keys status`). */
  async status(): Promise<SigningKeyStatus[]> {
    const now = this.now();
    return (await this.repository.listAll()).map((key) => keyStatus(key, now));
  }

  /** `/.well-known/jwks.json`: every key valid now, as RFC 8037 OKP JWKs with nbf and exp. */
  async jwks(): Promise<JwkSet> {
    return jwkSets(await this.cachedPublicKeys(), this.now()).live;
  }

  /** `/.well-known/jwks-archive.json`: the retired keys, so old receipts stay verifiable offline. */
  async jwksArchive(): Promise<JwkSet> {
    return jwkSets(await this.cachedPublicKeys(), this.now()).archive;
  }

  private cachedPublicKeys(): Promise<SigningKeyRecord[]> {
    const now = this.now();
    const cached = this.publicKeys;
    if (cached && now - cached.loadedAt < this.publicKeysCacheMs) return cached.keys;
    const keys = this.repository.listAll();
    const entry = { keys, loadedAt: now };
    this.publicKeys = entry;
    keys.catch(() => {
      if (this.publicKeys === entry) this.publicKeys = undefined;
    });
    return keys;
  }

  private async refresh(): Promise<ActiveSigningKey> {
    const checkedAt = this.now();
    const active = await this.repository.findActive();
    if (active && this.cached?.key.kid === active.kid) {
      this.cached = { key: this.cached.key, checkedAt };
      return this.cached.key;
    }
    if (!active) await this.createFirst(checkedAt);
    const key = await this.loadActive();
    this.cached = { key, checkedAt };
    return key;
  }

  private async loadActive(): Promise<ActiveSigningKey> {
    const stored = await this.repository.findActiveWithPrivateKey();
    if (!stored) throw unavailable('No active signing key');
    let der: Buffer;
    try {
      der = await this.cipher.decrypt(stored.privateKeySealed, signingKeySealContext(stored.kid));
    } catch (cause) {
      throw unavailable('The signing key could not be unsealed', cause, { kid: stored.kid });
    }
    try {
      const privateKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
      if (privateKey.asymmetricKeyType !== 'ed25519' || !rawPublicKey(createPublicKey(privateKey)).equals(stored.publicKey)) {
        throw unavailable('The signing key is inconsistent', undefined, { kid: stored.kid });
      }
      return { kid: stored.kid, privateKey, publicKey: stored.publicKey };
    } finally {
      der.fill(0);
    }
  }

  private async createFirst(now: number): Promise<{ kid: string; created: boolean }> {
    const key = await this.generate(now);
    if (await this.repository.insertFirst(key)) {
      this.publicKeys = undefined;
      return { kid: key.kid, created: true };
    }
    const winner = await this.repository.findActive();
    if (!winner) throw unavailable('No active signing key after creating one');
    return { kid: winner.kid, created: false };
  }

  private async generate(now: number): Promise<NewSigningKey> {
    const kid = newKid(now);
    const pair = generateKeyPairSync('ed25519');
    const der = pair.privateKey.export({ type: 'pkcs8', format: 'der' });
    try {
      const privateKeySealed = await this.cipher.encrypt(der, signingKeySealContext(kid));
      return { kid, publicKey: rawPublicKey(pair.publicKey), privateKeySealed, createdAt: now, activatedAt: now, notBefore: now - SIGNING_KEY_NBF_LEEWAY_MS };
    } finally {
      der.fill(0);
    }
  }
}
