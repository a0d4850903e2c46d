import type { Kysely } from 'kysely';
import type { AuditEvent } from '../audit/audit-event.js';
import type { AuditRecorder } from '../audit/audit-recorder.js';
import type { Database } from '../db/schema.js';
import { SealpostError } from '../errors/sealpost-error.js';
import { generateApiKey, parseApiKey, secretMatches } from './api-key.format.js';
import type { ApiKeyRecord, ApiKeyRepository } from './api-key.repository.js';
import type { ApiKeyPrincipal, Principal } from './principal.js';
import { permissionsOfScopes, SCOPES, type Scope } from './scopes.js';
import { newId } from '../crypto/ids.js';

const DAY_MS = 86_400_000;
/** Customers promise their auditors a yearly key rotation; older keys are flagged. */
export const KEY_AGE_WARNING_DAYS = 365;
export const DEFAULT_ROTATION_OVERLAP_DAYS = 7;
export const MAX_ROTATION_OVERLAP_DAYS = 90;
/** `last_used_at` is written at most this often per key, so reads do not each cost a write. */
const LAST_USED_RESOLUTION_MS = 60_000;

/** The caller of an API route: an API key or an operator session (principal.ts). */
export type AuthContext = Principal;

export interface IssuedKey {
  readonly record: ApiKeyRecord;
  /** Shown once; only its hash is stored. */
  readonly token: string;
}

export function keyAgeWarning(record: Pick<ApiKeyRecord, 'createdAt'>, now: number): boolean {
  return now - record.createdAt > KEY_AGE_WARNING_DAYS * DAY_MS;
}

/** Two weeks: time to roll a successor out through a release cycle before the key stops working. */
export const KEY_EXPIRY_WARNING_DAYS = 14;

/** A live key that expires within {@link KEY_EXPIRY_WARNING_DAYS}: the console warns before integrations break. */
export function keyExpiryWarning(record: Pick<ApiKeyRecord, 'expiresAt' | 'revokedAt'>, now: number): boolean {
  if (record.expiresAt === null || record.revokedAt !== null) return false;
  return record.expiresAt > now && record.expiresAt - now <= KEY_EXPIRY_WARNING_DAYS * DAY_MS;
}


/** Who asked for a key change: the calling key's prefix, or the CLI. */
export type KeyActor = AuditEvent['actor'];

/**
 * Who changes a key, and with what authority. A key may only create, rotate or revoke keys
 * whose scopes are all among its own, so `keys:manage` alone never yields a broader key.
 * The CLI acts with every scope (it already holds the data directory).
 */
export interface KeyManager {
  readonly actor: KeyActor;
  readonly scopes: readonly Scope[];
  /** The operator creating a key (so removing the member can revoke or hand over their keys). */
  readonly operatorId?: string;
}

export const SYSTEM_KEY_MANAGER: KeyManager = { actor: { type: 'system', id: 'sealpost' }, scopes: SCOPES };

export class ApiKeyService {
  private readonly lastTouched = new Map<string, number>();

  constructor(
    private readonly repository: ApiKeyRepository,
    private readonly now: () => number = Date.now,
    /** With both set, key changes and their audit events commit together or not at all. */
    private readonly audited?: { db: Kysely<Database>; audit: AuditRecorder },
  ) {}

  private async write<T>(work: (tx: Kysely<Database> | undefined) => Promise<T>, event: (result: T) => Omit<AuditEvent, 'time'>): Promise<T> {
    const audited = this.audited;
    if (!audited) return work(undefined);
    return audited.db.transaction().execute(async (tx) => {
      const result = await work(tx);
      await audited.audit(tx, event(result));
      return result;
    });
  }

  /**
   * Refuses (403, audited as `api_key.refused`) a change to a key with scopes the manager lacks.
   * The refusal is recorded in its own transaction: nothing else was written.
   */
  private async requireWithin(tenantId: string, by: KeyManager, scopes: readonly Scope[], operation: 'create' | 'rotate' | 'revoke', resource?: string): Promise<void> {
    const missing = [...new Set(scopes)].filter((scope) => !by.scopes.includes(scope));
    if (missing.length === 0) return;
    await this.write(
      async () => undefined,
      () => ({ tenant: tenantId, actor: by.actor, action: 'api_key.refused', ...(resource ? { resource } : {}), details: { operation, missing_scopes: missing } }),
    );
    throw new SealpostError('SP_ERR_AUTH_SCOPE_ESCALATION', `This API key cannot ${operation} a key with scopes it does not hold: ${missing.join(', ')}`);
  }

  /** `issue`, recorded as `api_key.created` in the same transaction. */
  async issueAudited(tenantId: string, input: { name: string; scopes: readonly Scope[]; expiresAt?: number | null }, by: KeyManager): Promise<IssuedKey> {
    await this.requireWithin(tenantId, by, input.scopes, 'create');
    if (input.expiresAt != null && input.expiresAt <= this.now()) {
      throw new SealpostError('SP_ERR_HTTP_BAD_REQUEST', 'expires_at must be in the future');
    }
    return this.write(
      (tx) => this.issue(tenantId, { ...input, createdBy: by.operatorId ?? null }, tx),
      (issued) => ({ tenant: tenantId, actor: by.actor, action: 'api_key.created', resource: issued.record.id, details: { prefix: issued.record.prefix, scopes: [...issued.record.scopes] } }),
    );
  }

