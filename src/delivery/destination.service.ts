import type { AuditActor } from '../audit/audit-event.js';
import { SealpostError } from '../errors/sealpost-error.js';
import type { DeliveryApiDeps } from './delivery-api.deps.js';
import type { DeliveryRepository } from './delivery.repository.js';
import { createdDetails, updatedDetails } from './destination-audit.js';
import type { Destination, DestinationRepository } from './destination.repository.js';
import { validateCustomHeaders } from './forwarded-request.js';
import { checkNotOwnListener, OwnListeners } from './own-listeners.js';
import { AddressPolicy, checkDestinationHost, systemResolver, type HostResolver } from './ssrf-guard.js';
import { newId } from '../crypto/ids.js';

/** Longer URLs are not portable (many servers and proxies cap the request line near 8 KB, some at 2 KB). */
export const MAX_URL_LENGTH = 2_048;
export const DEFAULT_MAX_CONCURRENCY = 10;
/** SEALPOST_MAX_DESTINATIONS_PER_TENANT's default: one payload fans out to at most this many requests. */
export const DEFAULT_MAX_DESTINATIONS_PER_TENANT = 50;

export interface DestinationInput {
  readonly url: string;
  readonly eventTypes?: readonly string[] | null;
  readonly enabled?: boolean;
  readonly headers?: Readonly<Record<string, string>>;
  readonly timeoutMs?: number;
  readonly maxConcurrency?: number;
}

export type DestinationPatch = Partial<DestinationInput>;

function invalidUrl(message: string): SealpostError {
  return new SealpostError('SP_ERR_DESTINATION_URL_INVALID', message);
}

function notFound(): SealpostError {
  return new SealpostError('SP_ERR_RESOURCE_NOT_FOUND', 'No such destination');
}

/**
 * The rules for destinations: what URL and headers are accepted, and what enabling or deleting
 * one does to its queue. Every change writes its audit event (`destination.created`, `.updated`,
 * `.disabled`, `.deleted`, `.replayed`) in its own transaction, with the changed settings but
 * never header values or the URL's path and query (see destination-audit.ts).
 */
export class DestinationService {
  private readonly policy: AddressPolicy;
  private readonly resolver: HostResolver;
  private readonly now: () => number;
  private readonly own: OwnListeners;
  private readonly maxPerTenant: number;

  constructor(
    private readonly repository: DestinationRepository,
    private readonly deliveries: DeliveryRepository,
    private readonly deps: Pick<DeliveryApiDeps, 'config' | 'poke' | 'resolver' | 'now' | 'ownListeners' | 'audit'>,
  ) {
    this.policy = AddressPolicy.from(deps.config.allowPrivateDestinations);
    this.resolver = deps.resolver ?? systemResolver;
    this.now = deps.now ?? Date.now;
    this.own = deps.ownListeners ?? new OwnListeners();
    this.maxPerTenant = deps.config.maxDestinationsPerTenant ?? DEFAULT_MAX_DESTINATIONS_PER_TENANT;
  }

  /**
   * A URL that may be saved: absolute, https (http only when the operator allows it), no
   * user:password, a host that is not (and does not resolve to) a refused address, and not one
   * of this deployment's own listeners.
   * Returns the normalised URL (WHATWG: `0x7f.1` becomes `127.0.0.1` before it is checked).
   */
  async checkUrl(raw: string): Promise<string> {
    if (raw.length > MAX_URL_LENGTH) throw invalidUrl(`Destination URL is longer than ${MAX_URL_LENGTH} characters`);
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw invalidUrl('Destination URL is not a valid absolute URL');
    }
    if (url.protocol === 'http:' && !this.deps.config.allowHttpDestinations) {
      throw invalidUrl('Destination URL must use https:// (plain http:// is not enabled on this server)');
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw invalidUrl('Destination URL must use https://');
    if (url.username !== '' || url.password !== '') {
      throw invalidUrl('Destination URL must not contain user:password; send credentials in a custom header such as Authorization');
    }
    if (url.hostname === '') throw invalidUrl('Destination URL has no host');
    await checkDestinationHost(url.hostname, this.policy, this.resolver);
    await checkNotOwnListener(url, this.own, this.resolver);
    url.hash = '';
    return url.href;
  }

