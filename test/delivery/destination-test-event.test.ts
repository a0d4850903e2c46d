import http from 'node:http';
import dns from 'node:dns';
import type { AddressInfo } from 'node:net';
import { verifyWebhook, type JwkSet } from '@sealpost/verify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TESTS_PER_DESTINATION_PER_MINUTE } from '../../src/delivery/destination-test.service.js';
import { MAX_BULK_RETRY } from '../../src/delivery/delivery.service.js';
import { testDialects } from '../support/test-database.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

interface Received {
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
}

/** A name that resolves publicly when the destination is saved and to a private address when the test event connects. */
const REBINDING_HOST = 'rebind.example';

describe.each(testDialects())('send test event and bulk retry on %s', { timeout: 60_000 }, (dialect) => {
  let app: TestApp;
  let receiver: http.Server;
  let base = '';
  const received: Received[] = [];
  const tenantA = { tenant: '', apiKey: '' };
  const tenantB = { tenant: '', apiKey: '' };

  beforeAll(async () => {
    receiver = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) });
        if (req.url?.startsWith('/fail')) res.writeHead(500, { 'content-type': 'text/plain' }).end('receiver is down for maintenance');
        else res.writeHead(200, { 'content-type': 'application/json' }).end('{"received":true}');
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
    app = await startTestApp(dialect, {
      env: { SEALPOST_ALLOW_PRIVATE_DESTINATIONS: '127.0.0.1/32', SEALPOST_ALLOW_HTTP_DESTINATIONS: 'true' },
      overrides: {
        destinationResolver: async (host) => (host === REBINDING_HOST ? ['93.184.216.34'] : ['127.0.0.1']),
        destinationLookup: (host, options, callback) =>
          host === REBINDING_HOST ? callback(null, [{ address: '10.0.0.8', family: 4 }]) : dns.lookup(host, options, callback),
      },
    });
    Object.assign(tenantA, await app.createTenant('operation'));
    Object.assign(tenantB, await app.createTenant('operation'));
  });
  afterAll(async () => {
    await app?.close();
    await new Promise<void>((resolve) => receiver.close(() => resolve()));
  });

  async function json(path: string, token: string, method = 'GET', body?: unknown): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
    const res = await app.fetch(path, {
      method,
      token,
      ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
    });
    const text = await res.text();
    return { status: res.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>), headers: res.headers as unknown as Headers };
  }

  async function destination(token: string, url: string, headers?: Record<string, string>): Promise<string> {
    const res = await json('/v1/destinations', token, 'POST', { url, ...(headers ? { headers } : {}) });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return String(res.body.id);
  }

  it('delivers a signed test event that verifies against the tenant\'s JWKS and answers with the receiver\'s reply', async () => {
    const id = await destination(tenantA.apiKey, `${base}/hooks/ok`, { 'X-Receiver-Auth': 'shared-secret' });
    const before = received.length;
    const res = await json(`/v1/destinations/${id}/test`, tenantA.apiKey, 'POST');
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ ok: true, status_code: 200, error_class: null, error: null, response_body: '{"received":true}' });
    expect(res.body.duration_ms).toEqual(expect.any(Number));
    expect(received.length).toBe(before + 1);
    const request = received[before]!;
    expect(request.headers['x-receiver-auth']).toBe('shared-secret');
    expect(request.headers['webhook-id']).toBe(res.body.webhook_id);
    expect(request.headers['sealpost-key-id']).toBe(res.body.key_id);

    const keys = await json('/v1/signing-keys', tenantA.apiKey);
    const verified = verifyWebhook({
      headers: request.headers as Record<string, string>,
      body: request.body,
      jwks: { keys: keys.body.keys } as JwkSet,
      tenant: tenantA.tenant,
    });
    expect(verified.envelope).toMatchObject({ type: 'sealpost.test', test: true, tenant: tenantA.tenant, source: { channel: 'test' }, attachments: [] });
    // Another tenant's keys never verify it (DESIGN §6).
    const otherKeys = await json('/v1/signing-keys', tenantB.apiKey);
    expect(() =>
      verifyWebhook({ headers: request.headers as Record<string, string>, body: request.body, jwks: { keys: otherKeys.body.keys } as JwkSet, tenant: tenantA.tenant }),
    ).toThrow();
    // A test creates no payload, delivery or receipt.
    expect((await json('/v1/deliveries', tenantA.apiKey)).body.data).toEqual([]);
    expect((await json('/v1/payloads', tenantA.apiKey)).body.data).toEqual([]);
  });

  it('reports a receiver\'s error answer with its status and first bytes', async () => {
    const id = await destination(tenantA.apiKey, `${base}/fail`);
    const res = await json(`/v1/destinations/${id}/test`, tenantA.apiKey, 'POST');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ ok: false, status_code: 500, error_class: 'http_status', error: 'HTTP 500', response_body: 'receiver is down for maintenance' });
  });

  it('refuses a test event whose host resolves to a private address at connect time (SSRF guard)', async () => {
    const id = await destination(tenantA.apiKey, `http://${REBINDING_HOST}/hook`);
    const res = await json(`/v1/destinations/${id}/test`, tenantA.apiKey, 'POST');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ ok: false, status_code: null, error_class: 'ssrf_refused', response_body: null });
  });

  it('refuses another tenant\'s destination as if it did not exist, and sends nothing', async () => {
    const id = await destination(tenantA.apiKey, `${base}/hooks/private`);
    const before = received.length;
    const res = await json(`/v1/destinations/${id}/test`, tenantB.apiKey, 'POST');
    expect(res.status).toBe(404);
    expect(res.body.code).toBe('SP_ERR_RESOURCE_NOT_FOUND');
    expect(received.length).toBe(before);
  });

  it('refuses a key without destinations:manage', async () => {
    const id = await destination(tenantA.apiKey, `${base}/hooks/scoped`);
    const reader = await json('/v1/api-keys', tenantA.apiKey, 'POST', { name: 'reader', scopes: ['payloads:read'] });
    const res = await json(`/v1/destinations/${id}/test`, String(reader.body.api_key), 'POST');
    expect(res.status).toBe(403);
  });

  it(`limits test events to ${TESTS_PER_DESTINATION_PER_MINUTE} per destination and minute, across the tenant's keys`, async () => {
    const id = await destination(tenantA.apiKey, `${base}/hooks/limited`);
    const second = await json('/v1/api-keys', tenantA.apiKey, 'POST', { name: 'second', scopes: ['destinations:manage'] });
    const tokens = [tenantA.apiKey, String(second.body.api_key)];
    const minute = (): number => Math.floor(Date.now() / 60_000);
    const startedIn = minute();
    const statuses: number[] = [];
    let refused: Awaited<ReturnType<typeof json>> | undefined;
    for (let i = 0; i <= 2 * TESTS_PER_DESTINATION_PER_MINUTE && refused === undefined; i++) {
      const res = await json(`/v1/destinations/${id}/test`, tokens[i % 2]!, 'POST');
      if (res.status === 429) refused = res;
      else statuses.push(res.status);
    }
    expect(refused?.body.code).toBe('SP_ERR_DESTINATION_TEST_RATE_LIMITED');
    expect(Number(refused?.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(statuses.every((s) => s === 200)).toBe(true);
    // Fixed wall-clock windows: exactly the limit, unless the minute turned during the loop.
    if (minute() === startedIn) expect(statuses).toHaveLength(TESTS_PER_DESTINATION_PER_MINUTE);
    expect(received.filter((r) => r.url === '/hooks/limited')).toHaveLength(statuses.length);
  });

  it('retries a batch of the tenant\'s deliveries and refuses another tenant\'s without revealing them', async () => {
    const stopped = await destination(tenantB.apiKey, `${base}/hooks/b`);
    // The test app runs no worker: the delivery stays pending, and a retry only makes it due.
    const ingest = await app.fetch('/v1/payloads', { method: 'POST', token: tenantB.apiKey, body: '{"n":1}', headers: { 'content-type': 'application/json' } });
    expect(ingest.status).toBe(202);
    await ingest.arrayBuffer();
    const ofB = (await json(`/v1/deliveries?destination=${stopped}`, tenantB.apiKey)).body.data as { id: string; updated_at: string }[];
    expect(ofB).toHaveLength(1);
    const theirs = ofB[0]!;
    const unknown = theirs.id.replace(/.$/, (c) => (c === '0' ? '1' : '0'));

    const fromA = await json('/v1/deliveries/retry', tenantA.apiKey, 'POST', { ids: [theirs.id, unknown] });
    expect(fromA.status).toBe(200);
    expect(fromA.body).toEqual({ retried: [], not_retried: [theirs.id, unknown] });
    expect((await json(`/v1/deliveries/${theirs.id}`, tenantB.apiKey)).body.updated_at).toBe(theirs.updated_at);

    const fromB = await json('/v1/deliveries/retry', tenantB.apiKey, 'POST', { ids: [theirs.id, unknown] });
    expect(fromB.body).toEqual({ retried: [theirs.id], not_retried: [unknown] });
  });

  it('refuses a bulk retry that is empty, too long, repeats an id or names something else than a delivery', async () => {
    const many = Array.from({ length: MAX_BULK_RETRY + 1 }, (_, i) => `dlv_01JDG3ABCDEFGHJKMNPQRS${String(i).padStart(4, '0')}`);
    for (const ids of [[], many, ['dlv_01JDG3ABCDEFGHJKMNPQRSTVWX', 'dlv_01JDG3ABCDEFGHJKMNPQRSTVWX'], ['msg_01JDG3ABCDEFGHJKMNPQRSTVWX']]) {
      const res = await json('/v1/deliveries/retry', tenantA.apiKey, 'POST', { ids });
      expect(res.status, JSON.stringify(ids).slice(0, 80)).toBe(400);
      expect(res.body.code).toBe('SP_ERR_HTTP_BAD_REQUEST');
    }
  });

  it('warns of API keys that expire within 14 days', async () => {
    const soon = await json('/v1/api-keys', tenantA.apiKey, 'POST', { name: 'soon', scopes: ['payloads:read'], expires_at: new Date(Date.now() + 3 * 86_400_000).toISOString() });
    const later = await json('/v1/api-keys', tenantA.apiKey, 'POST', { name: 'later', scopes: ['payloads:read'], expires_at: new Date(Date.now() + 60 * 86_400_000).toISOString() });
    const list = (await json('/v1/api-keys', tenantA.apiKey)).body.data as { id: string; expiry_warning: boolean; age_warning: boolean }[];
    expect(list.find((k) => k.id === soon.body.id)).toMatchObject({ expiry_warning: true, age_warning: false });
    expect(list.find((k) => k.id === later.body.id)).toMatchObject({ expiry_warning: false });
    expect(list.filter((k) => k.id !== soon.body.id).every((k) => !k.expiry_warning)).toBe(true);
  });
});
