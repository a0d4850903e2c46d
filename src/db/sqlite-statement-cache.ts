import type SQLite from 'better-sqlite3';
import type { SqliteDatabase, SqliteStatement } from 'kysely';

/** Distinct statements the application issues are a few hundred; `in (…)` lists of varying length add some. */
const MAX_STATEMENTS = 500;

/**
 * Kysely's SQLite driver prepares every query afresh; on the ingest path that was more time than
 * running the statements. This hands Kysely prepared statements from a small LRU cache instead.
 * A statement still being iterated (a streamed select) is busy, so a second user gets a fresh one.
 * SQLite re-prepares a cached statement itself if a migration changed the schema under it.
 */
export class SqliteStatementCache implements SqliteDatabase {
  private readonly statements = new Map<string, SQLite.Statement>();

  constructor(private readonly sqlite: SQLite.Database) {}

  prepare(sql: string): SqliteStatement {
    const cached = this.statements.get(sql);
    if (cached && !cached.busy) {
      // Map keeps insertion order: re-inserting marks the statement as most recently used.
      this.statements.delete(sql);
      this.statements.set(sql, cached);
      return cached as SqliteStatement;
    }
    const statement = this.sqlite.prepare(sql);
    if (!cached) {
      this.statements.set(sql, statement);
      if (this.statements.size > MAX_STATEMENTS) this.statements.delete(this.statements.keys().next().value!);
    }
    return statement as SqliteStatement;
  }

  close(): void {
    this.statements.clear();
    this.sqlite.close();
  }
}
