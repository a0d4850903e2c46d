import { SealpostError } from '../errors/sealpost-error.js';
import type { AttemptRecord, DeliveryFilter, DeliveryRecord, DeliveryRepository } from './delivery.repository.js';

function notFound(): SealpostError {
  return new SealpostError('SP_ERR_RESOURCE_NOT_FOUND', 'No such delivery');
}

/** Reading deliveries and their attempts, and replaying one. */
export class DeliveryService {
  constructor(
    private readonly repository: DeliveryRepository,
    private readonly options: { poke?: () => void; now?: () => number } = {},
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
}
