import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import type { JwkSet } from '@sealpost/verify';
import type { Kysely } from 'kysely';
import type { AuditActor, AuditEvent } from '../audit/audit-event.js';
import type { Database } from '../db/schema.js';
import type { PreparedWrite } from '../db/prepared-write.js';
import { SealpostError } from '../errors/sealpost-error.js';
import type { RecordCipher } from './record-cipher.js';
import {
  effectiveState,
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
 * authentication, so this bounds their database queries to one per interval per tenant and process.
 */
export const PUBLIC_KEYS_CACHE_MS = 5_000;
/** Tenants whose keys one process keeps in memory; past this the caches start afresh (a reload is one query). */
export const MAX_CACHED_TENANTS = 10_000;

export interface RotationResult {
  readonly tenant: string;
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
  /**
   * Rotate only if the active key was activated before this time (ms): a command asked to rotate
   * at this time is satisfied by a rotation another process made since, so racing commands make
   * one new key, not one each.
   */
  readonly unlessRotatedSince?: number;
  /** Who rotates, for the `signing_key.rotated` audit event; default the system. */
  readonly actor?: AuditActor;
}

/** What `GET /v1/signing-keys` tells a tenant about its keys. */
export interface TenantSigningKeys {
  readonly tenant: string;
  /** The kid that signs now. */
  readonly current: string;
  /** The kid it replaced, while that one is still valid for verification. */
  readonly previous: string | null;
  /** When the scheduler replaces the current key, ms. */
  readonly nextRotationAt: number;
  /** The tenant's keys valid now (current first): the tenant's JWKS. */
  readonly jwks: JwkSet;
}

/** Where a key change's audit event is written: inside the change's own transaction. */
export interface SigningKeyAudit {
  append(tx: Kysely<Database>, event: AuditEvent): Promise<unknown>;
}

export interface SigningKeyServiceOptions {
  readonly now?: () => number;
  readonly refreshMs?: number;
  readonly publicKeysCacheMs?: number;
}

const SYSTEM: AuditActor = { type: 'system', id: 'sealpost' };

function unavailable(message: string, cause?: unknown, logDetail?: Record<string, unknown>): SealpostError {
  return new SealpostError('SP_ERR_SIGNING_KEY_UNAVAILABLE', message, { cause, logDetail });
}

/** A map that starts afresh rather than grow past {@link MAX_CACHED_TENANTS} entries. */
function bounded<V>(map: Map<string, V>, key: string, value: V): V {
  if (!map.has(key) && map.size >= MAX_CACHED_TENANTS) map.clear();
  map.set(key, value);
  return value;
}

/**
 * The Ed25519 signing keys (DESIGN §6), one set per tenant: one active key per tenant, replaced
 * every 90 days, valid for verification 90 days more, then retired. A tenant's first key is made
 * on its first signature. Private halves are stored only sealed by the record cipher (so wrapped
 * by the KMS keyring, bound to kid and tenant) and exist in plain form only in this process's
 * memory. Every key change writes a `signing_key.rotated` audit event in its own transaction.
 *
 * The legacy deployment-wide keys (before per-tenant keys) never sign; they stay published so
 * what they signed keeps verifying.
 *
 * Call it outside database transactions: loading or creating a key decrypts or encrypts, which
 * may need the database connection an open SQLite transaction holds.
 */
export class SigningKeyService {
  private readonly now: () => number;
  private readonly refreshMs: number;
  private readonly publicKeysCacheMs: number;
  private readonly cached = new Map<string, { key: ActiveSigningKey; checkedAt: number }>();
  private readonly refreshing = new Map<string, Promise<ActiveSigningKey>>();
  /** Public keys by tenant id; the legacy keys under '' (no tenant id is empty). */
  private readonly publicKeys = new Map<string, { keys: Promise<SigningKeyRecord[]>; loadedAt: number }>();

  constructor(
    private readonly repository: SigningKeyRepository,
    private readonly cipher: RecordCipher,
    private readonly audit: SigningKeyAudit,
    options: SigningKeyServiceOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.refreshMs = options.refreshMs ?? ACTIVE_KEY_REFRESH_MS;
    this.publicKeysCacheMs = options.publicKeysCacheMs ?? PUBLIC_KEYS_CACHE_MS;
  }

  /**
   * The key to sign the tenant's webhooks and receipts with now. Reloaded at most every
   * {@link ACTIVE_KEY_REFRESH_MS}, so a rotation by another process is picked up within that
   * time; created if the tenant has none yet.
   */
  async currentKey(tenantId: string): Promise<ActiveSigningKey> {
    const cached = this.cached.get(tenantId);
    if (cached && this.now() - cached.checkedAt < this.refreshMs) return cached.key;
    // One reload per tenant at a time, however many signatures wait for it.
    let refreshing = this.refreshing.get(tenantId);
    if (!refreshing) {
      refreshing = this.refresh(tenantId).finally(() => this.refreshing.delete(tenantId));
      bounded(this.refreshing, tenantId, refreshing);
    }
    return refreshing;
  }

  /** Rotates the tenant's key now (or only when due / when `expectedKid` is still active). Safe to race from many processes. */
  async rotate(tenantId: string, options: RotateOptions = {}): Promise<RotationResult> {
    const now = this.now();
    const actor = options.actor ?? SYSTEM;
    const active = await this.repository.findActive(tenantId);
    if (!active) {
      const kid = await this.createFirst(tenantId, now, actor);
      return { tenant: tenantId, rotated: kid.created, active: kid.kid, replaced: null, reason: kid.created ? 'created' : 'rotated-elsewhere' };
    }
    if (options.expectedKid !== undefined && options.expectedKid !== active.kid) {
      return { tenant: tenantId, rotated: false, active: active.kid, replaced: null, reason: 'not-expected-key' };
    }
    if (options.unlessRotatedSince !== undefined && active.activatedAt >= options.unlessRotatedSince) {
      return { tenant: tenantId, rotated: false, active: active.kid, replaced: null, reason: 'rotated-elsewhere' };
    }
    if (options.ifDue && now - active.activatedAt < SIGNING_KEY_ACTIVE_MS) {
      return { tenant: tenantId, rotated: false, active: active.kid, replaced: null, reason: 'not-due' };
    }
    // Generated and sealed before the transaction, which then only writes three rows.
    const next = await this.generate(tenantId, now);
    const audited = this.rotatedEvent(next, active.kid, now, actor);
    if (!(await this.repository.replaceActive(active.kid, next, now, SIGNING_KEY_OVERLAP_MS, audited))) {
      const winner = await this.repository.findActive(tenantId);
      return { tenant: tenantId, rotated: false, active: winner?.kid ?? active.kid, replaced: null, reason: 'rotated-elsewhere' };
    }
    this.cached.delete(tenantId);
    this.publicKeys.delete(tenantId);
    return { tenant: tenantId, rotated: true, active: next.kid, replaced: active.kid, reason: 'rotated' };
  }

  /** The scheduler's step: replaces every tenant's active key that is 90 days old. */
  async rotateDue(actor: AuditActor = SYSTEM): Promise<RotationResult[]> {
    const tenants = await this.repository.tenantsDueForRotation(this.now() - SIGNING_KEY_ACTIVE_MS);
    const results: RotationResult[] = [];
    for (const tenant of tenants) results.push(await this.rotate(tenant, { ifDue: true, actor }));
    return results;
  }

  /** Retires replaced keys (of any tenant, and legacy ones) whose 90-day overlap is over, and drops their private halves. */
  async retireExpired(): Promise<{ kid: string; tenantId: string | null }[]> {
    const retired = await this.repository.retireExpired(this.now());
    for (const { tenantId } of retired) this.publicKeys.delete(tenantId ?? '');
    return retired;
  }

  /** Keys with their state and dates, oldest first: one tenant's, or every tenant's and the legacy ones (`sealpost keys status`). */
  async status(tenantId?: string): Promise<SigningKeyStatus[]> {
    const now = this.now();
    const keys = tenantId === undefined ? await this.repository.listAll() : await this.repository.listForTenant(tenantId);
    return keys.map((key) => keyStatus(key, now));
  }

  /**
   * The tenant's `jwks.json`: its keys valid now, as RFC 8037 OKP JWKs with nbf and exp.
   * Not found for a tenant that does not exist.
   */
  async jwks(tenantId: string): Promise<JwkSet> {
    return jwkSets(await this.tenantPublicKeys(tenantId), this.now()).live;
  }

  /**
   * The tenant's `jwks-archive.json`: its retired keys, and the legacy deployment-wide keys that
   * signed its receipts before per-tenant keys, so old receipts stay verifiable offline.
   */
  async jwksArchive(tenantId: string): Promise<JwkSet> {
    const now = this.now();
    const [own, legacy] = await Promise.all([this.tenantPublicKeys(tenantId), this.cachedPublicKeys('')]);
    const archived = jwkSets(own, now).archive.keys;
    // Legacy keys whatever their state: none of them signs again.
    const { live, archive } = jwkSets(legacy, now);
    return { keys: [...archived, ...live.keys, ...archive.keys] };
  }

  /**
   * `/.well-known/jwks.json` and `jwks-archive.json`: the legacy deployment-wide keys only, live
   * and retired, for receipts and requests signed before per-tenant keys. No tenant key is
   * listed there: a receiver must trust its own tenant's keys only.
   */
  async legacyJwks(): Promise<{ live: JwkSet; archive: JwkSet }> {
    return jwkSets(await this.cachedPublicKeys(''), this.now());
  }

  /** What `GET /v1/signing-keys` shows the tenant; creates its first key if it has none. */
  async tenantKeys(tenantId: string): Promise<TenantSigningKeys> {
    await this.currentKey(tenantId);
    const now = this.now();
    const keys = await this.repository.listForTenant(tenantId);
    const active = keys.find((key) => effectiveState(key, now) === 'active');
    if (!active) throw unavailable('No active signing key', undefined, { tenant: tenantId });
    const previous = keys.filter((key) => effectiveState(key, now) === 'replaced').sort((a, b) => b.activatedAt - a.activatedAt)[0];
    return {
      tenant: tenantId,
      current: active.kid,
      previous: previous?.kid ?? null,
      // Overdue (the scheduler was down): at its next check.
      nextRotationAt: Math.max(active.activatedAt + SIGNING_KEY_ACTIVE_MS, now),
      jwks: jwkSets(keys, now).live,
    };
  }

  private async tenantPublicKeys(tenantId: string): Promise<SigningKeyRecord[]> {
    const keys = await this.cachedPublicKeys(tenantId);
    // A tenant without keys yet (it never signed) has an empty set; one that does not exist, none.
    if (keys.length === 0 && !(await this.repository.tenantExists(tenantId))) {
      this.publicKeys.delete(tenantId);
      throw new SealpostError('SP_ERR_RESOURCE_NOT_FOUND', 'No such tenant');
    }
    return keys;
  }

  private cachedPublicKeys(tenantId: string): Promise<SigningKeyRecord[]> {
    const now = this.now();
    const cached = this.publicKeys.get(tenantId);
    if (cached && now - cached.loadedAt < this.publicKeysCacheMs) return cached.keys;
    const keys = tenantId === '' ? this.repository.listLegacy() : this.repository.listForTenant(tenantId);
    const entry = bounded(this.publicKeys, tenantId, { keys, loadedAt: now });
    keys.catch(() => {
      if (this.publicKeys.get(tenantId) === entry) this.publicKeys.delete(tenantId);
    });
    return keys;
  }

  private async refresh(tenantId: string): Promise<ActiveSigningKey> {
    const checkedAt = this.now();
    const active = await this.repository.findActive(tenantId);
    const cached = this.cached.get(tenantId);
    if (active && cached?.key.kid === active.kid) {
      bounded(this.cached, tenantId, { key: cached.key, checkedAt });
      return cached.key;
    }
    if (!active) await this.createFirst(tenantId, checkedAt, SYSTEM);
    const key = await this.loadActive(tenantId);
    bounded(this.cached, tenantId, { key, checkedAt });
    return key;
  }

  private async loadActive(tenantId: string): Promise<ActiveSigningKey> {
    const stored = await this.repository.findActiveWithPrivateKey(tenantId);
    if (!stored) throw unavailable('No active signing key', undefined, { tenant: tenantId });
    let der: Buffer;
    try {
      der = await this.cipher.decrypt(stored.privateKeySealed, signingKeySealContext(stored.kid, tenantId));
    } catch (cause) {
      throw unavailable('The signing key could not be unsealed', cause, { kid: stored.kid, tenant: tenantId });
    }
    try {
      const privateKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
      if (privateKey.asymmetricKeyType !== 'ed25519' || !rawPublicKey(createPublicKey(privateKey)).equals(stored.publicKey)) {
        throw unavailable('The signing key is inconsistent', undefined, { kid: stored.kid, tenant: tenantId });
      }
      return { kid: stored.kid, tenantId, privateKey, publicKey: stored.publicKey };
    } finally {
      der.fill(0);
    }
  }

  private async createFirst(tenantId: string, now: number, actor: AuditActor): Promise<{ kid: string; created: boolean }> {
    const key = await this.generate(tenantId, now);
    if (await this.repository.insertFirst(key, this.rotatedEvent(key, null, now, actor))) {
      this.publicKeys.delete(tenantId);
      return { kid: key.kid, created: true };
    }
    const winner = await this.repository.findActive(tenantId);
    if (!winner) throw unavailable('No active signing key after creating one', undefined, { tenant: tenantId });
    return { kid: winner.kid, created: false };
  }

  /** The `signing_key.rotated` event of a key coming into use: tenant and kids, never key material. */
  private rotatedEvent(key: NewSigningKey, replaced: string | null, now: number, actor: AuditActor): PreparedWrite {
    return async (tx) => {
      await this.audit.append(tx, {
        time: new Date(now).toISOString(),
        tenant: key.tenantId,
        actor,
        action: 'signing_key.rotated',
        resource: key.kid,
        details: { kid: key.kid, replaced, reason: replaced === null ? 'created' : 'rotated', overlap_days: SIGNING_KEY_OVERLAP_MS / 86_400_000 },
      });
    };
  }

  private async generate(tenantId: string, now: number): Promise<NewSigningKey> {
    const kid = newKid(now);
    const pair = generateKeyPairSync('ed25519');
    const der = pair.privateKey.export({ type: 'pkcs8', format: 'der' });
    try {
      const privateKeySealed = await this.cipher.encrypt(der, signingKeySealContext(kid, tenantId));
      return { kid, tenantId, publicKey: rawPublicKey(pair.publicKey), privateKeySealed, createdAt: now, activatedAt: now, notBefore: now - SIGNING_KEY_NBF_LEEWAY_MS };
    } finally {
      der.fill(0);
    }
  }
}
