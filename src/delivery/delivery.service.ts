import type { AuditActor } from '../audit/audit-event.js';
import type { AuditRecorder } from '../audit/audit-recorder.js';
import { SealpostError } from '../errors/sealpost-error.js';
import type { AttemptRecord, DeliveryFilter, DeliveryRecord, DeliveryRepository } from './delivery.repository.js';

/**
 * Deliveries one bulk retry may name. The console retries a selection in batches of this size and
 * shows the progress; the bound keeps one transaction (and its audit event's list of ids) small.
 */
export const MAX_BULK_RETRY = 50;

function notFound(): SealpostError {
  return new SealpostError('SP_ERR_RESOURCE_NOT_FOUND', 'No such delivery');
}

/** Reading deliveries and their attempts, and replaying them. */
export class DeliveryService {
  constructor(
    private readonly repository: DeliveryRepository,
    private readonly options: { poke?: () => void; now?: () => number; audit: AuditRecorder },
  ) {}

  list(tenantId: string, filter: DeliveryFilter, page: { before: string | undefined; limit: number }): Promise<DeliveryRecord[]> {
    return this.repository.list(tenantId, filter, page);
  }

  async get(tenantId: string, id: string): Promise<DeliveryRecord> {
    const found = await this.repository.find(tenantId, id);
    if (!found) throw notFound();
    return found;
  }

  async attempts(tenantId: string, id: string, page: { after: number | undefined; limit: number }): Promise<AttemptRecord[]> {
    await this.get(tenantId, id);
    return this.repository.listAttempts(tenantId, id, page);
  }

  /** Sends the delivery again now, whatever its state; a finished one gets one more attempt. */
  async retry(tenantId: string, id: string): Promise<DeliveryRecord> {
    const now = (this.options.now ?? Date.now)();
    if (!(await this.repository.retry(tenantId, id, now))) {
      await this.get(tenantId, id);
      throw new SealpostError('SP_ERR_RESOURCE_NOT_FOUND', 'The destination of this delivery was deleted');
    }
    this.options.poke?.();
    return this.get(tenantId, id);
  }

  /**
   * Retries up to {@link MAX_BULK_RETRY} deliveries at once, in one transaction with its
   * `delivery.retried` event. Returns the ids retried; an id of another tenant is left out exactly
   * as one that does not exist (or whose destination was deleted), so the answer reveals nothing.
   */
  async retryMany(tenantId: string, ids: readonly string[], actor: AuditActor): Promise<string[]> {
    const unique = [...new Set(ids)];
    if (unique.length === 0 || unique.length > MAX_BULK_RETRY) {
      throw new SealpostError('SP_ERR_HTTP_BAD_REQUEST', `Name between 1 and ${MAX_BULK_RETRY} deliveries`);
    }
    const now = (this.options.now ?? Date.now)();
    const retried = await this.repository.retryMany(tenantId, unique, now, async (tx, done) => {
      if (done.length === 0) return;
      await this.options.audit(tx, { tenant: tenantId, actor, action: 'delivery.retried', details: { count: done.length, deliveries: [...done] } });
    });
    if (retried.length > 0) this.options.poke?.();
    return retried;
  }
}
