/**
 * The worker sends nothing that a power failure could take back (src/db/wal-flusher.ts): on
 * SQLite an ingest's batch is visible to the worker's claim before its WAL sync is done. Each
 * claimed delivery waits for the sync of its own payload's batch, and only for that one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GroupCommitter } from '../../src/db/group-commit.js';
import { WalFlusher } from '../../src/db/wal-flusher.js';
import { startDeliveryWorker } from '../../src/delivery/delivery.worker.js';
import { enqueueDeliveries } from '../../src/delivery/outbox.repository.js';
import { manualSync } from '../support/manual-sync.js';
import { until } from '../support/poll.js';
import { openDeliveryFixture, silentLogger, startReceiver, workerConfig, type DeliveryFixture } from './delivery-fixture.js';
import { noSignature, testAudit } from './worker-test-deps.js';

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('the worker and group commit on SQLite', () => {
  let fx: DeliveryFixture;
  beforeAll(async () => {
    fx = await openDeliveryFixture('sqlite');
  });
  afterAll(async () => {
    await fx.dispose();
  });

  it("sends a delivery only once its payload's batch is on disk, without waiting for later batches", async () => {
    const receiver = await startReceiver();
    const sync = manualSync();
    const committer = new GroupCommitter(fx.handle.db, new WalFlusher(sync.datasync), fx.handle.groupCommitConnection);
    const tenant = await fx.tenant();
    await fx.destination(tenant, { url: `${receiver.url}/hook` });
    /** A payload and its outbox row through the group committer, named by the payload as ingest names it. */
    const ingest = async (): Promise<{ id: string; stored: Promise<void> }> => {
      const { id, row } = await fx.sealPayload(tenant, { n: 1 }, 'payload.received');
      const stored = committer.run(async (tx) => {
        await tx.insertInto('payloads').values(row).execute();
        await enqueueDeliveries(tx, { tenantId: tenant, payloadId: id, type: 'payload.received', now: Date.now() });
      }, id);
      while (sync.pending() === 0) await turn();
      return { id, stored };
    };
    const worker = startDeliveryWorker({
      signer: noSignature,
      audit: testAudit,
      db: fx.handle.db,
      dialect: 'sqlite',
      cipher: fx.cipher,
      config: workerConfig(),
      logger: silentLogger,
      idlePollMs: 20,
      durable: (ids) => committer.durableFor(ids),
    });
    try {
      const received = (): string[] => receiver.requests.map((r) => String(r.headers['webhook-id']));
      // First: committed, its sync still running. The worker claims it and must hold it.
      const first = await ingest();
      await until(async () => (await fx.handle.db.selectFrom('deliveries').select('lease_owner').where('payload_id', '=', first.id).executeTakeFirst())?.lease_owner != null, {
        timeoutMs: 10_000,
        intervalMs: 10,
      });
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(received()).toEqual([]);
      sync.finish();
      await first.stored;

      // Second: committed while nothing of the first is pending any more; its own sync is held back.
      const second = await ingest();
      await until(() => received().includes(first.id), { timeoutMs: 10_000, intervalMs: 10 });
      await until(async () => (await fx.handle.db.selectFrom('deliveries').select('lease_owner').where('payload_id', '=', second.id).executeTakeFirst())?.lease_owner != null, {
        timeoutMs: 10_000,
        intervalMs: 10,
      });
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(received()).toEqual([first.id]);
      sync.finish();
      await second.stored;
      await until(() => received().includes(second.id), { timeoutMs: 10_000, intervalMs: 10 });

      // A payload already on disk (an ordinary, fully synced transaction) is not held up by a batch still syncing.
      const third = await ingest();
      const { id: onDisk } = await fx.ingest(tenant, { on_disk: true });
      await until(() => received().includes(onDisk), { timeoutMs: 10_000, intervalMs: 10 });
      expect(received()).not.toContain(third.id);
      sync.finish();
      await third.stored;
      await until(() => received().includes(third.id), { timeoutMs: 10_000, intervalMs: 10 });
    } finally {
      // A failed assertion must not leave the worker waiting for a sync nobody finishes.
      while (sync.pending() > 0) sync.finish();
      await worker.stop();
      await receiver.close();
    }
  });
});