  async issue(
    tenantId: string,
    input: { name: string; scopes: readonly Scope[]; expiresAt?: number | null; rotatedFrom?: string | null; createdBy?: string | null },
    db?: Kysely<Database>,
  ): Promise<IssuedKey> {
    const key = generateApiKey();
    const record: ApiKeyRecord = {
      id: newId('apiKey'),
      tenantId,
      prefix: key.prefix,
      name: input.name,
      scopes: [...new Set(input.scopes)],
      createdAt: this.now(),
      expiresAt: input.expiresAt ?? null,
      revokedAt: null,
      lastUsedAt: null,
      rotatedFrom: input.rotatedFrom ?? null,
      createdBy: input.createdBy ?? null,
    };
    await this.repository.insert(record, key.secretHash, db);
    return { record, token: key.token };
  }

  /**
   * The tenant and scopes behind a bearer token, or an error that never says which part was
   * wrong (unknown prefix, wrong secret, expired and revoked all look the same to the caller).
   */
  async authenticate(token: string | undefined): Promise<ApiKeyPrincipal> {
    const unauthenticated = (reason: string): SealpostError =>
      new SealpostError('SP_ERR_AUTH_UNAUTHENTICATED', 'Missing or invalid API key', { logDetail: { reason } });
    if (!token) throw unauthenticated('no bearer token');
    const parsed = parseApiKey(token);
    if (!parsed) throw unauthenticated('malformed token');
    const found = await this.repository.findForAuthentication(parsed.prefix);
    if (!found || !secretMatches(parsed.secret, found.secretHash)) throw unauthenticated('unknown key or wrong secret');
    const { record } = found;
    const now = this.now();
    // Only after the secret matched: whoever holds a key of an erased tenant may learn why it stopped.
    if (found.tenantErased) throw new SealpostError('SP_ERR_TENANT_ERASED', 'This tenant has been erased', { logDetail: { key: record.prefix } });
    if (record.revokedAt !== null) throw unauthenticated(`revoked key ${record.prefix}`);
    if (record.expiresAt !== null && record.expiresAt <= now) throw unauthenticated(`expired key ${record.prefix}`);
    if (now - (this.lastTouched.get(record.id) ?? 0) >= LAST_USED_RESOLUTION_MS) {
      this.lastTouched.set(record.id, now);
      await this.repository.touch(record.id, now);
    }
    return {
      kind: 'api_key',
      tenantId: record.tenantId,
      apiKeyId: record.id,
      prefix: record.prefix,
      scopes: record.scopes,
      keyCreatedAt: record.createdAt,
      permissions: permissionsOfScopes(record.scopes),
      actor: { type: 'api_key', id: record.prefix },
      rateKey: `key:${record.id}`,
    };
  }

  list(tenantId: string): Promise<ApiKeyRecord[]> {
    return this.repository.list(tenantId);
  }

  async get(tenantId: string, id: string): Promise<ApiKeyRecord> {
    const record = await this.repository.find(tenantId, id);
    if (!record) throw new SealpostError('SP_ERR_RESOURCE_NOT_FOUND', 'No such API key');
    return record;
  }

  async revoke(tenantId: string, id: string, by: KeyManager = SYSTEM_KEY_MANAGER): Promise<void> {
    const target = await this.get(tenantId, id);
    await this.requireWithin(tenantId, by, target.scopes, 'revoke', id);
    await this.write(
      (tx) => this.repository.revoke(tenantId, id, this.now(), tx),
      () => ({ tenant: tenantId, actor: by.actor, action: 'api_key.revoked', resource: id }),
    );
  }

  /**
   * Issues a successor with the same name, scopes and expiry (so rotation never extends a
   * key's life); the old key keeps working for the overlap (default 7 days, at most 90) so
   * deployments can switch without downtime.
   */
  async rotate(tenantId: string, id: string, overlapDays = DEFAULT_ROTATION_OVERLAP_DAYS, by: KeyManager = SYSTEM_KEY_MANAGER): Promise<IssuedKey> {
    if (!Number.isInteger(overlapDays) || overlapDays < 0 || overlapDays > MAX_ROTATION_OVERLAP_DAYS) {
      throw new SealpostError('SP_ERR_HTTP_BAD_REQUEST', `overlap_days must be an integer from 0 to ${MAX_ROTATION_OVERLAP_DAYS}`);
    }
    const old = await this.get(tenantId, id);
    if (old.revokedAt !== null || (old.expiresAt !== null && old.expiresAt <= this.now())) {
      throw new SealpostError('SP_ERR_RESOURCE_NOT_FOUND', 'No such active API key');
    }
    await this.requireWithin(tenantId, by, old.scopes, 'rotate', id);
    return this.write(
      async (tx) => {
        const successor = await this.issue(tenantId, { name: old.name, scopes: old.scopes, expiresAt: old.expiresAt, rotatedFrom: old.id, createdBy: old.createdBy }, tx);
        await this.repository.expireBy(tenantId, id, this.now() + overlapDays * DAY_MS, tx);
        return successor;
      },
      (successor) => ({ tenant: tenantId, actor: by.actor, action: 'api_key.rotated', resource: id, details: { successor: successor.record.id, overlap_days: overlapDays } }),
    );
  }
}
