import Fastify, { type FastifyInstance, type LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerErrorHandling } from '../../src/http/error-handler.js';
import { ApiKeyRepository } from '../../src/identity/api-key.repository.js';
import { ApiKeyService } from '../../src/identity/api-key.service.js';
import { authorizeHook } from '../../src/http/auth.plugin.js';
import type { Scope } from '../../src/identity/scopes.js';
import type { DeliveryApiDeps } from '../../src/delivery/delivery-api.deps.js';
import { deliveryRoutes } from '../../src/delivery/delivery.routes.js';
import { destinationRoutes } from '../../src/delivery/destination.routes.js';
import { DeliveryRepository } from '../../src/delivery/delivery.repository.js';
import { DeliveryService } from '../../src/delivery/delivery.service.js';
import { DestinationRepository } from '../../src/delivery/destination.repository.js';
import { DestinationService } from '../../src/delivery/destination.service.js';
import { AuditLog } from '../../src/audit/audit-log.js';
import { auditRecorder } from '../../src/audit/audit-recorder.js';
import { testDialects } from '../support/test-database.js';
import { openDeliveryFixture, silentLogger, type DeliveryFixture } from './delivery-fixture.js';

const ALL: Scope[] = ['destinations:manage', 'payloads:read'];
/** Stub DNS: names in tests never leave the machine. */
const DNS: Record<string, string[]> = {
  'hooks.example.com': ['93.184.216.34'],
  'internal.example.com': ['93.184.216.34', '10.0.0.8'],
  localhost: ['127.0.0.1', '::1'],
};

