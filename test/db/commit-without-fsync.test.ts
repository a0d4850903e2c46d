import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { transactionWithoutFsync } from '../../src/db/commit-without-fsync.js';
import type { DatabaseHandle } from '../../src/db/database.js';
import { createTestDatabase, testDialects, type TestDatabase } from '../support/test-database.js';

describe.each(testDialects())('commits without fsync on %s', (dialect) => {
  let testDb: TestDatabase;
  let handle: DatabaseHandle;

  beforeAll(async () => {
    testDb = await createTestDatabase(dialect);
    handle = await testDb.openMigrated();
    if (dialect === 'postgres') {
      // The throw-away test cluster runs with synchronous_commit off for speed; this database
      // gets production's default, for connections opened from here on.
      const name = (await sql<{ db: string }>`select current_database() as db`.execute(handle.db)).rows[0]!.db;
      await sql`alter database ${sql.id(name)} set synchronous_commit = on`.execute(handle.db);
      await handle.close();
      handle = await testDb.openMigrated();
    }
  });
  afterAll(async () => {
    await testDb.dispose();
  });

  // SQLite: 2 is FULL, 1 NORMAL. PostgreSQL: on / off.
  const durability = async (db: DatabaseHandle['db']): Promise<string> => {
    if (dialect === 'sqlite') return String((await sql<{ synchronous: number }>`pragma synchronous`.execute(db)).rows[0]?.synchronous);
    return (await sql<{ synchronous_commit: string }>`show synchronous_commit`.execute(db)).rows[0]!.synchronous_commit;
  };
  const [relaxed, full] = dialect === 'sqlite' ? ['1', '2'] : ['off', 'on'];

  it('relaxes the commit inside its transaction only, and stores what it wrote', async () => {
    const inside = await transactionWithoutFsync(handle.db, dialect, async (tx) => {
      await tx.insertInto('tenants').values({ id: 'ten_relaxed', name: 'r', plan: 'operation', created_at: 1, erased_at: null, erasure_token_sha256: null, erasure_requested_by: null, erasure_expires_at: null }).execute();
      return durability(tx);
    });
    expect(inside).toBe(relaxed);
    expect(await durability(handle.db)).toBe(full);
    expect(await handle.db.selectFrom('tenants').select('id').where('id', '=', 'ten_relaxed').execute()).toHaveLength(1);
  });

  it('restores full durability after a transaction that fails, and keeps none of its writes', async () => {
    await expect(
      transactionWithoutFsync(handle.db, dialect, async (tx) => {
        await tx.insertInto('tenants').values({ id: 'ten_failed', name: 'f', plan: 'operation', created_at: 1, erased_at: null, erasure_token_sha256: null, erasure_requested_by: null, erasure_expires_at: null }).execute();
        throw new Error('unit failed');
      }),
    ).rejects.toThrow('unit failed');
    expect(await durability(handle.db)).toBe(full);
    expect(await handle.db.selectFrom('tenants').select('id').where('id', '=', 'ten_failed').execute()).toHaveLength(0);
  });

  it('leaves an ordinary transaction fully durable', async () => {
    expect(await handle.db.transaction().execute((tx) => durability(tx))).toBe(full);
  });
});
