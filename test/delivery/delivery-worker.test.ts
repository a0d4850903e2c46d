import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { DeliveryRepository } from '../../src/delivery/delivery.repository.js';
import { startDeliveryWorker, type DeliveryWorker, type DeliveryWorkerConfig } from '../../src/delivery/delivery.worker.js';
import type { RequestSigner } from '../../src/delivery/request-signer.js';
import { GONE_DISABLE_REASON } from '../../src/delivery/attempt.repository.js';
import { testDialects } from '../support/test-database.js';
import { openDeliveryFixture, silentLogger, startReceiver, workerConfig, type DeliveryFixture, type Receiver } from './delivery-fixture.js';
import { noSignature, testAudit } from './worker-test-deps.js';

const POLL = { timeout: 15_000, interval: 10 };

describe.each(testDialects())('delivery worker on %s', (dialect) => {
  let fx: DeliveryFixture;
  const cleanups: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    fx = await openDeliveryFixture(dialect);
  });
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  afterAll(async () => {
    await fx.dispose();
  });

  async function receiver(): Promise<Receiver> {
    const r = await startReceiver();
    cleanups.push(() => r.close());
    return r;
  }

  function worker(config: Partial<DeliveryWorkerConfig> = {}, signer?: RequestSigner): DeliveryWorker {
    const w = startDeliveryWorker({ db: fx.handle.db, dialect, cipher: fx.cipher, config: workerConfig(config), logger: silentLogger, idlePollMs: 20, signer: signer ?? noSignature, audit: testAudit });
    cleanups.push(() => w.stop());
    return w;
  }

  async function delivery(payloadId: string) {
    return fx.handle.db.selectFrom('deliveries').selectAll().where('payload_id', '=', payloadId).executeTakeFirstOrThrow();
  }

  async function attemptsOf(tenantId: string, payloadId: string) {
    const d = await delivery(payloadId);
    return new DeliveryRepository(fx.handle.db, fx.cipher).listAttempts(tenantId, d.id, { after: undefined, limit: 100 });
  }

  it('forwards the stored canonical envelope bytes with the DESIGN §4 headers', async () => {
    const r = await receiver();
    const tenant = await fx.tenant();
    // Written straight to the table (as an old row might be): the send path itself must keep ours.
    await fx.destination(tenant, { url: r.url, headers: { Authorization: 'Bearer abc', 'X-Team': 'ops', 'webhook-id': 'evil', 'User-Agent': 'evil' } });
    const signer: RequestSigner = { sign: async ({ webhookId, timestamp, body }) => ({ 'webhook-signature': `v1a,${webhookId}.${timestamp}.${body.length}`, 'sealpost-key-id': 'kid1' }) };
    const sent = await fx.ingest(tenant, { invoice: 4711, note: 'ünïcode ✓', nested: { b: 1, a: [true, null] } });
    worker({}, signer).poke();

    await vi.waitFor(async () => expect((await delivery(sent.id)).status).toBe('succeeded'), POLL);
    expect(r.requests).toHaveLength(1);
    const got = r.requests[0]!;
    expect(got.method).toBe('POST');
    expect(got.url).toBe('/hook');
    expect(got.body.equals(sent.body)).toBe(true);
    expect(got.headers['content-type']).toBe('application/json');
    expect(got.headers['webhook-id']).toBe(sent.id);
    expect(got.headers['user-agent']).toBe('Sealpost/0.1.0');
    const ts = Number(got.headers['webhook-timestamp']);
    expect(Math.abs(ts - Date.now() / 1000)).toBeLessThan(300);
    expect(got.headers['webhook-signature']).toBe(`v1a,${sent.id}.${ts}.${sent.body.length}`);
    expect(got.headers['sealpost-key-id']).toBe('kid1');
    expect(got.headers.authorization).toBe('Bearer abc');
    expect(got.headers['x-team']).toBe('ops');

    const attempts = await attemptsOf(tenant, sent.id);
    expect(attempts).toMatchObject([{ attempt: 1, statusCode: 200, errorClass: null }]);
    expect(attempts[0]!.response?.toString()).toBe('{"ok":true}');
  });

  it('delivers everything once a receiver that was down comes back', async () => {
    const r = await receiver();
    r.refuseConnections = true;
    const tenant = await fx.tenant();
    await fx.destination(tenant, { url: r.url });
    const sent = await Promise.all(Array.from({ length: 5 }, (_, i) => fx.ingest(tenant, { i })));
    worker({ retrySchedule: [0, 50, 100, ...Array<number>(40).fill(150)] });

    // Every delivery has failed to connect at least twice before the receiver returns.
    await vi.waitFor(async () => {
      for (const s of sent) expect((await delivery(s.id)).attempts).toBeGreaterThanOrEqual(2);
    }, POLL);
    r.refuseConnections = false;
    await vi.waitFor(async () => {
      for (const s of sent) expect((await delivery(s.id)).status).toBe('succeeded');
    }, POLL);

    expect(new Set(r.requests.map((q) => q.headers['webhook-id']))).toEqual(new Set(sent.map((s) => s.id)));
    for (const s of sent) {
      const attempts = await attemptsOf(tenant, s.id);
      expect(attempts.at(-1)).toMatchObject({ statusCode: 200, errorClass: null });
      expect(attempts.slice(0, -1).every((a) => a.errorClass === 'connect' && a.statusCode === null)).toBe(true);
      expect(attempts.map((a) => a.attempt)).toEqual(attempts.map((_, i) => i + 1));
    }
  });

  it('stops retrying on 410 Gone and disables the destination, with its audit event and the reason shown to the tenant', async () => {
    const r = await receiver();
    r.handler = (_q, res) => res.writeHead(410).end('gone');
    const tenant = await fx.tenant();
    const destination = await fx.destination(tenant, { url: r.url });
    const sent = await fx.ingest(tenant);
    worker({ retrySchedule: [0, 10, 10, 10] });
    await vi.waitFor(async () => expect((await delivery(sent.id)).status).toBe('stopped'), POLL);
    expect(await delivery(sent.id)).toMatchObject({ attempts: 1, last_status_code: 410, lease_owner: null });
    expect(r.requests).toHaveLength(1);

    const row = await fx.handle.db.selectFrom('destinations').select(['enabled', 'disabled_reason']).where('id', '=', destination.id).executeTakeFirstOrThrow();
    expect(row).toEqual({ enabled: 0, disabled_reason: GONE_DISABLE_REASON });
    const events = await fx.handle.db.selectFrom('audit_events').select('event').where('tenant_id', '=', tenant).execute();
    const disabled = events.map((e) => JSON.parse(e.event!) as { action: string; resource: string; actor: unknown; details: unknown }).filter((e) => e.action === 'destination.disabled');
    expect(disabled).toEqual([expect.objectContaining({ resource: destination.id, actor: { type: 'system', id: 'delivery-worker' }, details: { reason: GONE_DISABLE_REASON } })]);

    // Later payloads are not queued to it until the tenant re-enables it.
    const later = await fx.ingest(tenant, { later: true });
    expect(await fx.handle.db.selectFrom('deliveries').select('id').where('payload_id', '=', later.id).execute()).toEqual([]);
  });

  it.each([429, 503])('waits as long as a %i answer\'s Retry-After asks, up to the schedule\'s longest delay', async (status) => {
    const r = await receiver();
    const tenant = await fx.tenant();
    await fx.destination(tenant, { url: r.url });
    const schedule = [0, 10, 600_000];

    r.handler = (_q, res) => res.writeHead(status, { 'retry-after': '60' }).end();
    const honoured = await fx.ingest(tenant, { n: 1 });
    worker({ retrySchedule: schedule });
    // Recorded (claiming counts the attempt; recording sets the status and releases the lease).
    await vi.waitFor(async () => expect(await delivery(honoured.id)).toMatchObject({ attempts: 1, last_status_code: status, lease_owner: null }), POLL);
    const first = await delivery(honoured.id);
    expect(first.status).toBe('pending');
    // The schedule said 10 ms; the receiver asked for 60 s.
    expect(first.next_attempt_at - first.updated_at).toBe(60_000);

    r.handler = (_q, res) => res.writeHead(status, { 'retry-after': String(365 * 86_400) }).end();
    const bounded = await fx.ingest(tenant, { n: 2 });
    await vi.waitFor(async () => expect(await delivery(bounded.id)).toMatchObject({ attempts: 1, last_status_code: status, lease_owner: null }), POLL);
    const second = await delivery(bounded.id);
    expect(second.next_attempt_at - second.updated_at).toBe(600_000);
  });

  it('dead-letters a delivery that gets 500 on every attempt of the schedule', async () => {
    const r = await receiver();
    r.handler = (_q, res) => res.writeHead(500).end('boom');
    const tenant = await fx.tenant();
    await fx.destination(tenant, { url: r.url });
    const sent = await fx.ingest(tenant);
    worker({ retrySchedule: [0, 10, 20] });
    await vi.waitFor(async () => expect((await delivery(sent.id)).status).toBe('dead'), POLL);
    expect(await delivery(sent.id)).toMatchObject({ attempts: 3, last_status_code: 500, last_error: 'HTTP 500' });
    expect(r.requests).toHaveLength(3);
    const attempts = await attemptsOf(tenant, sent.id);
    expect(attempts.map((a) => [a.attempt, a.statusCode, a.errorClass, a.response?.toString()])).toEqual([
      [1, 500, 'http_status', 'boom'],
      [2, 500, 'http_status', 'boom'],
      [3, 500, 'http_status', 'boom'],
    ]);
  });

  it('does not follow a redirect: a 3xx is a failed attempt', async () => {
    const r = await receiver();
    r.handler = (q, res) => (q.url === '/hook' ? res.writeHead(307, { location: '/elsewhere' }).end() : res.writeHead(200).end());
    const tenant = await fx.tenant();
    await fx.destination(tenant, { url: r.url });
    const sent = await fx.ingest(tenant);
    worker();
    await vi.waitFor(async () => expect((await delivery(sent.id)).status).toBe('dead'), POLL);
    expect(r.requests.map((q) => q.url)).toEqual(['/hook']);
    expect(await attemptsOf(tenant, sent.id)).toMatchObject([{ statusCode: 307, errorClass: 'http_status' }]);
  });

  it('gives up on a receiver slower than the timeout (error class timeout)', async () => {
    const r = await receiver();
    r.handler = () => undefined; // never answers; the connection is cut when the receiver closes
    const tenant = await fx.tenant();
    await fx.destination(tenant, { url: r.url, timeoutMs: 200 });
    const sent = await fx.ingest(tenant);
    worker();
    await vi.waitFor(async () => expect((await delivery(sent.id)).status).toBe('dead'), POLL);
    const [a] = await attemptsOf(tenant, sent.id);
    expect(a).toMatchObject({ statusCode: null, errorClass: 'timeout', response: null });
    expect(a!.durationMs).toBeGreaterThanOrEqual(150);
  });

  it('keeps only the first 4 KB of a huge answer', async () => {
    const r = await receiver();
    const chunk = Buffer.alloc(64 * 1024, 'x');
    r.handler = (_q, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      let left = 160; // 10 MB, written as the socket drains
      const write = (): void => {
        while (left > 0) {
          left--;
          if (!res.write(chunk)) return void res.once('drain', write);
        }
        res.end();
      };
      write();
    };
    const tenant = await fx.tenant();
    await fx.destination(tenant, { url: r.url });
    const sent = await fx.ingest(tenant);
    worker();
    await vi.waitFor(async () => expect((await delivery(sent.id)).status).toBe('succeeded'), POLL);
    const [a] = await attemptsOf(tenant, sent.id);
    expect(a!.response?.length).toBe(4096);
    const stored = await fx.handle.db.selectFrom('delivery_attempts').select('response_sealed').executeTakeFirstOrThrow();
    expect(stored.response_sealed!.length).toBeLessThan(4096 + 100);
  });

  it('refuses, at connect time, a name that resolves to loopback (localhost) without the allow setting', async () => {
    const r = await receiver();
    const tenant = await fx.tenant();
    await fx.destination(tenant, { url: `http://localhost:${r.port}/hook` });
    const sent = await fx.ingest(tenant);
    worker({ allowPrivateDestinations: false });
    await vi.waitFor(async () => expect((await delivery(sent.id)).status).toBe('dead'), POLL);
    expect(await attemptsOf(tenant, sent.id)).toMatchObject([{ statusCode: null, errorClass: 'ssrf_refused' }]);
    expect(r.requests).toHaveLength(0);
  });

  it('refuses a literal loopback address at connect time, and plain http when not allowed', async () => {
    const r = await receiver();
    const tenant = await fx.tenant();
    await fx.destination(tenant, { url: r.url });
    const first = await fx.ingest(tenant);
    worker({ allowPrivateDestinations: ['10.0.0.0/8'] });
    await vi.waitFor(async () => expect((await delivery(first.id)).status).toBe('dead'), POLL);
    expect(await attemptsOf(tenant, first.id)).toMatchObject([{ errorClass: 'ssrf_refused' }]);
    await cleanups.pop()!();

    const second = await fx.ingest(tenant);
    worker({ allowHttpDestinations: false });
    await vi.waitFor(async () => expect((await delivery(second.id)).status).toBe('dead'), POLL);
    expect(await attemptsOf(tenant, second.id)).toMatchObject([{ errorClass: 'scheme_refused' }]);
    expect(r.requests).toHaveLength(0);
  });
});
