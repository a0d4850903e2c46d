import tls from 'node:tls';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { SealpostError } from '../../src/errors/sealpost-error.js';
import { registerErrorHandling, toSealpostError } from '../../src/http/error-handler.js';
import { healthRoutes } from '../../src/http/health.routes.js';
import { STATIC_SECURITY_HEADERS } from '../../src/http/security-headers.js';
import { serveForTests } from './http-test-support.js';

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

/** Sends raw bytes over TLS and reads the whole answer until the server closes the connection. */
function rawExchange(port: number, bytes: string): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => socket.write(bytes));
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const [head = '', ...rest] = text.split('\r\n\r\n');
      const [statusLine = '', ...lines] = head.split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const at = line.indexOf(':');
        headers[line.slice(0, at).trim().toLowerCase()] = line.slice(at + 1).trim();
      }
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body: rest.join('\r\n\r\n') });
    });
  });
}

describe('framework-level errors over a raw TLS socket', () => {
  const listening = serveForTests((app) => app.get('/v1/payloads/:id', async () => ({ ok: true })));

  const expectProblem = (res: { status: number; headers: Record<string, string>; body: string }, status: number, code: string) => {
    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toBe('application/problem+json; charset=utf-8');
    for (const [name, value] of Object.entries(STATIC_SECURITY_HEADERS)) expect(res.headers[name]).toBe(value);
    const body = JSON.parse(res.body) as { code: string; status: number; instance?: string };
    expect(body).toMatchObject({ code, status });
    expect(res.headers['x-request-id']).toMatch(/^[A-Za-z0-9._-]+$/);
    expect(body.instance).toBe(res.headers['x-request-id']);
    return body;
  };

  it('answers a malformed URL with problem+json that does not echo the path', async () => {
    for (const path of ['/%%', '/v1/payloads/%E0%A4%A']) {
      const res = await rawExchange(listening.port, `GET ${path} HTTP/1.1\r\nhost: localhost\r\nx-request-id: bad-url-1\r\nconnection: close\r\n\r\n`);
      expectProblem(res, 400, 'SP_ERR_HTTP_BAD_REQUEST');
      // The request existed: its id is the caller's.
      expect(res.headers['x-request-id']).toBe('bad-url-1');
      expect(res.body).not.toContain('%');
      expect(res.body).not.toContain('payloads');
    }
  });

  it('answers headers over the limit with a 431 problem+json and the security headers', async () => {
    const res = await rawExchange(listening.port, `GET /v1/payloads/secret-path HTTP/1.1\r\nhost: localhost\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`);
    expectProblem(res, 431, 'SP_ERR_HTTP_HEADERS_TOO_LARGE');
    expect(res.headers.connection).toBe('close');
    expect(res.body).not.toContain('secret-path');
  });

  it('answers an unparsable request line with a 400 problem+json', async () => {
    const res = await rawExchange(listening.port, 'NOT A REQUEST\r\n\r\n');
    expectProblem(res, 400, 'SP_ERR_HTTP_BAD_REQUEST');
  });

  it('sends exactly the static security headers on an ordinary answer', async () => {
    const res = await rawExchange(listening.port, 'GET /healthz HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n');
    expect(res.status).toBe(200);
    const securityHeaders = Object.fromEntries(Object.keys(STATIC_SECURITY_HEADERS).map((name) => [name, res.headers[name]]));
    expect(securityHeaders).toEqual(STATIC_SECURITY_HEADERS);
    const sent = Object.keys(res.headers).filter((n) => !['content-type', 'content-length', 'date', 'connection', 'x-request-id', 'keep-alive'].includes(n));
    expect(sent.sort()).toEqual(Object.keys(STATIC_SECURITY_HEADERS).sort());
  });
});
