import type { Kysely } from 'kysely';
import type * as OpenPgp from 'openpgp';
import type { AuditActor } from '../audit/audit-event.js';
import type { AuditRecorder } from '../audit/audit-recorder.js';
import { newId } from '../crypto/ids.js';
import type { RecordCipher, RecordContext } from '../crypto/record-cipher.js';
import type { Database } from '../db/schema.js';
import { isUniqueViolation } from '../db/unique-violation.js';
import { SealpostError } from '../errors/sealpost-error.js';
import { lazyImport } from '../util/lazy-import.js';
import type { SecurityKeyRepository, StoredSecurityKey } from './security-key.repository.js';

/** An armored private key is a few KiB; anything far larger is not one key and only costs parsing. */
export const MAX_ARMORED_KEY_BYTES = 64 * 1024;
/** RSA below 3072 bits falls short of 128-bit security (NIST SP 800-57 Part 1, Table 2). */
const MIN_RSA_BITS = 3072;
const SIGNING_ALGORITHMS = new Set(['eddsaLegacy', 'ed25519', 'ed448', 'ecdsa', 'rsaSign', 'rsaEncryptSign']);

/** What anyone may know of the security key: served, shown on /security, printed by `show`. */
export type SecurityKeyInfo = StoredSecurityKey;

export interface LoadedSecurityKey {
  readonly info: SecurityKeyInfo;
  readonly privateKey: OpenPgp.PrivateKey;
}

/**
 * openpgp is loaded on first use, not at start: every CLI command and server process imports
 * this module through the composition root, and only the security key's own work needs it.
 */
const loadOpenpgp = lazyImport(() => import('openpgp'));

function sealContext(id: string): RecordContext {
  return { tenant: '_system', table: 'security_keys', id, field: 'private_key' };
}

function invalid(message: string, cause?: unknown): SealpostError {
  return new SealpostError('SP_ERR_TRUST_KEY_INVALID', message, cause === undefined ? {} : { cause });
}

function algorithmName(key: OpenPgp.PrivateKey): string {
  const info = key.getAlgorithmInfo();
  return [info.algorithm, info.curve ?? (info.bits === undefined ? undefined : String(info.bits))].filter(Boolean).join('/');
}

function expiryMs(expiry: Date | number | null): number | null {
  return expiry instanceof Date ? expiry.getTime() : null;
}

/**
 * The deployment's OpenPGP security key: it clear-signs /.well-known/security.txt (RFC 9116 §2.3)
 * and its public half is the file's `Encryption` key, so researchers can encrypt reports to it.
 * Created here (Ed25519 signing primary with a Curve25519 encryption subkey) or imported; the
 * private key is stored only sealed by the record cipher, so it is wrapped by the key provider
 * like every other deployment secret.
 */
