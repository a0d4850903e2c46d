import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { DatabaseHandle } from '../../src/db/database.js';
import { startDeliveryWorker, type DeliveryWorker, type DeliveryWorkerConfig } from '../../src/delivery/delivery.worker.js';
import { OutboxRepository } from '../../src/delivery/outbox.repository.js';
import { testDialects } from '../support/test-database.js';
import { openDeliveryFixture, silentLogger, startReceiver, workerConfig, type DeliveryFixture, type Receiver } from './delivery-fixture.js';
import { noSignature, testAudit } from './worker-test-deps.js';

const POLL = { timeout: 30_000, interval: 20 };
/** Above the default 30 s, so that a slow run fails on POLL's message, not on the test timeout. */
const TEST_TIMEOUT_MS = 120_000;

describe.each(testDialects())('delivery leases on %s', { timeout: TEST_TIMEOUT_MS }, (dialect) => {
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

  /** A worker on its own connection pool (PostgreSQL) or the shared single connection (SQLite). */
  function worker(workerId: string, config: Partial<DeliveryWorkerConfig> = {}, handle: DatabaseHandle = fx.handle): DeliveryWorker {
    const w = startDeliveryWorker({ signer: noSignature, audit: testAudit, db: handle.db, dialect, cipher: fx.cipher, config: workerConfig(config), logger: silentLogger, idlePollMs: 20, workerId });
    cleanups.push(() => w.stop());
    return w;
  }

  async function statuses(tenantId: string): Promise<Record<string, number>> {
    const rows = await fx.handle.db
      .selectFrom('deliveries')
      .select(['status', (eb) => eb.fn.countAll<number>().as('n')])
      .where('tenant_id', '=', tenantId)
      .groupBy('status')
      .execute();
    return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
  }

  it('two workers send each of 200 deliveries exactly once per attempt', async () => {
    const r = await receiver();
    const firstSeen = new Set<string>();
    // The first request of each message fails, so every delivery has two attempts to race on.
    r.handler = (q, res) => {
      const id = String(q.headers['webhook-id']);
      if (firstSeen.has(id)) return void res.writeHead(204).end();
      firstSeen.add(id);
      res.writeHead(503).end();
    };
    const tenant = await fx.tenant();
    await fx.destination(tenant, { url: r.url, maxConcurrency: 100 });
    const sent = [];
    for (let i = 0; i < 200; i++) sent.push(await fx.ingest(tenant, { i }));

    const second = dialect === 'postgres' ? fx.testDb.open() : fx.handle;
    worker('worker-a', { retrySchedule: [0, 5] }).poke();
    worker('worker-b', { retrySchedule: [0, 5] }, second).poke();
    await vi.waitFor(async () => expect(await statuses(tenant)).toEqual({ succeeded: 200 }), POLL);

    const perId = new Map<string, number>();
    for (const q of r.requests) perId.set(String(q.headers['webhook-id']), (perId.get(String(q.headers['webhook-id'])) ?? 0) + 1);
    expect(perId.size).toBe(200);
    expect([...perId.values()].every((n) => n === 2)).toBe(true);

    const attempts = await fx.handle.db
      .selectFrom('delivery_attempts')
      .innerJoin('deliveries', 'deliveries.id', 'delivery_attempts.delivery_id')
      .select(['delivery_attempts.delivery_id', 'delivery_attempts.attempt', 'delivery_attempts.status_code', 'delivery_attempts.worker'])
      .where('deliveries.tenant_id', '=', tenant)
      .execute();
    expect(attempts).toHaveLength(400);
    expect(new Set(attempts.map((a) => `${a.delivery_id}:${a.attempt}`)).size).toBe(400);
    expect(attempts.filter((a) => a.status_code === 204)).toHaveLength(200);
    expect(new Set(attempts.map((a) => a.worker))).toEqual(new Set(['worker-a', 'worker-b']));
  });

  it("picks up a dead worker's expired lease and records its lost attempt; leaves a live lease alone", async () => {
    const r = await receiver();
    const tenant = await fx.tenant();
    await fx.destination(tenant, { url: r.url });
    const expired = await fx.ingest(tenant, { lease: 'expired' });
    const live = await fx.ingest(tenant, { lease: 'live' });
    const now = Date.now();
    const lease = (payloadId: string, expiresAt: number) =>
      fx.handle.db.updateTable('deliveries').set({ lease_owner: 'dead-worker', lease_expires_at: expiresAt, attempts: 1 }).where('payload_id', '=', payloadId).execute();
    await lease(expired.id, now - 1);
    await lease(live.id, now + 3_600_000);

    worker('rescuer').poke();
    await vi.waitFor(async () => expect(r.requests.map((q) => q.headers['webhook-id'])).toEqual([expired.id]), POLL);
    await vi.waitFor(async () => {
      const d = await fx.handle.db.selectFrom('deliveries').selectAll().where('payload_id', '=', expired.id).executeTakeFirstOrThrow();
      expect(d).toMatchObject({ status: 'succeeded', attempts: 2, lease_owner: null });
    }, POLL);
    const attempts = await fx.handle.db
      .selectFrom('delivery_attempts')
      .innerJoin('deliveries', 'deliveries.id', 'delivery_attempts.delivery_id')
      .select(['attempt', 'error_class', 'worker', 'status_code'])
      .where('deliveries.payload_id', '=', expired.id)
      .orderBy('attempt')
      .execute();
    expect(attempts).toEqual([
      { attempt: 1, error_class: 'lease_expired', worker: 'dead-worker', status_code: null },
      { attempt: 2, error_class: null, worker: 'rescuer', status_code: 200 },
    ]);

    // The live lease is not claimable by anyone else until it expires.
    expect(await new OutboxRepository(fx.handle.db, dialect, fx.cipher).claim('another', Date.now(), 10)).toEqual([]);
    const claimedLater = await new OutboxRepository(fx.handle.db, dialect, fx.cipher).claim('another', now + 3_600_001, 10);
    expect(claimedLater.map((c) => c.payloadId)).toEqual([live.id]);
  });

  it("never has more requests in flight to a destination than its max_concurrency, across workers", async () => {
    const r = await receiver();
    // Answer only once the next request is queued or a moment passed, so overlap is possible.
    r.handler = (_q, res) => void setTimeout(() => res.writeHead(200).end(), 15);
    const tenant = await fx.tenant();
    await fx.destination(tenant, { url: r.url, maxConcurrency: 2 });
    for (let i = 0; i < 30; i++) await fx.ingest(tenant, { i });
    const second = dialect === 'postgres' ? fx.testDb.open() : fx.handle;
    worker('limit-a', { workerConcurrency: 16 }).poke();
    worker('limit-b', { workerConcurrency: 16 }, second).poke();
    await vi.waitFor(async () => expect(await statuses(tenant)).toEqual({ succeeded: 30 }), POLL);
    expect(r.requests).toHaveLength(30);
    expect(r.inFlight.max).toBeLessThanOrEqual(2);
    expect(r.inFlight.max).toBeGreaterThanOrEqual(1);
  });
});
