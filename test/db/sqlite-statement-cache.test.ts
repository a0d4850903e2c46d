import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteStatementCache } from '../../src/db/sqlite-statement-cache.js';

interface Schema {
  items: { id: number; name: string };
}

describe('SQLite statement cache', () => {
  let dir: string;
  let sqlite: SQLite.Database;
  let cache: SqliteStatementCache;
  let db: Kysely<Schema>;

  beforeEach(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'sealpost-stmt-'));
    sqlite = new SQLite(path.join(dir, 'test.db'));
    cache = new SqliteStatementCache(sqlite);
    db = new Kysely<Schema>({ dialect: new SqliteDialect({ database: cache }) });
    await sql`create table items (id integer primary key, name text not null)`.execute(db);
  });
  afterEach(async () => {
    await db.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reuses one prepared statement for the same SQL', () => {
    expect(cache.prepare('select 1')).toBe(cache.prepare('select 1'));
    expect(cache.prepare('select 1')).not.toBe(cache.prepare('select 2'));
  });

  it('gives a fresh statement while the cached one is still being iterated', async () => {
    for (let i = 0; i < 5; i++) await db.insertInto('items').values({ id: i, name: `n${i}` }).execute();
    const query = 'select id from items order by id';
    const streaming = cache.prepare(query).iterate([]);
    expect(streaming.next().value).toEqual({ id: 0 });
    // What Kysely's stream() does holds the statement; the same SQL meanwhile must still run.
    expect(cache.prepare(query).all([])).toHaveLength(5);
    expect([...streaming].map((row) => (row as { id: number }).id)).toEqual([1, 2, 3, 4]);
  });

  it('keeps working after the schema changes under a cached statement', async () => {
    await db.insertInto('items').values({ id: 1, name: 'a' }).execute();
    expect(await db.selectFrom('items').selectAll().execute()).toEqual([{ id: 1, name: 'a' }]);
    await sql`alter table items add column note text`.execute(db);
    expect(await db.selectFrom('items').selectAll().execute()).toEqual([{ id: 1, name: 'a', note: null }]);
  });

  it('stays bounded when many distinct statements pass through', () => {
    const first = cache.prepare('select 0');
    for (let i = 1; i <= 600; i++) cache.prepare(`select ${i}`);
    // The least recently used statement was evicted, so the same SQL is prepared anew.
    expect(cache.prepare('select 0')).not.toBe(first);
    expect(cache.prepare('select 600')).toBe(cache.prepare('select 600'));
  });
});