describe.each(testDialects())('destination and delivery routes on %s', (dialect) => {
  let fx: DeliveryFixture;
  let app: FastifyInstance;
  let pokes = 0;
  const config: { allowPrivateDestinations: boolean; allowHttpDestinations: boolean; deliveryTimeoutSeconds: number } = {
    allowPrivateDestinations: false,
    allowHttpDestinations: false,
    deliveryTimeoutSeconds: 15,
  };
  const keys = { a: '', b: '', aReadOnly: '' };
  let tenantA = '';

  beforeAll(async () => {
    fx = await openDeliveryFixture(dialect);
    const keyService = new ApiKeyService(new ApiKeyRepository(fx.handle.db));
    tenantA = await fx.tenant();
    const tenantB = await fx.tenant();
    keys.a = (await keyService.issue(tenantA, { name: 'a', scopes: ALL })).token;
    keys.b = (await keyService.issue(tenantB, { name: 'b', scopes: ALL })).token;
    keys.aReadOnly = (await keyService.issue(tenantA, { name: 'a-read', scopes: ['payloads:read'] })).token;
    const deps: DeliveryApiDeps = {
      audit: auditRecorder(new AuditLog()),
      config,
      poke: () => void pokes++,
      resolver: async (host) => {
        const found = DNS[host];
        if (!found) throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
        return found;
      },
    };
    app = Fastify({ loggerInstance: silentLogger }) as unknown as FastifyInstance;
    registerErrorHandling(app);
    await app.register(async (v1) => {
      v1.addHook('onRequest', authorizeHook({ keys: keyService, origin: 'https://localhost', now: Date.now }));
      const deliveryRepository = new DeliveryRepository(fx.handle.db, fx.cipher);
      await v1.register(destinationRoutes, { destinations: new DestinationService(new DestinationRepository(fx.handle.db, fx.cipher), deliveryRepository, deps) });
      await v1.register(deliveryRoutes, { deliveries: new DeliveryService(deliveryRepository, deps) });
    });
    await app.ready();
  });
  afterAll(async () => {
    await app.close();
    await fx.dispose();
  });

  function call(key: string, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown): Promise<LightMyRequestResponse> {
    return app.inject({ method, url, headers: { authorization: `Bearer ${key}` }, ...(payload === undefined ? {} : { payload: payload as object }) });
  }

  async function create(key: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
    const res = await call(key, 'POST', '/v1/destinations', body);
    expect(res.statusCode, res.body).toBe(201);
    return res.json();
  }

  it('creates, reads, lists, updates and deletes a destination, never showing header values', async () => {
    const created = await create(keys.a, { url: 'https://hooks.example.com/in?x=1', headers: { Authorization: 'Bearer s3cret' }, event_types: ['payload.received'] });
    expect(created).toMatchObject({ url: 'https://hooks.example.com/in?x=1', header_names: ['Authorization'], event_types: ['payload.received'], enabled: true, timeout_ms: 15_000, max_concurrency: 10 });
    expect(JSON.stringify(created)).not.toContain('s3cret');
    const row = await fx.handle.db.selectFrom('destinations').select('config_sealed').where('id', '=', String(created.id)).executeTakeFirstOrThrow();
    expect(Buffer.from(row.config_sealed).includes(Buffer.from('s3cret'))).toBe(false);
    expect(Buffer.from(row.config_sealed).includes(Buffer.from('hooks.example.com'))).toBe(false);

    const got = await call(keys.a, 'GET', `/v1/destinations/${created.id}`);
    expect(got.json()).toEqual(created);
    expect((await call(keys.a, 'GET', '/v1/destinations')).json().data.map((d: { id: string }) => d.id)).toContain(created.id);

    const patched = await call(keys.a, 'PATCH', `/v1/destinations/${created.id}`, { event_types: null, timeout_ms: 5_000, enabled: false });
    expect(patched.json()).toMatchObject({ event_types: null, timeout_ms: 5_000, enabled: false, disabled_reason: 'disabled by API', header_names: ['Authorization'] });

    expect((await call(keys.a, 'DELETE', `/v1/destinations/${created.id}`)).statusCode).toBe(204);
    expect((await call(keys.a, 'GET', `/v1/destinations/${created.id}`)).statusCode).toBe(404);
  });

  it('pages through destinations with a cursor', async () => {
    const tenant = await fx.tenant();
    const token = (await new ApiKeyService(new ApiKeyRepository(fx.handle.db)).issue(tenant, { name: 'p', scopes: ALL })).token;
    const created: { id: string; url: string }[] = [];
    for (let i = 0; i < 3; i++) created.push((await create(token, { url: `https://hooks.example.com/${i}` })) as { id: string; url: string });
    const first = (await call(token, 'GET', '/v1/destinations?limit=2')).json();
    expect(first.data).toHaveLength(2);
    const second = (await call(token, 'GET', `/v1/destinations?limit=2&cursor=${first.next_cursor}`)).json();
    expect(second.next_cursor).toBeNull();
    // Listed in id order. Ids are ULIDs: two made in the same millisecond sort at random, so the
    // expected order is the ids', not the order of creation.
    const byId = [...created].sort((a, b) => (a.id < b.id ? -1 : 1));
    expect([...first.data, ...second.data].map((d: { id: string; url: string }) => [d.id, d.url])).toEqual(byId.map((d) => [d.id, d.url]));
  });

  it.each([
    ['https://127.0.0.1/hook'],
    ['https://10.0.0.1/hook'],
    ['https://169.254.169.254/latest/meta-data/'],
    ['https://[::1]/hook'],
    ['https://[fd00:ec2::254]/'],
    ['https://0x7f000001/hook'],
    ['https://internal.example.com/hook'],
    ['https://localhost/hook'],
  ])('refuses the SSRF target %s with 400', async (url) => {
    const res = await call(keys.a, 'POST', '/v1/destinations', { url });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'SP_ERR_DESTINATION_ADDRESS_REFUSED' });
  });

  it('refuses plain http unless the operator allows it, and user:password in the URL', async () => {
    const http = await call(keys.a, 'POST', '/v1/destinations', { url: 'http://hooks.example.com/hook' });
    expect(http.statusCode).toBe(400);
    expect(http.json()).toMatchObject({ code: 'SP_ERR_DESTINATION_URL_INVALID' });
    expect((await call(keys.a, 'POST', '/v1/destinations', { url: 'https://u:p@hooks.example.com/' })).json()).toMatchObject({ code: 'SP_ERR_DESTINATION_URL_INVALID' });
    expect((await call(keys.a, 'POST', '/v1/destinations', { url: 'ftp://hooks.example.com/' })).json()).toMatchObject({ code: 'SP_ERR_DESTINATION_URL_INVALID' });
    config.allowHttpDestinations = true;
    config.allowPrivateDestinations = true;
    try {
      // The service reads the policy when built, so a new app would be needed for the address
      // policy; the http switch is read per request.
      expect((await call(keys.a, 'POST', '/v1/destinations', { url: 'http://hooks.example.com/hook' })).statusCode).toBe(201);
    } finally {
      config.allowHttpDestinations = false;
      config.allowPrivateDestinations = false;
    }
  });

  it.each([
    [{ 'webhook-id': 'x' }],
    [{ 'Content-Type': 'text/plain' }],
    [{ 'Sealpost-Key-Id': 'x' }],
    [{ 'bad name': 'x' }],
    [{ 'X-Ok': 'line\r\nInjected: 1' }],
  ])('refuses the custom header %j', async (headers) => {
    const res = await call(keys.a, 'POST', '/v1/destinations', { url: 'https://hooks.example.com/h', headers });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'SP_ERR_DESTINATION_HEADER_INVALID' });
  });

  it("refuses another tenant's destinations and deliveries with 404, and lists none of them", async () => {
    const destination = await create(keys.a, { url: 'https://hooks.example.com/a' });
    const sent = await fx.ingest(tenantA);
    const delivery = await fx.handle.db.selectFrom('deliveries').select('id').where('payload_id', '=', sent.id).executeTakeFirstOrThrow();
    await fx.handle.db.updateTable('deliveries').set({ status: 'dead' }).where('id', '=', delivery.id).execute();

    const asB: [string, string, unknown?][] = [
      ['GET', `/v1/destinations/${destination.id}`],
      ['PATCH', `/v1/destinations/${destination.id}`, { enabled: false }],
      ['DELETE', `/v1/destinations/${destination.id}`],
      ['POST', `/v1/destinations/${destination.id}/replay`, { from: '2000-01-01T00:00:00Z', to: '2100-01-01T00:00:00Z' }],
      ['GET', `/v1/deliveries/${delivery.id}`],
      ['GET', `/v1/deliveries/${delivery.id}/attempts`],
      ['POST', `/v1/deliveries/${delivery.id}/retry`],
    ];
    for (const [method, url, body] of asB) {
      const res = await call(keys.b, method as 'GET', url, body);
      expect(res.statusCode, `${method} ${url}`).toBe(404);
      expect(res.json().code).toBe('SP_ERR_RESOURCE_NOT_FOUND');
    }
    expect((await call(keys.b, 'GET', `/v1/deliveries?payload=${sent.id}`)).json().data).toEqual([]);
    expect((await call(keys.b, 'GET', '/v1/destinations')).json().data.map((d: { id: string }) => d.id)).not.toContain(destination.id);
    // Nothing changed for tenant A.
    expect((await call(keys.a, 'GET', `/v1/destinations/${destination.id}`)).json().enabled).toBe(true);
    expect((await call(keys.a, 'GET', `/v1/deliveries/${delivery.id}`)).json().status).toBe('dead');
  });

  it('needs destinations:manage to manage destinations or replay, payloads:read to read deliveries, and a key at all', async () => {
    for (const [method, url] of [['GET', '/v1/destinations'], ['POST', '/v1/destinations']] as const) {
      const res = await call(keys.aReadOnly, method, url, method === 'POST' ? { url: 'https://hooks.example.com/x' } : undefined);
      expect(res.statusCode).toBe(403);
      expect(res.json().code).toBe('SP_ERR_AUTH_SCOPE_MISSING');
    }
    expect((await call(keys.aReadOnly, 'GET', '/v1/deliveries')).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/v1/deliveries' })).statusCode).toBe(401);
  });

  it('lists deliveries of a payload with their attempts, retries one, and bulk-replays a range', async () => {
    const destination = await create(keys.a, { url: 'https://hooks.example.com/r' });
    const sent = await fx.ingest(tenantA);
    const list = (await call(keys.a, 'GET', `/v1/deliveries?payload=${sent.id}`)).json();
    const mine = list.data.find((d: { destination: string }) => d.destination === destination.id);
    expect(mine).toMatchObject({ payload: sent.id, status: 'pending', attempts: 0 });
    expect((await call(keys.a, 'GET', `/v1/deliveries/${mine.id}/attempts`)).json()).toEqual({ data: [], next_cursor: null });

    await fx.handle.db.updateTable('deliveries').set({ status: 'dead', attempts: 8, completed_at: Date.now() }).where('id', '=', mine.id).execute();
    pokes = 0;
    const retried = await call(keys.a, 'POST', `/v1/deliveries/${mine.id}/retry`);
    expect(retried.json()).toMatchObject({ status: 'pending', completed_at: null });
    expect(pokes).toBe(1);

    await fx.handle.db.updateTable('deliveries').set({ status: 'stopped' }).where('destination_id', '=', String(destination.id)).execute();
    const bad = await call(keys.a, 'POST', `/v1/destinations/${destination.id}/replay`, { from: '2100-01-01T00:00:00Z', to: '2000-01-01T00:00:00Z' });
    expect(bad.json()).toMatchObject({ code: 'SP_ERR_DELIVERY_REPLAY_RANGE_INVALID' });
    const none = await call(keys.a, 'POST', `/v1/destinations/${destination.id}/replay`, { from: '2000-01-01T00:00:00Z', to: '2000-01-02T00:00:00Z' });
    expect(none.json()).toEqual({ count: 0 });
    const all = await call(keys.a, 'POST', `/v1/destinations/${destination.id}/replay`, { from: '2000-01-01T00:00:00Z', to: '2100-01-01T00:00:00Z' });
    expect(all.json()).toEqual({ count: 1 });
    expect((await call(keys.a, 'GET', `/v1/deliveries/${mine.id}`)).json().status).toBe('pending');
  });
});
