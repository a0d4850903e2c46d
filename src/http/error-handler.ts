import { randomUUID } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from '../logging/logger.js';
import { databaseUnavailable, isDatabaseUnavailable } from '../db/database-unavailable.js';
import type { ErrorCode } from '../errors/error-codes.js';
import { SealpostError, isSealpostError } from '../errors/sealpost-error.js';
import { REQUEST_ID_HEADER } from './request-id.js';
import { STATIC_SECURITY_HEADERS } from './security-headers.js';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json; charset=utf-8';
const PROBLEM_TYPE_BASE = 'https://sealpost.dev/errors/';
/**
 * `retry-after` of every 503 (RFC 9110 §10.2.3): an outage of the database or a dependency
 * usually ends within seconds (a restart, a failover), and clients that retry at once only add load.
 */
export const RETRY_AFTER_SECONDS = 5;

/** RFC 9457 problem details, plus our stable `code` (customers match on it, not on `title`). */
export interface ProblemDetails {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly code: ErrorCode;
  /** The request id: quoting it lets an operator find the matching log lines. */
  readonly instance?: string;
}

export function problemDetails(error: SealpostError, requestId?: string): ProblemDetails {
  return {
    type: `${PROBLEM_TYPE_BASE}${error.code}`,
    title: error.title,
    status: error.status,
    detail: error.message,
    code: error.code,
    ...(requestId === undefined ? {} : { instance: requestId }),
  };
}

/** Sends `error` as problem+json. For handlers and hooks that answer without throwing. */
export function sendProblem(request: FastifyRequest, reply: FastifyReply, error: SealpostError): FastifyReply {
  // Set here too: errors raised before the onRequest hook (a malformed URL) never passed through it.
  reply.header(REQUEST_ID_HEADER, request.id);
  if (error.status === 503) reply.header('retry-after', String(RETRY_AFTER_SECONDS));
  // Serialised by hand so a route's response schema can never reshape (or strip) an error body.
  return reply.code(error.status).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(problemDetails(error, request.id)));
}

/**
 * Fastify's own request errors and what they become. Their messages are fixed templates, safe
 * to show; the JSON ones are reworded so they do not mention a content type the caller did not send.
 */
const FASTIFY_ERRORS: Readonly<Record<string, { code: ErrorCode; detail?: string }>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { code: 'SP_ERR_HTTP_BODY_TOO_LARGE', detail: 'Request body is larger than this endpoint accepts' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { code: 'SP_ERR_HTTP_UNSUPPORTED_MEDIA_TYPE', detail: 'This endpoint does not accept the request Content-Type' },
  FST_ERR_CTP_INVALID_JSON_BODY: { code: 'SP_ERR_HTTP_BAD_REQUEST', detail: 'Request body is not valid JSON' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: 'SP_ERR_HTTP_BAD_REQUEST', detail: 'Request body is empty but must be JSON' },
  FST_ERR_NOT_FOUND: { code: 'SP_ERR_HTTP_NOT_FOUND', detail: 'No route matches this method and path' },
  // Fastify's own message for these quotes the path back; ours never does (it may carry anything).
  FST_ERR_BAD_URL: { code: 'SP_ERR_HTTP_BAD_REQUEST', detail: 'The request URL is not validly percent-encoded' },
  FST_ERR_MAX_PARAM_LENGTH: { code: 'SP_ERR_HTTP_BAD_REQUEST', detail: 'A path segment of the request URL is too long' },
};

