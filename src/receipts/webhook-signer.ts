import { sign } from 'node:crypto';
import type { RequestSigner } from '../delivery/request-signer.js';
import type { ActiveSigningKey } from '../crypto/signing-key.js';

/** The bytes a `v1a` signature covers (DESIGN §4, Standard Webhooks): `<webhook-id>.<webhook-timestamp>.<body>`. */
export function webhookSignedBytes(webhookId: string, timestamp: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${webhookId}.${timestamp}.`, 'utf8'), body]);
}

/** The signature headers of one forwarded request, signed with `key`. */
export function webhookSignatureHeaders(key: ActiveSigningKey, input: { webhookId: string; timestamp: number; body: Buffer }): Record<string, string> {
  const signature = sign(null, webhookSignedBytes(input.webhookId, input.timestamp, input.body), key.privateKey);
  // Standard base64 with padding: Standard Webhooks' encoding, unlike receipts' base64url.
  return { 'webhook-signature': `v1a,${signature.toString('base64')}`, 'sealpost-key-id': key.kid };
}

/**
 * Signs forwarded requests with the tenant's active Ed25519 key (DESIGN §4, §6): `webhook-signature:
 * v1a,<base64>` over `<webhook-id>.<webhook-timestamp>.<body>` and `sealpost-key-id: <kid>`.
 * Only the key of the tenant whose envelope it is signs, so a request never verifies against
 * another tenant's keys. During a key overlap only the current key signs. Called afresh for
 * every attempt, outside any database transaction (the key may have to be loaded and unsealed).
 */
export class Ed25519RequestSigner implements RequestSigner {
  constructor(private readonly keys: { currentKey(tenantId: string): Promise<ActiveSigningKey> }) {}

  async sign(input: { tenantId: string; webhookId: string; timestamp: number; body: Buffer }): Promise<Record<string, string>> {
    return webhookSignatureHeaders(await this.keys.currentKey(input.tenantId), input);
  }
}