  async create(tenantId: string, input: DestinationInput, actor: AuditActor): Promise<Destination> {
    const url = await this.checkUrl(input.url);
    const headers = input.headers ?? {};
    validateCustomHeaders(headers);
    const now = this.now();
    const destination: Destination = {
      id: newId('destination'),
      tenantId,
      url,
      headers,
      eventTypes: input.eventTypes ?? null,
      enabled: input.enabled ?? true,
      disabledReason: input.enabled === false ? 'disabled by API' : null,
      timeoutMs: input.timeoutMs ?? this.deps.config.deliveryTimeoutSeconds * 1000,
      maxConcurrency: input.maxConcurrency ?? DEFAULT_MAX_CONCURRENCY,
      failingSince: null,
      createdAt: now,
      updatedAt: now,
    };
    const inserted = await this.repository.insert(destination, { maxPerTenant: this.maxPerTenant }, (tx) =>
      this.deps.audit(tx, { tenant: tenantId, actor, action: 'destination.created', resource: destination.id, details: createdDetails(destination) }),
    );
    if (!inserted) {
      throw new SealpostError('SP_ERR_DESTINATION_LIMIT_REACHED', `A tenant may have at most ${this.maxPerTenant} destinations; delete unused ones first`);
    }
    return destination;
  }

  async get(tenantId: string, id: string): Promise<Destination> {
    const found = await this.repository.find(tenantId, id);
    if (!found) throw notFound();
    return found;
  }

  list(tenantId: string, page: { after: string | undefined; limit: number }): Promise<Destination[]> {
    return this.repository.list(tenantId, page);
  }

  /**
   * Applies a partial change. Enabling a disabled destination clears its failure record and
   * makes its queued deliveries due at once.
   */
  async update(tenantId: string, id: string, patch: DestinationPatch, actor: AuditActor): Promise<Destination> {
    const current = await this.get(tenantId, id);
    const url = patch.url === undefined ? current.url : await this.checkUrl(patch.url);
    const headers = patch.headers ?? current.headers;
    if (patch.headers !== undefined) validateCustomHeaders(headers);
    const enabled = patch.enabled ?? current.enabled;
    const resumeQueue = enabled && !current.enabled;
    const next: Destination = {
      ...current,
      url,
      headers,
      eventTypes: patch.eventTypes === undefined ? current.eventTypes : patch.eventTypes,
      enabled,
      disabledReason: enabled ? null : (current.disabledReason ?? 'disabled by API'),
      failingSince: resumeQueue ? null : current.failingSince,
      timeoutMs: patch.timeoutMs ?? current.timeoutMs,
      maxConcurrency: patch.maxConcurrency ?? current.maxConcurrency,
      updatedAt: this.now(),
    };
    // Turning a destination off is recorded as such, like the worker's automatic disabling.
    const disabling = current.enabled && !enabled;
    await this.repository.update(next, { resumeQueue }, (tx) =>
      this.deps.audit(tx, {
        tenant: tenantId,
        actor,
        action: disabling ? 'destination.disabled' : 'destination.updated',
        resource: id,
        details: { ...updatedDetails(current, next), ...(disabling ? { reason: next.disabledReason } : {}) },
      }),
    );
    if (resumeQueue) this.deps.poke?.();
    return next;
  }

  /** Deletes the destination and stops its pending deliveries. */
  async delete(tenantId: string, id: string, actor: AuditActor): Promise<void> {
    const deleted = await this.repository.delete(tenantId, id, this.now(), (tx) =>
      this.deps.audit(tx, { tenant: tenantId, actor, action: 'destination.deleted', resource: id }),
    );
    if (!deleted) throw notFound();
  }

  /** Re-queues the destination's dead and stopped deliveries created in [from, to). */
  async replay(tenantId: string, id: string, range: { from: string; to: string }, actor: AuditActor): Promise<number> {
    const from = Date.parse(range.from);
    const to = Date.parse(range.to);
    if (!Number.isFinite(from) || !Number.isFinite(to) || from >= to) {
      throw new SealpostError('SP_ERR_DELIVERY_REPLAY_RANGE_INVALID', '`from` and `to` must be ISO 8601 times with `from` before `to`');
    }
    await this.get(tenantId, id);
    const count = await this.deliveries.replayRange(tenantId, id, { from, to }, this.now(), (tx, replayed) =>
      this.deps.audit(tx, {
        tenant: tenantId,
        actor,
        action: 'destination.replayed',
        resource: id,
        details: { from: new Date(from).toISOString(), to: new Date(to).toISOString(), count: replayed },
      }),
    );
    if (count > 0) this.deps.poke?.();
    return count;
  }
}
