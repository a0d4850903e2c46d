import { SealpostError } from '../../errors/sealpost-error.js';
import { isId } from '../ids.js';
import type { KeyProvider } from '../key-provider.js';

/**
 * Per-tenant root keys: every data key of a tenant is wrapped by its tenant's root key, so
 * destroying that one key makes every record and blob of the tenant unreadable at once, in the
 * live database and in every snapshot of it (crypto-shredding). The root keys live with the key
 * provider (files in the local keyring, or one AWS KMS key per tenant), never in the database:
 * a database snapshot alone must never be enough to decrypt an erased tenant's data.
 */
export interface TenantRootKeys {
  /**
   * What wraps and unwraps this tenant's data keys. Creates the root key on first use (only for
   * a tenant that exists and is not erased); `SP_ERR_TENANT_ERASED` once it is destroyed.
   */
  providerFor(tenantId: string): Promise<KeyProvider>;
  /** Destroys the tenant's root key for good (idempotent). Nothing of the tenant decrypts afterwards. */
  destroy(tenantId: string): Promise<void>;
}

/** Whether the tenant exists and is not erased: a root key is only ever created for a live tenant. */
export type TenantLiveness = (tenantId: string) => Promise<boolean>;

/**
 * How long a process trusts that a root key it holds still exists before checking again. After an
 * erasure by another process, this process can read the tenant's data for at most this long
 * (its API keys are revoked at once, so only work already in flight can).
 */
export const TENANT_KEY_RECHECK_MS = 60_000;

/** Records with this owner are under the tenant's keys; `_system` and other owners use the deployment's. */
export function isTenantScoped(owner: string): boolean {
  return isId('tenant', owner);
}

export function tenantErased(tenantId: string): SealpostError {
  return new SealpostError('SP_ERR_TENANT_ERASED', 'This tenant has been erased', { logDetail: { tenantId } });
}

/**
 * One process's view of which root keys it holds, re-validated every `recheckMs` (so an erasure
 * anywhere reaches every process within that bound) and loaded once however many callers wait.
 */
export class TenantProviderCache {
  private readonly entries = new Map<string, { provider: KeyProvider; checkedAt: number }>();
  private readonly loading = new Map<string, Promise<KeyProvider>>();

  constructor(
    private readonly load: (tenantId: string) => Promise<KeyProvider>,
    private readonly stillLive: (tenantId: string) => Promise<boolean>,
    private readonly now: () => number,
    private readonly recheckMs: number,
  ) {}

  async get(tenantId: string): Promise<KeyProvider> {
    const entry = this.entries.get(tenantId);
    if (entry && this.now() - entry.checkedAt < this.recheckMs) return entry.provider;
    if (entry) {
      if (!(await this.stillLive(tenantId))) {
        this.entries.delete(tenantId);
        throw tenantErased(tenantId);
      }
      entry.checkedAt = this.now();
      return entry.provider;
    }
    let pending = this.loading.get(tenantId);
    if (!pending) {
      pending = this.load(tenantId).finally(() => this.loading.delete(tenantId));
      this.loading.set(tenantId, pending);
    }
    const provider = await pending;
    this.entries.set(tenantId, { provider, checkedAt: this.now() });
    return provider;
  }

  forget(tenantId: string): void {
    this.entries.delete(tenantId);
  }
}
