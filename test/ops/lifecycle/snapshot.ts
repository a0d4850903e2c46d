import { cpSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { sql } from 'kysely';
import type { DatabaseHandle } from '../../../src/db/database.js';
import { createTestDatabase, type TestDatabase } from '../../support/test-database.js';

/**
 * What a backup holds: a consistent copy of the database (SQLite: the online backup API;
 * PostgreSQL: every table's rows copied into a fresh database, as a logical dump would) and a
 * copy of the blob directory. Never the keyring: key material travels separately.
 */
export interface Snapshot {
  readonly database: TestDatabase;
  readonly blobsDir: string;
  dispose(): Promise<void>;
}

export async function takeSnapshot(source: { testDb: TestDatabase; handle: DatabaseHandle; dataDir: string }): Promise<Snapshot> {
  const copy = await createTestDatabase(source.testDb.config.dialect);
  if (source.testDb.config.dialect === 'sqlite' && copy.config.dialect === 'sqlite') {
    const live = new BetterSqlite3(source.testDb.config.file, { readonly: true });
    try {
      await live.backup(copy.config.file);
    } finally {
      live.close();
    }
  } else {
    const target = await copy.openMigrated();
    const tables = await sql<{ tablename: string }>`select tablename from pg_tables where schemaname = 'public' and tablename <> 'schema_migrations'`.execute(source.handle.db);
    // One transaction of the source for a consistent view; the target skips foreign-key checks while rows arrive in any order.
    await source.handle.db.transaction().execute(async (from) => {
      await sql`set transaction isolation level repeatable read`.execute(from);
      await target.db.connection().execute(async (to) => {
        await sql`set session_replication_role = replica`.execute(to);
        for (const { tablename } of tables.rows) {
          const rows = await sql<Record<string, unknown>>`select * from ${sql.table(tablename)}`.execute(from);
          await sql`delete from ${sql.table(tablename)}`.execute(to);
          for (const row of rows.rows) {
            const columns = Object.keys(row);
            await sql`insert into ${sql.table(tablename)} (${sql.join(columns.map((c) => sql.ref(c)))}) values (${sql.join(columns.map((c) => row[c]))})`.execute(to);
          }
        }
        await sql`set session_replication_role = origin`.execute(to);
      });
    });
    await target.close();
  }
  const blobsDir = path.join(copy.dir, 'blobs-snapshot');
  mkdirSync(blobsDir, { recursive: true });
  cpSync(path.join(source.dataDir, 'blobs'), blobsDir, { recursive: true });
  return { database: copy, blobsDir, dispose: () => copy.dispose() };
}
