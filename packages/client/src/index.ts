/**
 * `@sealpost/client`: send payloads to a Sealpost relay, safely retried, with the accepted
 * receipt verified by `@sealpost/verify`.
 *
 * @example
 * ```ts
 * import { SealpostClient } from '@sealpost/client';
 * const sealpost = new SealpostClient({ baseUrl: 'https://relay.example.com', apiKey: process.env.SEALPOST_API_KEY! });
 * const { id, receipt } = await sealpost.sendPayload({ order: 4711 }, { idempotencyKey: 'order-4711' });
 * ```
 *
 * @packageDocumentation
 */
export {
  SealpostClient,
  type Attachment,
  type RetryPolicy,
  type SealpostClientOptions,
  type SendPayloadOptions,
  type SentPayload,
} from './client.js';
export { CLIENT_ERROR_CODES, isSealpostClientError, SealpostClientError, type ClientErrorCode } from './errors.js';
export { backoffDelay, parseRetryAfter } from './retry.js';
