import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { MIGRATION_NAMES, migrateToLatest } from '../../src/db/migrator.js';
import { createTestDatabase, testDialects, type TestDatabase } from '../support/test-database.js';

describe.each(testDialects())('migrations on %s', (dialect) => {
  let testDb: TestDatabase | undefined;
  afterEach(async () => {
    await testDb?.dispose();
  });

  it('migrate an empty database to the latest schema, and are idempotent', async () => {
    testDb = await createTestDatabase(dialect);
    const handle = testDb.open();
    expect(await migrateToLatest(handle.db, handle.dialect)).toEqual(MIGRATION_NAMES);
    expect(await migrateToLatest(handle.db, handle.dialect)).toEqual([]);
    const tables = (await handle.db.introspection.getTables()).map((t) => t.name);
    expect(tables).toEqual(expect.arrayContaining(['data_keys']));
    const now = Date.now();
    await handle.db.insertInto('data_keys').values({ id: 'dek_x', provider: 'local', kek_ref: 'local:v1', wrapped: Buffer.from([0, 255]), created_at: now }).execute();
    const row = await handle.db.selectFrom('data_keys').selectAll().executeTakeFirstOrThrow();
    // Binary and millisecond values survive both drivers unchanged.
    expect(row.created_at).toBe(now);
    expect(Buffer.from(row.wrapped)).toEqual(Buffer.from([0, 255]));
  });

  // SQLite connections in one thread would block each other synchronously; its multi-process
  // case is covered by the CLI test, which runs `sealpost migrate` in parallel processes.
  it.runIf(dialect === 'postgres')('apply each migration once when several connections migrate together', async () => {
    testDb = await createTestDatabase(dialect);
    const handles = [testDb.open(), testDb.open(), testDb.open()];
    const results = await Promise.all(handles.map((h) => migrateToLatest(h.db, h.dialect)));
    expect(results.flat().sort()).toEqual([...MIGRATION_NAMES].sort());
    const count = await sql<{ n: number }>`select count(*) as n from schema_migrations`.execute(handles[0]!.db);
    expect(Number(count.rows[0]?.n)).toBe(MIGRATION_NAMES.length);
  });
});
