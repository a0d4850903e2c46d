import { sql, type SqliteDatabase } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatabaseHandle } from '../../src/db/database.js';
import { HotStatement } from '../../src/db/direct-statement.js';
import { GroupCommitter } from '../../src/db/group-commit.js';
import { createTestDatabase, testDialects, type TestDatabase } from '../support/test-database.js';

const insert = new HotStatement('insert into direct_t (id, label, data) values (?, ?, ?)');
const select = new HotStatement<{ id: number; label: string; data: Uint8Array | null }>('select id, label, data from direct_t where id = ?');

describe('HotStatement', () => {
  it('refuses a placeholder inside a string literal, and a wrong number of values', async () => {
    expect(() => new HotStatement("select 1 where 'a?' = ?")).toThrow(/quoted literal/);
    expect(() => new HotStatement("insert into t values ('x', ?), ('y', ?)")).not.toThrow();
    await expect(insert.execute({} as never, [1, 'one'])).rejects.toThrow('3 placeholders, 2 values');
  });
});

describe.each(testDialects())('hot statements on %s', (dialect) => {
  let testDb: TestDatabase;
  let handle: DatabaseHandle;

  beforeAll(async () => {
    testDb = await createTestDatabase(dialect);
    handle = await testDb.openMigrated();
    await sql`create table direct_t (id integer primary key, label text not null, data ${sql.raw(dialect === 'sqlite' ? 'blob' : 'bytea')})`.execute(handle.db);
  });
  afterAll(async () => {
    await testDb.dispose();
  });

  /** The database's own connection, counting the statements prepared on it directly. */
  function countingConnection(): { connection: SqliteDatabase | undefined; prepared: string[] } {
    const prepared: string[] = [];
    const real = handle.groupCommitConnection;
    if (!real) return { connection: undefined, prepared };
    const connection: SqliteDatabase = { prepare: (text) => (prepared.push(text), real.prepare(text)), close: () => real.close() };
    return { connection, prepared };
  }

  it('runs in a group commit on the transaction connection, and is rolled back with its unit', async () => {
    const { connection, prepared } = countingConnection();
    const committer = new GroupCommitter(handle.db, undefined, connection);
    const results = await Promise.allSettled([
      committer.run((tx) => insert.execute(tx, [1, 'one', Buffer.from([1, 2])])),
      committer.run(async (tx) => {
        await insert.execute(tx, [2, 'two', null]);
        await insert.execute(tx, [1, 'again', null]); // a primary key taken: the unit fails alone
      }),
      committer.run(async (tx) => {
        await insert.execute(tx, [3, 'three', null]);
        return select.execute(tx, [3]);
      }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[2] as PromiseFulfilledResult<unknown>).value).toEqual([{ id: 3, label: 'three', data: null }]);
    const stored = await handle.db.transaction().execute((tx) => select.execute(tx, [1]));
    expect(stored.map((r) => [r.id, r.label, Buffer.from(r.data!).toString('hex')])).toEqual([[1, 'one', '0102']]);
    expect((await sql<{ id: number }>`select id from direct_t order by id`.execute(handle.db)).rows.map((r) => r.id)).toEqual([1, 3]);
    // SQLite: the statements went to the connection directly (not through Kysely); PostgreSQL has none.
    if (dialect === 'sqlite') expect(prepared.filter((t) => t === insert.text).length).toBeGreaterThanOrEqual(4);
    else expect(connection).toBeUndefined();
  });

  it('goes through Kysely in any other transaction, and commits or rolls back with it', async () => {
    const { connection, prepared } = countingConnection();
    // A committer with the connection is running nothing: other transactions do not use it.
    new GroupCommitter(handle.db, undefined, connection);
    await expect(
      handle.db.transaction().execute(async (tx) => {
        await insert.execute(tx, [10, 'ten', null]);
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    await handle.db.transaction().execute((tx) => insert.execute(tx, [11, 'eleven', null]));
    expect((await sql<{ id: number }>`select id from direct_t where id >= 10`.execute(handle.db)).rows.map((r) => r.id)).toEqual([11]);
    expect(prepared).toEqual([]);
  });
});
