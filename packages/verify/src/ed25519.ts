import { createPublicKey, type KeyObject } from 'node:crypto';

/** DER SubjectPublicKeyInfo header of an Ed25519 key (RFC 8410 §4); the 32 key bytes follow. */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** Bytes of a raw Ed25519 public key (RFC 8032 §5.1.5). */
export const ED25519_PUBLIC_KEY_BYTES = 32;

/**
 * A node:crypto public key from the 32 raw bytes of an Ed25519 public key (as carried in a
 * JWK's `x` or a C2SP verifier key). Throws if the bytes are not 32 long.
 *
 * @example
 * ```ts
 * import { ed25519PublicKey } from '@sealpost/verify';
 * import { verify } from 'node:crypto';
 * const ok = verify(null, message, ed25519PublicKey(raw32), signature);
 * ```
 */
export function ed25519PublicKey(raw: Uint8Array): KeyObject {
  if (raw.length !== ED25519_PUBLIC_KEY_BYTES) throw new TypeError('an Ed25519 public key is 32 bytes');
  return createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
}

/**
 * The 32 raw bytes of an Ed25519 public key (or of the public half of a private key).
 *
 * @example
 * ```ts
 * import { rawEd25519PublicKey } from '@sealpost/verify';
 * import { generateKeyPairSync } from 'node:crypto';
 * const raw = rawEd25519PublicKey(generateKeyPairSync('ed25519').publicKey); // 32 bytes
 * ```
 */
export function rawEd25519PublicKey(key: KeyObject): Buffer {
  const spki = (key.type === 'private' ? createPublicKey(key) : key).export({ type: 'spki', format: 'der' });
  return Buffer.from(spki.subarray(spki.length - ED25519_PUBLIC_KEY_BYTES));
}
