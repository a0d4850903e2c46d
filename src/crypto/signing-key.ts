import { randomBytes, type KeyObject } from 'node:crypto';
import { ed25519PublicKey, rawEd25519PublicKey, type Ed25519Jwk, type JwkSet } from '@sealpost/verify';
import type { SigningKeyState } from '../db/schema.js';
import type { RecordContext } from './record-cipher.js';

const DAY_MS = 86_400_000;

/** DESIGN §6: a new signing key every quarter. */
export const SIGNING_KEY_ACTIVE_MS = 90 * DAY_MS;
/** DESIGN §6: a replaced key stays valid for verification this long, then it is retired. */
export const SIGNING_KEY_OVERLAP_MS = 90 * DAY_MS;
/**
 * A key's `nbf` lies this far before its activation: another process, or the ingest that
 * captured its time just before the first key was created, may sign with a clock a little
 * behind. Five minutes, the clock skew verifiers already tolerate for webhook timestamps.
 */
export const SIGNING_KEY_NBF_LEEWAY_MS = 5 * 60_000;

/** A signing key as stored, without its private half. */
export interface SigningKeyRecord {
  readonly kid: string;
  /** The tenant it signs for; null for a legacy deployment-wide key, which never signs again. */
  readonly tenantId: string | null;
  /** Raw 32 bytes. */
  readonly publicKey: Buffer;
  readonly state: SigningKeyState;
  readonly createdAt: number;
  readonly activatedAt: number;
  readonly notBefore: number;
  readonly replacedAt: number | null;
  readonly expiresAt: number | null;
  readonly retiredAt: number | null;
}

/** A key's state and validity window at a given time, as `sealpost keys status` shows them. */
export interface SigningKeyStatus {
  readonly kid: string;
  /** null: a legacy deployment-wide key (before per-tenant keys). */
  readonly tenantId: string | null;
  readonly state: SigningKeyState;
  readonly createdAt: number;
  readonly activatedAt: number;
  /** When the scheduler replaces it (active keys only). */
  readonly replaceDueAt: number | null;
  readonly replacedAt: number | null;
  readonly retiredAt: number | null;
  /** JWK nbf, ms. */
  readonly notBefore: number;
  /** JWK exp, ms. */
  readonly expiresAt: number;
  /** The JWK `x`: base64url of the raw public key. */
  readonly x: string;
}

/** The key that signs now, ready for `crypto.sign`. */
export interface ActiveSigningKey {
  readonly kid: string;
  /** The tenant whose webhooks and receipts it signs. */
  readonly tenantId: string;
  readonly privateKey: KeyObject;
  /** Raw 32 bytes. */
  readonly publicKey: Buffer;
}

/**
 * Encryption context of a signing key's sealed private half: bound to its kid and its tenant,
 * so a sealed key copied to another tenant's row does not open. `null`: a legacy
 * deployment-wide key, sealed before per-tenant keys under the `_system` context.
 */
export function signingKeySealContext(kid: string, tenantId: string | null): RecordContext {
  return { tenant: tenantId ?? '_system', table: 'signing_keys', id: kid, field: 'private_key' };
}

/**
 * A new key id: `sp_sig_<yyyymmdd>_<16 hex>`. Printable ASCII, so it passes
 * `isWellFormedKid` of @sealpost/verify; the date tells operators the key's age at a glance.
 */
export function newKid(now: number): string {
  const date = new Date(now).toISOString().slice(0, 10).replaceAll('-', '');
  return `sp_sig_${date}_${randomBytes(8).toString('hex')}`;
}

export const rawPublicKey = rawEd25519PublicKey;
export const publicKeyObject = ed25519PublicKey;

/**
 * The state a key is in at `now`, from its dates: the stored state may lag (the scheduler
 * retires keys on its next run), but what is published must not.
 */
export function effectiveState(key: SigningKeyRecord, now: number): SigningKeyState {
  if (key.state === 'retired' || key.retiredAt !== null) return 'retired';
  if (key.replacedAt === null) return 'active';
  return key.expiresAt !== null && now > key.expiresAt ? 'retired' : 'replaced';
}

/**
 * End of the key's validity window. A replaced key: 90 days after its replacement. The active
 * key: 90 days after its planned replacement, or after now if that is overdue (the scheduler was
 * down), so nothing it signs can fall outside its window.
 */
export function expiresAt(key: SigningKeyRecord, now: number): number {
  if (key.expiresAt !== null) return key.expiresAt;
  return Math.max(key.activatedAt + SIGNING_KEY_ACTIVE_MS, now) + SIGNING_KEY_OVERLAP_MS;
}

export function keyStatus(key: SigningKeyRecord, now: number): SigningKeyStatus {
  const state = effectiveState(key, now);
  return {
    kid: key.kid,
    tenantId: key.tenantId,
    state,
    createdAt: key.createdAt,
    activatedAt: key.activatedAt,
    replaceDueAt: state === 'active' ? key.activatedAt + SIGNING_KEY_ACTIVE_MS : null,
    replacedAt: key.replacedAt,
    retiredAt: key.retiredAt ?? (state === 'retired' ? key.expiresAt : null),
    notBefore: key.notBefore,
    expiresAt: expiresAt(key, now),
    x: key.publicKey.toString('base64url'),
  };
}

/**
 * The key as an RFC 8037 OKP JWK with its validity window in unix seconds (DESIGN §6). `nbf`
 * rounds down and `exp` up, so the published window never excludes a signing time.
 */
export function toJwk(key: SigningKeyRecord, now: number): Ed25519Jwk {
  return {
    kty: 'OKP',
    crv: 'Ed25519',
    kid: key.kid,
    x: key.publicKey.toString('base64url'),
    use: 'sig',
    nbf: Math.floor(key.notBefore / 1000),
    exp: Math.ceil(expiresAt(key, now) / 1000),
  };
}

/** `jwks.json`: every key valid at `now` (the active one first); `jwks-archive.json`: the retired ones. */
export function jwkSets(keys: readonly SigningKeyRecord[], now: number): { live: JwkSet; archive: JwkSet } {
  // The active key first (a rotation within one millisecond must not reorder it), then newest first.
  const rank = (key: SigningKeyRecord): number => (effectiveState(key, now) === 'active' ? 0 : 1);
  const ordered = [...keys].sort((a, b) => rank(a) - rank(b) || b.activatedAt - a.activatedAt || (a.kid < b.kid ? -1 : 1));
  const live: Ed25519Jwk[] = [];
  const archive: Ed25519Jwk[] = [];
  for (const key of ordered) (effectiveState(key, now) === 'retired' ? archive : live).push(toJwk(key, now));
  return { live: { keys: live }, archive: { keys: archive } };
}
