import pino, { type Logger } from 'pino';
import { redactUrl } from '../logging/redact-url.js';

/**
 * Paths redacted from every log line, wherever they appear. Secrets must never reach logs
 * (developers' guide, "Crypto"): credentials in headers, key material, bodies.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'res.headers["set-cookie"]',
  '*.password',
  '*.secret',
  '*.token',
  '*.apiKey',
  '*.api_key',
  '*.privateKey',
  '*.plaintext',
  '*.databaseUrl',
];

/** The request as Fastify logs it, for a Fastify request: the fields of its default serializer, with the query redacted. */
interface LoggedRequest {
  readonly method?: string;
  readonly url?: string;
  readonly headers?: Record<string, string | string[] | undefined>;
  readonly host?: string;
  readonly ip?: string;
  readonly socket?: { readonly remotePort?: number };
}

/**
 * Fastify's request serializer, except that query values that look like credentials or cursors
 * are redacted (redact-url.ts): paths are redacted by name, but a URL is one string.
 */
function serializeRequest(req: LoggedRequest): Record<string, unknown> {
  return {
    method: req.method,
    url: typeof req.url === 'string' ? redactUrl(req.url) : undefined,
    version: req.headers?.['accept-version'],
    host: req.host,
    remoteAddress: req.ip,
    remotePort: req.socket?.remotePort,
  };
}

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'sealpost' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      // Fastify merges its serializers under the logger's own, so this one replaces its `req`.
      serializers: { req: serializeRequest },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}

export type { Logger };
