import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import type { PreparedWrite } from '../db/prepared-write.js';

/**
 * The one place forwarded requests are signed (DESIGN §4). Called afresh for every attempt with
 * that attempt's time and the tenant whose envelope it sends (signed with that tenant's key,
 * DESIGN §6); returns the headers to add (`webhook-signature`, `sealpost-key-id`). Custom
 * destination headers can never override them.
 */
export interface RequestSigner {
  sign(input: { tenantId: string; webhookId: string; /** unix seconds */ timestamp: number; body: Buffer }): Promise<Record<string, string>>;
}

export interface DeliverySucceededInfo {
  readonly tenantId: string;
  readonly payloadId: string;
  readonly deliveryId: string;
  readonly destinationId: string;
  readonly attempt: number;
  readonly statusCode: number;
  /** Hex SHA-256 of the forwarded body (the canonical envelope). */
  readonly bodySha256: string;
}

export interface DestinationDisabledInfo {
  readonly tenantId: string;
  readonly destinationId: string;
  readonly reason: string;
}

/**
 * Callbacks run inside the delivery engine's own transactions, so what they write (receipts,
 * audit events) commits or rolls back together with the state change they describe.
 */
export interface DeliveryHooks {
  /**
   * Before the transaction that records a 2xx attempt: signs and seals what it will write (the
   * `delivered` receipt), since no cryptography may run while that transaction holds SQLite's
   * only connection. `store(tx)` runs inside it, only if the delivery is settled as succeeded.
   */
  prepareSucceeded?(info: DeliverySucceededInfo): Promise<{ store: PreparedWrite }>;
  /** Inside the transaction that disables a continuously failing destination. */
  onDestinationDisabled?(tx: Kysely<Database>, info: DestinationDisabledInfo): Promise<void>;
}