export class SecurityKeyService {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly repository: SecurityKeyRepository,
    private readonly cipher: RecordCipher,
    private readonly audit: AuditRecorder,
    private readonly now: () => number = Date.now,
  ) {}

  current(): Promise<SecurityKeyInfo | undefined> {
    return this.repository.findCurrent();
  }

  /** The current key, or SP_ERR_TRUST_KEY_MISSING. */
  async require(): Promise<SecurityKeyInfo> {
    const key = await this.current();
    if (!key) throw new SealpostError('SP_ERR_TRUST_KEY_MISSING', 'This deployment has no security key');
    return key;
  }

  /**
   * A new key. v4 EdDSA ("legacy" in RFC 9580 terms) rather than a v6 Ed25519 key, because
   * GnuPG 2.2 and 2.4, which most researchers verify with, do not read v6 keys.
   */
  async create(options: { name: string; email: string; replace: boolean; actor: AuditActor }): Promise<SecurityKeyInfo> {
    await this.refuseIfPresent(options.replace);
    const openpgp = await loadOpenpgp();
    const { privateKey } = await openpgp.generateKey({
      type: 'ecc',
      curve: 'curve25519Legacy',
      userIDs: [{ name: options.name, email: options.email }],
      format: 'object',
    });
    return this.store(privateKey, 'created', options.actor, 'security_key.created');
  }

  /** An existing key (armored private key; decrypted here with `passphrase` if it is protected). */
  async import(options: { armored: string; passphrase?: string; replace: boolean; actor: AuditActor }): Promise<SecurityKeyInfo> {
    await this.refuseIfPresent(options.replace);
    const openpgp = await loadOpenpgp();
    if (Buffer.byteLength(options.armored) > MAX_ARMORED_KEY_BYTES) throw invalid(`Not one OpenPGP private key: larger than ${MAX_ARMORED_KEY_BYTES} bytes`);
    let keys: OpenPgp.PrivateKey[];
    try {
      keys = await openpgp.readPrivateKeys({ armoredKeys: options.armored });
    } catch (cause) {
      throw invalid('Not an armored OpenPGP private key', cause);
    }
    if (keys.length !== 1) throw invalid(`Expected one OpenPGP private key, found ${keys.length}`);
    let key = keys[0]!;
    if (!key.isDecrypted()) {
      if (options.passphrase === undefined) throw invalid('The private key is protected by a passphrase; pass it with --passphrase-stdin');
      try {
        key = await openpgp.decryptKey({ privateKey: key, passphrase: options.passphrase });
      } catch (cause) {
        throw invalid('The passphrase does not unlock the private key', cause);
      }
    }
    await this.checkUsable(key);
    return this.store(key, 'imported', options.actor, 'security_key.imported');
  }

  /** The current key with its private half, unsealed and checked against the stored public key; undefined without one. */
  async load(): Promise<LoadedSecurityKey | undefined> {
    const stored = await this.repository.findCurrentWithPrivateKey();
    if (!stored) return undefined;
    const openpgp = await loadOpenpgp();
    const armored = await this.cipher.decrypt(stored.privateKeySealed, sealContext(stored.id));
    const privateKey = await openpgp.readPrivateKey({ armoredKey: armored.toString('utf8') });
    armored.fill(0);
    // An edited row must not make us publish one key while signing with another.
    const served = await openpgp.readKey({ armoredKey: stored.publicKeyArmored });
    const fingerprint = privateKey.getFingerprint().toUpperCase();
    if (fingerprint !== stored.fingerprint || served.getFingerprint().toUpperCase() !== stored.fingerprint) {
      throw new Error(`security key ${stored.id}: the stored public key, fingerprint and private key do not match`);
    }
    const { privateKeySealed: _sealed, ...info } = stored;
    return { info, privateKey };
  }

  /** Clear-signs `text` (RFC 4880 §7) with the current key; undefined when there is none. */
  async clearSign(text: string, date: Date = new Date(this.now())): Promise<{ signed: string; key: SecurityKeyInfo } | undefined> {
    const loaded = await this.load();
    if (!loaded) return undefined;
    const openpgp = await loadOpenpgp();
    const message = await openpgp.createCleartextMessage({ text });
    const signed = await openpgp.sign({ message, signingKeys: loaded.privateKey, date });
    return { signed, key: loaded.info };
  }

  private async refuseIfPresent(replace: boolean): Promise<void> {
    if (replace) return;
    const existing = await this.current();
    if (existing) {
      throw new SealpostError('SP_ERR_TRUST_KEY_EXISTS', `This deployment has a security key already (${existing.fingerprint}); add --replace to replace it`);
    }
  }

  private async checkUsable(key: OpenPgp.PrivateKey): Promise<void> {
    const info = key.getAlgorithmInfo();
    if (!SIGNING_ALGORITHMS.has(info.algorithm)) throw invalid(`The primary key's algorithm (${info.algorithm}) cannot sign`);
    if (info.algorithm.startsWith('rsa') && (info.bits ?? 0) < MIN_RSA_BITS) throw invalid(`RSA keys need at least ${MIN_RSA_BITS} bits`);
    if (await key.isRevoked()) throw invalid('The key is revoked');
    try {
      await key.getSigningKey(undefined, new Date(this.now()));
    } catch (cause) {
      throw invalid('The key has no valid signing key (expired, revoked or missing)', cause);
    }
  }

  private async store(key: OpenPgp.PrivateKey, source: 'created' | 'imported', actor: AuditActor, action: 'security_key.created' | 'security_key.imported'): Promise<SecurityKeyInfo> {
    const id = newId('securityKey');
    const primaryUser = await key.getPrimaryUser().catch(() => undefined);
    const info: SecurityKeyInfo = {
      id,
      fingerprint: key.getFingerprint().toUpperCase(),
      userId: primaryUser?.user.userID?.userID ?? '',
      algorithm: algorithmName(key),
      source,
      publicKeyArmored: key.toPublic().armor(),
      createdAt: this.now(),
      expiresAt: expiryMs(await key.getExpirationTime()),
    };
    // Sealed outside the transaction: the cipher may store a new data key through its own connection.
    const privateKeySealed = await this.cipher.encrypt(key.armor(), sealContext(id));
    try {
      await this.db.transaction().execute(async (tx) => {
        const replaced = await this.repository.replaceCurrent(tx, { ...info, privateKeySealed }, info.createdAt);
        await this.audit(tx, {
          tenant: null,
          actor,
          action,
          resource: id,
          details: { fingerprint: info.fingerprint, algorithm: info.algorithm, ...(replaced === undefined ? {} : { replaced }) },
        });
      });
    } catch (err) {
      // The same key imported twice, or another command storing a key at the same moment.
      if (isUniqueViolation(err)) throw new SealpostError('SP_ERR_TRUST_KEY_EXISTS', `A security key with fingerprint ${info.fingerprint} was stored already, or another command stored one just now`);
      throw err;
    }
    return info;
  }
}
