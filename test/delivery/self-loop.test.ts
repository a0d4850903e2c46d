import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { ulid } from 'ulid';
import { DeliveryRepository } from '../../src/delivery/delivery.repository.js';
import { DestinationRepository, type Destination } from '../../src/delivery/destination.repository.js';
import { startDeliveryWorker, type DeliveryWorker } from '../../src/delivery/delivery.worker.js';
import { OwnListeners } from '../../src/delivery/own-listeners.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { testDialects } from '../support/test-database.js';
import { silentLogger, startReceiver, workerConfig, type Receiver } from './delivery-fixture.js';
import { noSignature, testAudit } from './worker-test-deps.js';

const POLL = { timeout: 15_000, interval: 20 };

/**
 * Delivery amplification: a destination that points back at Sealpost's own `/v1/payloads` with the
 * tenant's key must not turn one payload into many, however it reaches the API.
 */
describe.each(testDialects())('forwarding never reaches Sealpost itself on %s', (dialect) => {
  let app: TestApp;
  let tenant: { tenant: string; apiKey: string };
  let apiPort = 0;
  let ca: string;
  const own = new OwnListeners().addPublicUrl('https://localhost');
  const cleanups: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    app = await startTestApp(dialect, {
      env: { SEALPOST_ALLOW_PRIVATE_DESTINATIONS: 'true', SEALPOST_ALLOW_HTTP_DESTINATIONS: 'true', SEALPOST_RATE_LIMIT_PER_KEY: '100000' },
      overrides: {
        ownListeners: own,
        // At save time `localhost` does not resolve: only the connect-time check can see where it leads.
        destinationResolver: async (host) => {
          if (host === 'localhost') throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
          return [host];
        },
      },
    });
    apiPort = Number(new URL(app.url).port);
    own.addBound('127.0.0.1', apiPort);
    ca = readFileSync(path.join(app.context.config.dataDir, 'tls', 'self-signed.crt'), 'utf8');
    tenant = await app.createTenant();
  });
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  afterAll(async () => {
    await app?.close();
  });

  const createDestination = (body: Record<string, unknown>, token = tenant.apiKey) =>
    app.fetch('/v1/destinations', { method: 'POST', token, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  async function receiver(): Promise<Receiver> {
    const r = await startReceiver();
    cleanups.push(() => r.close());
    return r;
  }

  function worker(ownListeners?: OwnListeners): DeliveryWorker {
    const w = startDeliveryWorker({ signer: noSignature, audit: testAudit,
      db: app.context.database.db,
      dialect,
      cipher: app.context.cipher,
      config: workerConfig(),
      logger: silentLogger,
      idlePollMs: 20,
      extraCa: ca,
      ...(ownListeners ? { ownListeners } : {}),
    });
    cleanups.push(() => w.stop());
    return w;
  }

  async function ingest(token: string): Promise<string> {
    const res = await app.fetch('/v1/payloads', { method: 'POST', token, headers: { 'content-type': 'application/json' }, body: '{"n":1}' });
    expect(res.status).toBe(202);
    return ((await res.json()) as { id: string }).id;
  }

  const payloadCount = async (tenantId: string) =>
    Number((await app.context.database.db.selectFrom('payloads').select((eb) => eb.fn.countAll().as('n')).where('tenant_id', '=', tenantId).executeTakeFirstOrThrow()).n);

  async function deliveriesOf(payloadId: string) {
    return app.context.database.db.selectFrom('deliveries').select(['id', 'destination_id', 'status']).where('payload_id', '=', payloadId).execute();
  }

  it("refuses at create a destination pointing at the API's own URL or bound address", async () => {
    for (const url of ['https://localhost/v1/payloads', 'https://LOCALHOST:443/v1/payloads', `https://127.0.0.1:${apiPort}/v1/payloads`, `https://[::ffff:127.0.0.1]:${apiPort}/v1/payloads`]) {
      const res = await createDestination({ url, headers: { Authorization: `Bearer ${tenant.apiKey}` } });
      expect(res.status, url).toBe(400);
      expect(await res.json()).toMatchObject({ code: 'SP_ERR_DESTINATION_LOOP_REFUSED' });
    }
    // Loopback itself stays allowed (SEALPOST_ALLOW_PRIVATE_DESTINATIONS): only Sealpost's own port is refused.
    const r = await receiver();
    const ok = await createDestination({ url: r.url });
    expect(ok.status).toBe(201);
    const { id } = (await ok.json()) as { id: string };
    const patched = await app.fetch(`/v1/destinations/${id}`, { method: 'PATCH', token: tenant.apiKey, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ url: `https://127.0.0.1:${apiPort}/v1/payloads` }) });
    expect(patched.status).toBe(400);
    expect(await patched.json()).toMatchObject({ code: 'SP_ERR_DESTINATION_LOOP_REFUSED' });
    await app.fetch(`/v1/destinations/${id}`, { method: 'DELETE', token: tenant.apiKey });
  });

  it('refuses an ingest carrying Sealpost forwarding headers', async () => {
    for (const headers of [{ 'sealpost-forwarded': '1' }, { 'webhook-signature': 'v1a,AAAA', 'sealpost-key-id': 'sp_sig_x' }]) {
      const res = await app.fetch('/v1/payloads', { method: 'POST', token: tenant.apiKey, headers: { 'content-type': 'application/json', ...headers }, body: '{"n":1}' });
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ code: 'SP_ERR_INGEST_FORWARDING_LOOP' });
    }
    // A vendor's own webhook-signature alone (Standard Webhooks senders) is not ours.
    const vendor = await app.fetch('/v1/payloads', { method: 'POST', token: tenant.apiKey, headers: { 'content-type': 'application/json', 'webhook-signature': 'v1,abc' }, body: '{"n":1}' });
    expect(vendor.status).toBe(202);
  });

  it('refuses at connect time a destination that reaches the own listener only through DNS; one payload makes one request per destination', async () => {
    const t = await app.createTenant();
    const r = await receiver();
    expect((await createDestination({ url: r.url }, t.apiKey)).status).toBe(201);
    const loop = await createDestination({ url: `https://localhost:${apiPort}/v1/payloads`, headers: { Authorization: `Bearer ${t.apiKey}` } }, t.apiKey);
    expect(loop.status).toBe(201);
    const loopId = ((await loop.json()) as { id: string }).id;

    const payloadId = await ingest(t.apiKey);
    worker(own).poke();
    await vi.waitFor(async () => expect((await deliveriesOf(payloadId)).map((d) => d.status).sort()).toEqual(['dead', 'succeeded']), POLL);
    const loopDelivery = (await deliveriesOf(payloadId)).find((d) => d.destination_id === loopId)!;
    const attempts = await new DeliveryRepository(app.context.database.db, app.context.cipher).listAttempts(t.tenant, loopDelivery.id, { after: undefined, limit: 10 });
    expect(attempts).toMatchObject([{ statusCode: null, errorClass: 'loop_refused' }]);
    expect(r.requests).toHaveLength(1);
    expect(await payloadCount(t.tenant)).toBe(1);
  });

  it('a forwarded request that still reaches the API (a worker that cannot see its listeners) is refused, not ingested', async () => {
    const t = await app.createTenant();
    const loop = await createDestination({ url: `https://localhost:${apiPort}/v1/payloads`, headers: { Authorization: `Bearer ${t.apiKey}` } }, t.apiKey);
    expect(loop.status).toBe(201);
    const payloadId = await ingest(t.apiKey);
    worker().poke();
    await vi.waitFor(async () => expect((await deliveriesOf(payloadId)).map((d) => d.status)).toEqual(['dead']), POLL);
    const [d] = await deliveriesOf(payloadId);
    const attempts = await new DeliveryRepository(app.context.database.db, app.context.cipher).listAttempts(t.tenant, d!.id, { after: undefined, limit: 10 });
    expect(attempts).toMatchObject([{ statusCode: 400 }]);
    expect(await payloadCount(t.tenant)).toBe(1);
  });

  it('refuses the 51st destination of a tenant with 409', async () => {
    const t = await app.createTenant();
    for (let i = 0; i < 50; i++) expect((await createDestination({ url: `https://hooks${i}.example.com/in` }, t.apiKey)).status).toBe(201);
    const res = await createDestination({ url: 'https://hooks50.example.com/in' }, t.apiKey);
    expect(res.status).toBe(409);
    expect(await res.json()).toMatchObject({ code: 'SP_ERR_DESTINATION_LIMIT_REACHED' });
    // Deleting one makes room again.
    const list = (await (await app.fetch('/v1/destinations?limit=1', { token: t.apiKey })).json()) as { data: { id: string }[] };
    expect((await app.fetch(`/v1/destinations/${list.data[0]!.id}`, { method: 'DELETE', token: t.apiKey })).status).toBe(204);
    expect((await createDestination({ url: 'https://hooks50.example.com/in' }, t.apiKey)).status).toBe(201);
  });

  it('keeps the destination cap under concurrent creates', async () => {
    const t = await app.createTenant();
    for (let i = 0; i < 45; i++) expect((await createDestination({ url: `https://pre${i}.example.com/in` }, t.apiKey)).status).toBe(201);
    const statuses = await Promise.all(Array.from({ length: 12 }, (_, i) => createDestination({ url: `https://race${i}.example.com/in` }, t.apiKey).then((r) => r.status)));
    expect(statuses.filter((s) => s === 201)).toHaveLength(5);
    expect(statuses.filter((s) => s === 409)).toHaveLength(7);
    const live = await app.context.database.db.selectFrom('destinations').select('id').where('tenant_id', '=', t.tenant).where('deleted_at', 'is', null).execute();
    expect(live).toHaveLength(50);

    // The same straight at the repository, where the transactions overlap on the connection pool.
    const u = await app.createTenant();
    const repository = new DestinationRepository(app.context.database.db, app.context.cipher);
    const row = (i: number): Destination => ({
      id: `dst_${ulid()}`,
      tenantId: u.tenant,
      url: `https://r${i}.example.com/`,
      headers: {},
      eventTypes: null,
      enabled: true,
      disabledReason: null,
      timeoutMs: 5_000,
      maxConcurrency: 1,
      failingSince: null,
      createdAt: Date.now(),
      updatedAt: Date.now(),
    });
    for (let i = 0; i < 45; i++) await repository.insert(row(i), { maxPerTenant: 50 });
    const inserted = await Promise.all(Array.from({ length: 20 }, (_, i) => repository.insert(row(100 + i), { maxPerTenant: 50 })));
    expect(inserted.filter(Boolean)).toHaveLength(5);
  });
});
