import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { SealpostError } from '../../src/errors/sealpost-error.js';
import { registerErrorHandling, toSealpostError } from '../../src/http/error-handler.js';
import { healthRoutes } from '../../src/http/health.routes.js';

function errorWith(props: Record<string, unknown>, message = 'raw message'): Error {
  return Object.assign(new Error(message), props);
}

describe('toSealpostError', () => {
  it('passes a SealpostError through unchanged', () => {
    const error = new SealpostError('SP_ERR_DB_UNAVAILABLE', 'Database unavailable');
    expect(toSealpostError(error, 'r1')).toBe(error);
  });

  it('maps a 429 from a rate limiter to SP_ERR_HTTP_RATE_LIMITED', () => {
    expect(toSealpostError(errorWith({ statusCode: 429 }), 'r1').code).toBe('SP_ERR_HTTP_RATE_LIMITED');
  });

  it("keeps the message of Fastify's other client errors", () => {
    const mapped = toSealpostError(errorWith({ statusCode: 400, code: 'FST_ERR_CTP_INVALID_CONTENT_LENGTH' }, 'Request body size did not match Content-Length'), 'r1');
    expect(mapped).toMatchObject({ code: 'SP_ERR_HTTP_BAD_REQUEST', status: 400, message: 'Request body size did not match Content-Length' });
  });

  it("hides a third-party client error's message", () => {
    const mapped = toSealpostError(errorWith({ statusCode: 401 }, 'token sp_abc expired'), 'r1');
    expect(mapped).toMatchObject({ code: 'SP_ERR_HTTP_BAD_REQUEST', message: 'The request could not be processed' });
  });

  it('maps errors with a 5xx or no status to SP_ERR_INTERNAL_ERROR with only the reference', () => {
    for (const error of [errorWith({ statusCode: 502 }, 'upstream secret'), new TypeError('x is undefined'), 'a string']) {
      const mapped = toSealpostError(error, 'ref-9');
      expect(mapped).toMatchObject({ code: 'SP_ERR_INTERNAL_ERROR', status: 500, message: 'Internal error; reference ref-9' });
    }
  });
});

describe('readiness timeout', () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('answers 503 when the readiness check never settles', async () => {
    app = Fastify();
    registerErrorHandling(app);
    await app.register(healthRoutes, { readiness: () => new Promise<void>(() => {}), readinessTimeoutMs: 20 });

    const res = await app.inject({ method: 'GET', url: '/readyz' });

    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ code: 'SP_ERR_HTTP_NOT_READY' });
  });
});
