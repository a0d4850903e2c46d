import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEAD_AFTER_HEARTBEATS, startDeliveryWorker, type DeliveryWorker } from '../../src/delivery/delivery.worker.js';
import { WorkerHeartbeatRepository } from '../../src/delivery/worker-heartbeat.repository.js';
import { until } from '../support/poll.js';
import { testDialects } from '../support/test-database.js';
import { openDeliveryFixture, silentLogger, startReceiver, workerConfig, type DeliveryFixture, type Receiver } from './delivery-fixture.js';
import { noSignature, testAudit } from './worker-test-deps.js';

const HEARTBEAT_MS = 300;
/** What the dead worker's leases had left: without heartbeats its deliveries would wait this long. */
const LEASE_LEFT_MS = 3_600_000;

describe.each(testDialects())("a dead worker's leases on %s", { timeout: 60_000 }, (dialect) => {
  let fx: DeliveryFixture;
  let heartbeats: WorkerHeartbeatRepository;
  const cleanups: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    fx = await openDeliveryFixture(dialect);
    heartbeats = new WorkerHeartbeatRepository(fx.handle.db);
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
  function worker(workerId: string): DeliveryWorker {
    const w = startDeliveryWorker({
      signer: noSignature,
      audit: testAudit,
      db: fx.handle.db,
      dialect,
      cipher: fx.cipher,
      config: workerConfig(),
      logger: silentLogger,
      idlePollMs: 20,
      workerId,
      heartbeat: { store: heartbeats, intervalMs: HEARTBEAT_MS },
    });
    cleanups.push(() => w.stop());
    return w;
  }
  /** Leases `payloadIds`' deliveries to `owner` for LEASE_LEFT_MS, as a worker mid-send does. */
  async function leaseTo(owner: string, payloadIds: string[]): Promise<void> {
    await fx.handle.db
      .updateTable('deliveries')
      .set({ lease_owner: owner, lease_expires_at: Date.now() + LEASE_LEFT_MS, attempts: 1 })
      .where('payload_id', 'in', payloadIds)
      .execute();
  }
  async function pendingOf(tenant: string): Promise<number> {
    const rows = await fx.handle.db.selectFrom('deliveries').select('id').where('tenant_id', '=', tenant).where('status', '!=', 'succeeded').execute();
    return rows.length;
  }

  it("releases a dead worker's leases within a few heartbeats, so its destination's queue does not stall for the lease", async () => {
    const r = await receiver();
    const tenant = await fx.tenant();
    await fx.destination(tenant, { url: r.url, maxConcurrency: 2 });
    const held = [await fx.ingest(tenant, { held: 1 }), await fx.ingest(tenant, { held: 2 })];
    for (let i = 0; i < 20; i++) await fx.ingest(tenant, { queued: i });
    // Killed mid-send: its leases fill the destination's max_concurrency, its last heartbeat is old.
    await leaseTo('killed-worker', held.map((p) => p.id));
    await heartbeats.beat('killed-worker', Date.now() - 10 * HEARTBEAT_MS);

    const startedAt = Date.now();
    worker('survivor');
    await until(async () => (await pendingOf(tenant)) === 0, { timeoutMs: 30_000, intervalMs: 20, explain: async () => `${await pendingOf(tenant)} not delivered` });
    const stallMs = Date.now() - startedAt;
    // Measured: the 22 deliveries waited a few heartbeats, not the hour the leases had left.
    expect(stallMs).toBeLessThan(LEASE_LEFT_MS / 100);

    const lost = await fx.handle.db
      .selectFrom('delivery_attempts')
      .select(['worker', 'error_class'])
      .where('worker', '=', 'killed-worker')
      .execute();
    expect(lost).toEqual([
      { worker: 'killed-worker', error_class: 'lease_expired' },
      { worker: 'killed-worker', error_class: 'lease_expired' },
    ]);
    const rows = await fx.handle.db.selectFrom('worker_heartbeats').select('worker_id').execute();
    expect(rows.map((row) => row.worker_id)).toEqual(['survivor']);
  });

  it('leaves the leases of a worker whose heartbeat is recent, and a stopped worker removes its heartbeat', async () => {
    const r = await receiver();
    const tenant = await fx.tenant();
    await fx.destination(tenant, { url: r.url });
    const busy = await fx.ingest(tenant, { busy: true });
    await leaseTo('busy-worker', [busy.id]);
    await heartbeats.beat('busy-worker', Date.now());
    const w = worker('observer');
    // Wait for more than the dead-after window of the observer's own beats.
    await until(async () => (await fx.handle.db.selectFrom('worker_heartbeats').select('heartbeat_at').where('worker_id', '=', 'observer').executeTakeFirst())?.heartbeat_at !== undefined);
    const beatsNeeded = DEAD_AFTER_HEARTBEATS + 1;
    let seen = 0;
    let last = 0;
    await until(async () => {
      const row = await fx.handle.db.selectFrom('worker_heartbeats').select('heartbeat_at').where('worker_id', '=', 'observer').executeTakeFirstOrThrow();
      if (row.heartbeat_at !== last) {
        seen++;
        last = row.heartbeat_at;
        // The busy worker keeps beating, as a live one does.
        await heartbeats.beat('busy-worker', Date.now());
      }
      return seen >= beatsNeeded;
    }, { timeoutMs: 20_000, intervalMs: 20 });
    const lease = await fx.handle.db.selectFrom('deliveries').select(['lease_owner', 'lease_expires_at']).where('payload_id', '=', busy.id).executeTakeFirstOrThrow();
    expect(lease.lease_owner).toBe('busy-worker');
    expect(lease.lease_expires_at).toBeGreaterThan(Date.now());
    expect(r.requests).toHaveLength(0);

    await w.stop();
    const rows = await fx.handle.db.selectFrom('worker_heartbeats').select('worker_id').where('worker_id', '=', 'observer').execute();
    expect(rows).toEqual([]);
  });
});