function statusOf(error: unknown): number | undefined {
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

/** Maps anything a handler or Fastify threw to the SealpostError the caller will see. */
export function toSealpostError(error: unknown, requestId: string): SealpostError {
  // An outage, even under a domain error raised over it (a key that could not be loaded), is a
  // 503 the client retries, not a 500; a client error stays what it is.
  if (!(isSealpostError(error) && error.status < 500) && isDatabaseUnavailable(error)) {
    return isSealpostError(error) && error.code === 'SP_ERR_DB_UNAVAILABLE' ? error : databaseUnavailable(error);
  }
  if (isSealpostError(error)) return error;
  const fastifyError = error as Partial<FastifyError> | null;
  if (fastifyError?.validation !== undefined) {
    // Ajv's message names the failing field and rule ("body/name must be string"), never a value.
    return new SealpostError('SP_ERR_HTTP_BAD_REQUEST', fastifyError.message ?? 'Request is invalid');
  }
  const known = typeof fastifyError?.code === 'string' ? FASTIFY_ERRORS[fastifyError.code] : undefined;
  if (known !== undefined) return new SealpostError(known.code, known.detail ?? fastifyError?.message ?? '');

  const status = statusOf(error);
  if (status === 429) return new SealpostError('SP_ERR_HTTP_RATE_LIMITED', 'Too many requests; retry later');
  if (status !== undefined && status >= 400 && status < 500) {
    // Other client errors: Fastify's templates are safe to show; a plugin's message may not be.
    const fromFastify = typeof fastifyError?.code === 'string' && fastifyError.code.startsWith('FST_');
    return new SealpostError('SP_ERR_HTTP_BAD_REQUEST', fromFastify && fastifyError?.message ? fastifyError.message : 'The request could not be processed');
  }
  return new SealpostError('SP_ERR_INTERNAL_ERROR', `Internal error; reference ${requestId}`, { cause: error });
}

/**
 * The one HTTP error handler (STYLE.md "Errors"): every error leaves as problem+json, and
 * anything unexpected as a bare 500 whose only detail is the request id; the error itself goes
 * to the log, never to the caller.
 */
export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: unknown, request, reply) => {
    const mapped = toSealpostError(error, request.id);
    if (mapped.code === 'SP_ERR_INTERNAL_ERROR' && !isSealpostError(error)) {
      request.log.error({ err: error }, 'request failed with an unexpected error');
    } else if (mapped.code === 'SP_ERR_DB_UNAVAILABLE') {
      // One short line per refused request: an outage would otherwise flood the log with stacks.
      request.log.warn({ code: mapped.code, reason: (mapped.cause as Error | undefined)?.message }, 'request refused: database unavailable');
    } else if (mapped.status >= 500) {
      request.log.error({ ...mapped.logDetail, err: mapped, code: mapped.code }, 'request failed');
    } else {
      request.log.info({ ...mapped.logDetail, code: mapped.code, detail: mapped.message }, 'request rejected');
    }
    return sendProblem(request, reply, mapped);
  });

  app.setNotFoundHandler((request, reply) => {
    return sendProblem(request, reply, new SealpostError('SP_ERR_HTTP_NOT_FOUND', 'No route matches this method and path'));
  });
}

/**
 * Fastify `frameworkErrors`: errors raised while routing (a malformed URL, a path segment over
 * the length limit), before any hook ran. They leave through the same problem+json path, with
 * the security headers set here because their hook never saw the request.
 */
export function frameworkErrorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const mapped = toSealpostError(error, request.id);
  if (mapped.code === 'SP_ERR_INTERNAL_ERROR') request.log.error({ err: error }, 'request failed while routing');
  else request.log.info({ code: mapped.code, fastifyCode: error.code }, 'request rejected while routing');
  reply.headers(STATIC_SECURITY_HEADERS);
  void sendProblem(request, reply, mapped);
}

/** Node's parser errors that have their own answer; any other one is a plain 400. */
const CLIENT_ERRORS: Readonly<Record<string, { code: ErrorCode; detail: string }>> = {
  HPE_HEADER_OVERFLOW: { code: 'SP_ERR_HTTP_HEADERS_TOO_LARGE', detail: 'The request headers are larger than this server accepts' },
  ERR_HTTP_REQUEST_TIMEOUT: { code: 'SP_ERR_HTTP_REQUEST_TIMEOUT', detail: 'The request did not arrive in time' },
};

/**
 * The HTTP server's `clientError` handler (Fastify `clientErrorHandler`): the request could not
 * be parsed (headers over the limit, a broken request line), so there is no Fastify request and
 * the answer is written to the socket by hand. It is the same problem+json as every other error,
 * with the security headers and a fresh reference (also in the log line) in place of a request
 * id, and nothing of what the client sent; then the connection is closed, since the parser
 * cannot find the next request's start.
 */
export function rawClientErrorHandler(logger: Pick<Logger, 'info'>) {
  return (error: Error & { code?: string }, socket: Duplex): void => {
    // A reset connection has no one to answer (https://nodejs.org/api/http.html#event-clienterror).
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    const known = error.code === undefined ? undefined : CLIENT_ERRORS[error.code];
    const mapped = new SealpostError(known?.code ?? 'SP_ERR_HTTP_BAD_REQUEST', known?.detail ?? 'The request could not be parsed');
    const reference = randomUUID();
    logger.info({ code: mapped.code, parserCode: error.code, reference }, 'request rejected before parsing completed');
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    const body = JSON.stringify(problemDetails(mapped, reference));
    const head = [
      `HTTP/1.1 ${mapped.status} ${mapped.title}`,
      `content-type: ${PROBLEM_CONTENT_TYPE}`,
      `content-length: ${Buffer.byteLength(body)}`,
      'connection: close',
      `${REQUEST_ID_HEADER}: ${reference}`,
      ...Object.entries(STATIC_SECURITY_HEADERS).map(([name, value]) => `${name}: ${value}`),
    ];
    socket.end(`${head.join('\r\n')}\r\n\r\n${body}`, () => socket.destroy());
  };
}
