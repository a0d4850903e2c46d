import { SealpostError } from '../errors/sealpost-error.js';

/** Thrown by a connection that already timed out once: it is discarded, not queried again. */
export const DISCARDED_CONNECTION_MESSAGE = 'database connection discarded after a timeout';

/** Socket errors of a database connection that is down or unreachable. */
const SOCKET_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
/**
 * PostgreSQL SQLSTATEs of an outage rather than of a query: the server shutting down or starting
 * (57P01–57P03), a statement or idle-transaction timeout (57014, 25P03), no connection slots
 * (53300); every class 08 (connection exception) code is one too.
 */
const PG_UNAVAILABLE = new Set(['57P01', '57P02', '57P03', '57014', '25P03', '53300']);
/** node-postgres and pg-pool report timeouts and cut connections with these messages only. */
const PG_MESSAGES = [
  'Query read timeout',
  'timeout exceeded when trying to connect',
  'Connection terminated',
  'Client has encountered a connection error and is not queryable',
  'Client was closed and is not queryable',
  DISCARDED_CONNECTION_MESSAGE,
];

function isUnavailable(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const { code, message } = err as { code?: unknown; message?: unknown };
  if (typeof code === 'string') {
    if (SOCKET_ERRORS.has(code) || PG_UNAVAILABLE.has(code) || /^08[0-9A-Z]{3}$/.test(code)) return true;
    // SQLite: another process held the write lock past busy_timeout.
    if (code === 'SQLITE_BUSY') return true;
  }
  return typeof message === 'string' && PG_MESSAGES.some((m) => message.includes(m));
}

/**
 * Whether `err`, or an error it was caused by, means the database is down, unreachable or too
 * slow (rather than a bug or bad input): the caller should retry later. Follows `cause`, so a
 * domain error raised over a database failure (a signing key that could not be loaded) counts.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  for (let current = err, depth = 0; current !== undefined && current !== null && depth < 8; depth++) {
    if (isUnavailable(current)) return true;
    if (current instanceof AggregateError && current.errors.some((e) => isUnavailable(e))) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/** The domain error callers see for an outage: 503 over HTTPS (with retry-after), `451 4.3.0` over SMTP. */
export function databaseUnavailable(cause: unknown): SealpostError {
  return new SealpostError('SP_ERR_DB_UNAVAILABLE', 'The database is unavailable; retry later', { cause });
}
