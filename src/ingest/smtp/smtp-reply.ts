import { randomUUID } from 'node:crypto';
import type { Logger } from '../../logging/logger.js';
import { ERROR_CODES, type ErrorSpec } from '../../errors/error-codes.js';
import { isSealpostError } from '../../errors/sealpost-error.js';

/** What smtp-server sends for a handler error: `<responseCode> <message>`. */
export interface SmtpReplyError extends Error {
  readonly responseCode: number;
}

function reply(code: number, text: string): SmtpReplyError {
  return Object.assign(new Error(text), { responseCode: code });
}

/**
 * The one SMTP error mapper (STYLE.md "Errors"): a SealpostError with an SMTP reply becomes that
 * reply with its RFC 3463 enhanced code in front of the (caller-safe) message; anything else is
 * logged and answered `451 4.3.0`, a local error the client retries later, with only a reference.
 *
 * Enhanced codes are written into the text because smtp-server's automatic ones are chosen by
 * reply code alone (it would send 5.1.1 for every 550, 5.2.2 for every 552).
 */
export function smtpReplyFor(error: unknown, logger: Logger, context: Record<string, unknown> = {}): SmtpReplyError {
  if (isSealpostError(error)) {
    const smtp = (ERROR_CODES[error.code] as ErrorSpec).smtp;
    if (smtp) {
      logger.info({ ...context, code: error.code, ...error.logDetail }, 'smtp: refused');
      return reply(smtp.code, `${smtp.enhanced} ${error.message}`);
    }
  }
  const reference = randomUUID();
  logger.error({ ...context, err: error, reference }, 'smtp: transaction failed');
  return reply(451, `4.3.0 Local error, try again later (reference ${reference})`);
}
