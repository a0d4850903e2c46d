import { createPublicKey, type KeyObject } from 'node:crypto';
import { VerifyError } from './errors.js';
import { isJsonObject, ownMembers } from './json-text.js';

/**
 * One Sealpost signing key as published at `/.well-known/jwks.json` (and, once retired, at
 * `/.well-known/jwks-archive.json`): an RFC 8037 OKP JWK with its validity window (DESIGN §6).
 *
 * @example
 * ```ts
 * import type { Ed25519Jwk } from '@sealpost/verify';
 * const jwk: Ed25519Jwk = {
 *   kty: 'OKP', crv: 'Ed25519', use: 'sig',
 *   kid: 'sk_2026q4', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo',
 *   nbf: 1790000000, exp: 1805552000,
 * };
 * ```
 */
export interface Ed25519Jwk {
  readonly kty: 'OKP';
  readonly crv: 'Ed25519';
  /** Key id; the `sealpost-key-id` header and a receipt's `sig.kid` name it. */
  readonly kid: string;
  /** The 32-byte public key, base64url without padding (RFC 8037 §2). */
  readonly x: string;
  readonly use?: 'sig';
  readonly alg?: 'EdDSA' | 'Ed25519';
  /** Start of the validity window, unix seconds, inclusive. */
  readonly nbf: number;
  /** End of the validity window, unix seconds, inclusive. */
  readonly exp: number;
}

/**
 * A JWK set (RFC 7517 §5) as served at `/.well-known/jwks.json` or `jwks-archive.json`.
 * Members of `keys` with another kid are ignored, whatever their type.
 *
 * @example
 * ```ts
 * import type { JwkSet } from '@sealpost/verify';
 * const jwks = (await (await fetch('https://relay.example.com/.well-known/jwks.json')).json()) as JwkSet;
 * ```
 */
export interface JwkSet {
  readonly keys: readonly Ed25519Jwk[];
}

/**
 * A key found by {@link resolveKey}: ready for `crypto.verify`, with its validity window.
 *
 * @example
 * ```ts
 * import { resolveKey } from '@sealpost/verify';
 * const { key, nbf, exp } = resolveKey(jwks, 'sk_2026q4');
 * ```
 */
export interface ResolvedKey {
  readonly kid: string;
  readonly key: KeyObject;
  /** Unix seconds, inclusive. */
  readonly nbf: number;
  /** Unix seconds, inclusive. */
  readonly exp: number;
}

// base64url of exactly 32 bytes: 42 free characters and a last one whose low 2 bits are zero.
const ED25519_X = /^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/;
// What a key id may be: printable ASCII, bounded. It arrives in a header or a receipt.
const KID = /^[\x21-\x7e]{1,128}$/;

function malformed(message: string): never {
  throw new VerifyError('SP_VERIFY_MALFORMED_INPUT', message);
}

/**
 * Whether `kid` has the form of a Sealpost key id: 1–128 printable ASCII characters.
 *
 * @example
 * ```ts
 * import { isWellFormedKid } from '@sealpost/verify';
 * isWellFormedKid('sk_2026q4'); // true
 * isWellFormedKid('two words'); // false
 * ```
 */
export function isWellFormedKid(kid: unknown): kid is string {
  return typeof kid === 'string' && KID.test(kid);
}

function toResolvedKey(member: Record<string, unknown>, kid: string): ResolvedKey {
  // Own members only: a polluted Object.prototype must not supply nbf, exp or use.
  const jwk = ownMembers(member);
  if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519') malformed(`key ${kid} is not an Ed25519 OKP key`);
  // A JWKS is public: a `d` member means a private key was published by mistake.
  if (Object.hasOwn(jwk, 'd')) malformed(`key ${kid} in the JWKS is a private key`);
  if (typeof jwk.x !== 'string' || !ED25519_X.test(jwk.x)) malformed(`key ${kid} has a malformed x`);
  if (jwk.use !== undefined && jwk.use !== 'sig') malformed(`key ${kid} is not a signing key`);
  if (jwk.alg !== undefined && jwk.alg !== 'EdDSA' && jwk.alg !== 'Ed25519') malformed(`key ${kid} is not for EdDSA`);
  if (jwk.key_ops !== undefined && !(Array.isArray(jwk.key_ops) && jwk.key_ops.includes('verify'))) {
    malformed(`key ${kid} is not for verification`);
  }
  const { nbf, exp } = jwk;
  if (typeof nbf !== 'number' || typeof exp !== 'number' || !Number.isFinite(nbf) || !Number.isFinite(exp) || nbf > exp) {
    malformed(`key ${kid} needs numeric nbf and exp with nbf <= exp`);
  }
  let key: KeyObject;
  try {
    // Only the members that define the key: nothing else in the JWK may change what is verified.
    key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: jwk.x }, format: 'jwk' });
  } catch (cause) {
    throw new VerifyError('SP_VERIFY_MALFORMED_INPUT', `key ${kid} is not a valid Ed25519 public key`, { cause });
  }
  return { kid, key, nbf, exp };
}

/**
 * Finds the key named `kid` in a JWK set and imports it as a node:crypto `KeyObject`.
 *
 * The set is checked only as far as this kid: the matching member must be a public Ed25519
 * OKP JWK with numeric `nbf` ≤ `exp`, and the kid must occur once. Other members (other key
 * types, future algorithms) are ignored, as RFC 7517 §5 asks.
 *
 * @throws {@link VerifyError} `SP_VERIFY_UNKNOWN_KEY` when no member has this kid;
 *   `SP_VERIFY_MALFORMED_INPUT` when the set, the kid or the matching member is malformed.
 *
 * @example
 * ```ts
 * import { resolveKey, isKeyValidAt } from '@sealpost/verify';
 * const resolved = resolveKey(jwks, 'sk_2026q4');
 * isKeyValidAt(resolved, Math.floor(Date.now() / 1000));
 * ```
 */
export function resolveKey(jwks: JwkSet, kid: string): ResolvedKey {
  if (!isJsonObject(jwks) || !Array.isArray(jwks.keys)) malformed('malformed JWKS: expected {"keys": [...]}');
  if (!isWellFormedKid(kid)) malformed('malformed key id');
  let found: Record<string, unknown> | undefined;
  for (const member of jwks.keys as readonly unknown[]) {
    if (!isJsonObject(member) || member.kid !== kid) continue;
    // Two keys under one kid would make the answer depend on their order.
    if (found !== undefined) malformed(`key id ${kid} occurs twice in the JWKS`);
    found = member;
  }
  if (found === undefined) throw new VerifyError('SP_VERIFY_UNKNOWN_KEY', 'unknown signing key');
  return toResolvedKey(found, kid);
}

/**
 * Whether the key's validity window (`nbf` ≤ t ≤ `exp`, both inclusive) contains `unixSeconds`.
 *
 * @example
 * ```ts
 * import { resolveKey, isKeyValidAt } from '@sealpost/verify';
 * if (!isKeyValidAt(resolveKey(jwks, kid), signedAt)) throw new Error('signed outside the key window');
 * ```
 */
export function isKeyValidAt(key: Pick<ResolvedKey, 'nbf' | 'exp'>, unixSeconds: number): boolean {
  return key.nbf <= unixSeconds && unixSeconds <= key.exp;
}
