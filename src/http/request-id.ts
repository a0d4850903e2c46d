import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const REQUEST_ID_HEADER = 'x-request-id';

/**
 * A caller's id is kept only if it is a short token of URL-safe characters: it is echoed in a
 * response header, written to every log line and used as the problem+json `instance`, so
 * anything longer or richer could forge log lines or split headers.
 */
const SAFE_REQUEST_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Fastify `genReqId`: the caller's `x-request-id` when it is safe, otherwise a fresh UUID. */
export function genRequestId(req: IncomingMessage): string {
  const given = req.headers[REQUEST_ID_HEADER];
  if (typeof given === 'string' && SAFE_REQUEST_ID.test(given)) return given;
  return randomUUID();
}
