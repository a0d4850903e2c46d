import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { RecordCipher, RecordContext } from '../crypto/record-cipher.js';
import { isValidKeyName, rawPublicKey, verifierKey, type NoteKey } from './checkpoint.js';
import type { LogKeyRepository } from './log-key.repository.js';
import { newId } from '../crypto/ids.js';

export interface LogSigningKey extends NoteKey {
  readonly id: string;
  readonly privateKey: KeyObject;
  /** C2SP verifier key string, as published at /.well-known/sealpost-log-key. */
  readonly verifierKey: string;
}

function sealContext(id: string): RecordContext {
  return { tenant: '_system', table: 'audit_log_keys', id, field: 'private_key' };
}

/**
 * The audit log's Ed25519 signing key, separate from the receipt keys: generated on first use,
 * its private key stored only sealed by the record cipher (and so wrapped by the key provider).
 */
export class LogKeyService {
  private current: Promise<LogSigningKey> | undefined;

  constructor(
    private readonly repository: LogKeyRepository,
    private readonly cipher: RecordCipher,
    /** Key name in signatures and in the verifier key; by convention the log's origin. */
    private readonly name: string,
    private readonly now: () => number = Date.now,
  ) {
    if (!isValidKeyName(name)) throw new TypeError(`invalid log key name ${JSON.stringify(name)}: non-empty, no spaces, no '+'`);
  }

  /** The key that signs checkpoints, created (once, across processes) if there is none yet. */
  currentKey(): Promise<LogSigningKey> {
    this.current ??= this.load().catch((err: unknown) => {
      this.current = undefined;
      throw err;
    });
    return this.current;
  }

  private async load(): Promise<LogSigningKey> {
    let stored = await this.repository.findCurrentWithPrivateKey();
    if (!stored) {
      const id = newId('auditLogKey');
      const pair = generateKeyPairSync('ed25519');
      // Sealed outside any transaction: the cipher may store a new data key through its own connection.
      const privateKeySealed = await this.cipher.encrypt(pair.privateKey.export({ type: 'pkcs8', format: 'der' }), sealContext(id));
      await this.repository.insertCurrentIfAbsent({ id, name: this.name, publicKey: rawPublicKey(pair.publicKey), privateKeySealed, createdAt: this.now() });
      stored = await this.repository.findCurrentWithPrivateKey();
      if (!stored) throw new Error('audit log key vanished after it was created');
    }
    const der = await this.cipher.decrypt(stored.privateKeySealed, sealContext(stored.id));
    const privateKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
    der.fill(0);
    if (!rawPublicKey(createPublicKey(privateKey)).equals(stored.publicKey)) throw new Error(`audit log key ${stored.id}: private and public halves do not match`);
    const key = { name: stored.name, publicKey: stored.publicKey };
    return { id: stored.id, ...key, privateKey, verifierKey: verifierKey(key) };
  }
}
