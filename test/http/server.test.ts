import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SealpostError } from '../../src/errors/sealpost-error.js';
import { buildHttpServer, type HttpServer } from '../../src/http/server.js';
import { capturingLogger, makeTempDir, removeDirs, request, testConfig } from './http-test-support.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('HTTPS server', () => {
  const dirs: string[] = [];
  const captured = capturingLogger();
  let ready = true;
  let server: HttpServer;
  let port: number;

  beforeAll(async () => {
    const dataDir = await makeTempDir();
    dirs.push(dataDir);
    server = await buildHttpServer({
      config: testConfig(dataDir),
      logger: captured.logger,
      readiness: async () => {
        if (!ready) throw new Error('database unreachable at postgres://admin:pg_pass42@db');
      },
    });
    // Other domains register their routes on `app` before listen, exactly like this.
    server.app.get('/test/boom', async () => {
      throw new Error('decrypt failed with key kek_secret_material');
    });
    server.app.get('/test/domain-error', async () => {
      throw new SealpostError('SP_ERR_STORAGE_BLOB_NOT_FOUND', 'Blob not found', { logDetail: { blobKey: 'b/123' } });
    });
    server.app.post(
      '/test/echo',
      {
        bodyLimit: 64,
        schema: {
          body: { type: 'object', required: ['name'], properties: { name: { type: 'string' } }, additionalProperties: false },
        },
      },
      async (req) => req.body,
    );
    ({ port } = await server.listen());
  });

  afterAll(async () => {
    await server.close();
    await removeDirs(dirs);
  });

  describe('health', () => {
    it('GET /healthz answers 200 {"status":"ok"}', async () => {
      const res = await request(port, { path: '/healthz' });
      expect(res.status).toBe(200);
      expect(res.json()).toEqual({ status: 'ok' });
    });

    it('GET /readyz answers 200 while readiness resolves', async () => {
      ready = true;
      const res = await request(port, { path: '/readyz' });
      expect(res.status).toBe(200);
      expect(res.json()).toEqual({ status: 'ok' });
    });

    it('GET /readyz answers 503 SP_ERR_HTTP_NOT_READY without the cause when readiness rejects', async () => {
      ready = false;
      try {
        const res = await request(port, { path: '/readyz' });
        expect(res.status).toBe(503);
        expect(res.headers['content-type']).toBe('application/problem+json; charset=utf-8');
        expect(res.json()).toMatchObject({ status: 503, code: 'SP_ERR_HTTP_NOT_READY' });
        expect(res.body).not.toContain('pg_pass42');
        expect(res.body).not.toContain('database');
      } finally {
        ready = true;
      }
    });
  });

  describe('errors as RFC 9457 problem+json', () => {
    it('answers an unknown route with 404 SP_ERR_HTTP_NOT_FOUND', async () => {
      const res = await request(port, { path: '/no/such/route', headers: { 'x-request-id': 'req-404' } });
      expect(res.status).toBe(404);
      expect(res.headers['content-type']).toBe('application/problem+json; charset=utf-8');
      expect(res.json()).toEqual({
        type: 'https://sealpost.dev/errors/SP_ERR_HTTP_NOT_FOUND',
        title: 'Not found',
        status: 404,
        detail: 'No route matches this method and path',
        code: 'SP_ERR_HTTP_NOT_FOUND',
        instance: 'req-404',
      });
    });

    it('maps a SealpostError to its status, code and safe message', async () => {
      const res = await request(port, { path: '/test/domain-error' });
      expect(res.status).toBe(404);
      expect(res.json()).toMatchObject({
        type: 'https://sealpost.dev/errors/SP_ERR_STORAGE_BLOB_NOT_FOUND',
        code: 'SP_ERR_STORAGE_BLOB_NOT_FOUND',
        detail: 'Blob not found',
      });
      expect(res.body).not.toContain('b/123');
    });

    it('turns a plain Error into a 500 that leaks neither message nor stack, and logs the error', async () => {
      const res = await request(port, { path: '/test/boom', headers: { 'x-request-id': 'req-boom' } });
      expect(res.status).toBe(500);
      expect(res.headers['content-type']).toBe('application/problem+json; charset=utf-8');
      expect(res.json()).toEqual({
        type: 'https://sealpost.dev/errors/SP_ERR_INTERNAL_ERROR',
        title: 'Internal error',
        status: 500,
        detail: 'Internal error; reference req-boom',
        code: 'SP_ERR_INTERNAL_ERROR',
        instance: 'req-boom',
      });
      expect(res.body).not.toContain('kek_secret_material');
      expect(res.body).not.toMatch(/\.ts:\d+|at /);
      const logged = captured.lines.filter((line) => line.includes('"reqId":"req-boom"') && line.includes('"level":"error"'));
      expect(logged.join('')).toContain('kek_secret_material');
    });

    it('answers a schema violation with 400 SP_ERR_HTTP_BAD_REQUEST and the validation message', async () => {
      const res = await request(port, {
        path: '/test/echo',
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"nom":"x"}',
      });
      expect(res.status).toBe(400);
      expect(res.json()).toMatchObject({ code: 'SP_ERR_HTTP_BAD_REQUEST', detail: expect.stringContaining("'name'") });
    });

    it('answers malformed JSON with 400 SP_ERR_HTTP_BAD_REQUEST', async () => {
      const res = await request(port, {
        path: '/test/echo',
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"name":',
      });
      expect(res.status).toBe(400);
      expect(res.json()).toMatchObject({ code: 'SP_ERR_HTTP_BAD_REQUEST', detail: 'Request body is not valid JSON' });
    });

    it('refuses prototype poisoning in a JSON body with 400', async () => {
      const res = await request(port, {
        path: '/test/echo',
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"name":"x","__proto__":{"admin":true}}',
      });
      expect(res.status).toBe(400);
      expect(res.json()).toMatchObject({ code: 'SP_ERR_HTTP_BAD_REQUEST' });
    });

    it('answers an oversized body with 413 SP_ERR_HTTP_BODY_TOO_LARGE', async () => {
      const res = await request(port, {
        path: '/test/echo',
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'x'.repeat(100) }),
      });
      expect(res.status).toBe(413);
      expect(res.json()).toMatchObject({ status: 413, code: 'SP_ERR_HTTP_BODY_TOO_LARGE' });
    });

    it('answers an unsupported content type with 415 SP_ERR_HTTP_UNSUPPORTED_MEDIA_TYPE', async () => {
      const res = await request(port, {
        path: '/test/echo',
        method: 'POST',
        headers: { 'content-type': 'application/xml' },
        body: '<name>x</name>',
      });
      expect(res.status).toBe(415);
      expect(res.json()).toMatchObject({ status: 415, code: 'SP_ERR_HTTP_UNSUPPORTED_MEDIA_TYPE' });
    });
  });

  describe('security headers', () => {
    it.each([
      ['a normal response', '/healthz'],
      ['a 404', '/no/such/route'],
      ['a 500', '/test/boom'],
    ])('are set on %s', async (_, path) => {
      const res = await request(port, { path });
      expect(res.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
      expect(res.headers['content-security-policy']).toContain("default-src 'none'");
      expect(res.headers['content-security-policy']).toContain("frame-ancestors 'none'");
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['x-frame-options']).toBe('DENY');
      expect(res.headers['referrer-policy']).toBe('no-referrer');
      expect(res.headers['cross-origin-resource-policy']).toBe('same-origin');
      expect(res.headers['x-powered-by']).toBeUndefined();
    });
  });

  describe('request id', () => {
    it('echoes a safe x-request-id', async () => {
      const res = await request(port, { path: '/healthz', headers: { 'x-request-id': 'client-Id_1.2' } });
      expect(res.headers['x-request-id']).toBe('client-Id_1.2');
    });

    it.each([
      ['too long', 'a'.repeat(65)],
      ['with spaces and markup', 'a b <script>'],
      ['with a log-forging brace', 'x","level":"fatal'],
    ])('replaces an unsafe x-request-id (%s) with a generated one', async (_, given) => {
      const res = await request(port, { path: '/healthz', headers: { 'x-request-id': given } });
      expect(res.headers['x-request-id']).toMatch(UUID);
    });

    it('generates one when none is sent and uses it as the problem instance', async () => {
      const res = await request(port, { path: '/no/such/route' });
      const id = res.headers['x-request-id'];
      expect(id).toMatch(UUID);
      expect(res.json()).toMatchObject({ instance: id });
    });
  });

  describe('logs', () => {
    it('carry the request id and never the Authorization, Cookie or X-Api-Key values', async () => {
      const secrets = {
        authorization: 'Bearer sp_secret123',
        cookie: 'sp_session=sp_cookie456',
        'x-api-key': 'sp_key789',
      };
      for (const path of ['/healthz', '/test/boom', '/no/such/route']) {
        await request(port, { path, headers: { ...secrets, 'x-request-id': 'req-logs' } });
      }
      await request(port, {
        path: '/test/echo',
        method: 'POST',
        headers: { ...secrets, 'content-type': 'application/json', 'x-request-id': 'req-logs' },
        body: '{}',
      });

      const ours = captured.lines.filter((line) => line.includes('"reqId":"req-logs"'));
      expect(ours.some((line) => line.includes('request completed'))).toBe(true);
      expect(ours.some((line) => line.includes('"level":"error"'))).toBe(true);
      const all = captured.lines.join('');
      expect(all).not.toContain('sp_secret123');
      expect(all).not.toContain('sp_cookie456');
      expect(all).not.toContain('sp_key789');
    });

    it('logs request URLs without cursor or token-like query values', async () => {
      const cursor = 'eyJpZCI6Im1zZ18wMUpERzNaSjVZVjVXNVg2UTFTN1Q4SzlBQiJ9';
      await request(port, { path: `/healthz?cursor=${cursor}&token=tok_plain_secret&limit=25`, headers: { 'x-request-id': 'req-query' } });
      const ours = captured.lines.filter((line) => line.includes('"reqId":"req-query"'));
      // One line per request, not Fastify's two.
      const lines = ours.filter((line) => line.includes('"level":"info"'));
      expect(lines).toHaveLength(1);
      expect(JSON.parse(lines[0]!)).toMatchObject({ msg: 'request completed', req: { url: '/healthz?cursor=[redacted]&token=[redacted]&limit=25', method: 'GET' }, res: { statusCode: 200 } });
      const all = captured.lines.join('');
      expect(all).not.toContain(cursor);
      expect(all).not.toContain('tok_plain_secret');
    });
  });
});
