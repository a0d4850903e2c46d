import type { DeliverySucceededInfo } from '../delivery/request-signer.js';
import type { IngestHooks } from '../ingest/payload.service.js';
import type { ReceiptService } from './receipt.service.js';

/**
 * `IngestHooks.acceptedReceipt`: signs and seals the `accepted` receipt before the ingest
 * transaction; the returned `store(tx)` writes it inside. The receipt is what `POST
 * /v1/payloads` answers with.
 */
export function acceptedReceiptHook(
  receipts: ReceiptService,
): (input: Parameters<NonNullable<IngestHooks['acceptedReceipt']>>[0]) => ReturnType<ReceiptService['prepareAccepted']> {
  return async (input) => receipts.prepareAccepted({ tenantId: input.tenantId, messageId: input.payloadId, bodySha256: input.bodySha256, now: input.now });
}

/**
 * For the delivery engine: signs and seals the `delivered` receipt of a successful attempt
 * BEFORE the transaction that marks the delivery succeeded; call `store(tx)` inside it, only if
 * the delivery really was marked succeeded (the lease was still held). A prepared receipt that
 * is never stored costs a signature and nothing else.
 */
export function deliveredReceiptHook(receipts: ReceiptService): (info: DeliverySucceededInfo) => ReturnType<ReceiptService['prepareDelivered']> {
  return async (info) =>
    receipts.prepareDelivered({
      tenantId: info.tenantId,
      messageId: info.payloadId,
      deliveryId: info.deliveryId,
      destinationId: info.destinationId,
      attempt: info.attempt,
      status: info.statusCode,
      bodySha256: info.bodySha256,
    });
}
