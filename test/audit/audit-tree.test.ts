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
    const rows = await handle.db.selectFrom('audit_events').select('leaf_hash').orderBy('log_index').execute();
    const reference = new MerkleTree();
    for (const row of rows) reference.append(Buffer.from(row.leaf_hash));
    expect(tree.root(events).equals(reference.root(events))).toBe(true);
  });
});
