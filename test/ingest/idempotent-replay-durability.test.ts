/**
 * An idempotent retry is answered as the first request was, and no sooner: on SQLite the first
 * request's batch is visible before its WAL sync is done (src/db/wal-flusher.ts), and a replay
 * that answered then could promise a payload that a power failure takes back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GroupCommitter } from '../../src/db/group-commit.js';
import { WalFlusher } from '../../src/db/wal-flusher.js';
import { PayloadRepository } from '../../src/ingest/payload.repository.js';
import { PayloadService, type IngestInput } from '../../src/ingest/payload.service.js';
import { openDeliveryFixture, type DeliveryFixture } from '../delivery/delivery-fixture.js';
import { manualSync, settled } from '../support/manual-sync.js';

describe('an idempotent replay on SQLite', () => {
  let fx: DeliveryFixture;
  beforeAll(async () => {
    fx = await openDeliveryFixture('sqlite');
  });
  afterAll(async () => {
    await fx.dispose();
  });

  it("waits for the first request's WAL sync, not for later batches'", async () => {
    const sync = manualSync();
    const committer = new GroupCommitter(fx.handle.db, new WalFlusher(sync.datasync), fx.handle.groupCommitConnection);
    const service = new PayloadService(committer, new PayloadRepository(fx.handle.db, fx.cipher), { enqueue: async () => 0 }, (id) => `https://sealpost.test/v1/attachments/${id}`);
    const tenantId = await fx.tenant();
    const request = (key: string, n: number): IngestInput => ({
      tenantId,
      type: 'payload.received',
      source: { channel: 'https', api_key: 'key_test' },
      data: { n },
      attachments: [],
      idempotency: { key, requestSha256: `sha-${n}` },
    });
    const turns = async (): Promise<void> => {
      while (sync.pending() === 0) await new Promise((r) => setImmediate(r));
    };

    const first = service.ingest(request('order-1', 1));
    await turns();
    // Committed (the retry finds it) but not on disk: the retry waits, and so does a conflicting one.
    const retry = service.ingest(request('order-1', 1));
    const conflict = service.ingest(request('order-1', 2));
    expect(await settled(retry)).toBe('pending');
    expect(await settled(conflict)).toBe('pending');
    sync.finish();
    const [stored, replayed] = await Promise.all([first, retry]);
    expect(replayed).toEqual({ ...stored, replayed: true });
    await expect(conflict).rejects.toMatchObject({ code: 'SP_ERR_INGEST_IDEMPOTENCY_CONFLICT' });

    // Another payload's batch still syncing does not hold up the retry of one already on disk.
    const other = service.ingest(request('order-2', 3));
    await turns();
    await expect(service.ingest(request('order-1', 1))).resolves.toEqual({ ...stored, replayed: true });
    sync.finish();
    await other;
  });
});
