import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditTree } from '../../src/audit/audit-tree.js';
import { MerkleTree } from '../../src/audit/merkle-tree.js';
import type { DatabaseHandle } from '../../src/db/database.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';
import { sampleEvent, servicesFor } from './audit-test-support.js';

describe('the audit tree catching up', () => {
  let testDb: TestDatabase;
  let handle: DatabaseHandle;
  const events = 2_500;

  beforeAll(async () => {
    testDb = await createTestDatabase('sqlite');
    handle = await testDb.openMigrated();
    const services = servicesFor(testDb, handle);
    await handle.db.transaction().execute(async (tx) => {
      for (let i = 0; i < events; i += 1) await services.log.append(tx, sampleEvent(i));
    });
  });
  afterAll(async () => {
    await testDb.dispose();
  });

  /** A tree of every stored leaf, built in one go: the reference the audit tree must agree with. */
  const treeOfStoredLeaves = async (): Promise<MerkleTree> => {
    const rows = await handle.db.selectFrom('audit_events').select('leaf_hash').orderBy('log_index').execute();
    const reference = new MerkleTree();
    for (const row of rows) reference.append(Buffer.from(row.leaf_hash));
    return reference;
  };

  it('reads a long backlog in batches and lets the event loop run between them', async () => {
    // A checkpoint after a busy minute catches up on many events; on SQLite every read blocks the
    // event loop, so requests must get turns in between, not wait for the whole backlog.
    let turns = 0;
    let counting = true;
    const tick = (): void => {
      turns += 1;
      if (counting) setImmediate(tick);
    };
    setImmediate(tick);
    const tree = new AuditTree(handle.db);
    const size = await tree.sync();
    counting = false;
    expect(size).toBe(events);
    expect(turns).toBeGreaterThanOrEqual(2);

    // Caught up exactly: the same root as a tree built from the stored leaves in one go.
    const reference = await treeOfStoredLeaves();
    expect((await tree.root(events)).equals(reference.root(events))).toBe(true);
  });

  it('answers proofs inside older blocks by reading them back, exactly as a tree of every leaf would', async () => {
    // 2,500 events: blocks of 1,024 leaves 0 and 1 are held as roots only, the newest (2,048..) whole.
    const tree = new AuditTree(handle.db);
    await tree.sync();
    const reference = await treeOfStoredLeaves();
    for (const size of [1, 700, 1_024, 1_500, 2_048, 2_049, events]) expect(await tree.root(size), `root ${size}`).toEqual(reference.root(size));
    for (const [index, size] of [[0, events], [5, 1_500], [1_023, 1_024], [1_024, 2_049], [1_999, events], [2_400, events], [700, 701]] as const) {
      expect(await tree.inclusionProof(index, size), `path ${index}/${size}`).toEqual(reference.inclusionProof(index, size));
    }
    for (const [first, second] of [[700, events], [1_024, 2_048], [1_500, 2_049], [2_100, events]] as const) {
      expect(await tree.consistencyProof(first, second), `proof ${first}->${second}`).toEqual(reference.consistencyProof(first, second));
    }
    expect(await tree.leaf(1_030)).toEqual(reference.leaf(1_030));
  });

  it('refuses a proof from an older block whose leaf hash was changed in the database after it was read', async () => {
    const tree = new AuditTree(handle.db);
    await tree.sync();
    const reference = await treeOfStoredLeaves();
    const original = await handle.db.selectFrom('audit_events').select('leaf_hash').where('log_index', '=', 5).executeTakeFirstOrThrow();
    await handle.db.updateTable('audit_events').set({ leaf_hash: Buffer.alloc(32, 7) }).where('log_index', '=', 5).execute();
    try {
      await expect(tree.inclusionProof(5, events)).rejects.toMatchObject({ code: 'SP_ERR_AUDIT_LOG_INCONSISTENT' });
      await expect(tree.root(700)).rejects.toMatchObject({ code: 'SP_ERR_AUDIT_LOG_INCONSISTENT' });
      // The newest block is held whole; a proof that needs no older block still answers.
      expect(await tree.inclusionProof(2_400, events)).toEqual(reference.inclusionProof(2_400, events));
    } finally {
      await handle.db.updateTable('audit_events').set({ leaf_hash: original.leaf_hash }).where('log_index', '=', 5).execute();
    }
    // Put back, the block reads as before (a refused block is not kept).
    expect(await tree.inclusionProof(5, events)).toEqual(reference.inclusionProof(5, events));
  });
});
