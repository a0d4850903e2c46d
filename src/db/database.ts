import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import type { SealpostConfig } from '../config/config.schema.js';
import type { Database } from './schema.js';
import { SqliteStatementCache } from './sqlite-statement-cache.js';

export type Dialect = 'sqlite' | 'postgres';

export interface DatabaseHandle {
  readonly db: Kysely<Database>;
  readonly dialect: Dialect;
  close(): Promise<void>;
}

// int8 (bigint) columns hold millisecond timestamps and counters, all far below 2^53;
// node-postgres returns them as strings unless told otherwise.
const PG_INT8_OID = 20;

export function openDatabase(database: SealpostConfig['database'], onIdleError?: (err: Error) => void): DatabaseHandle {
  if (database.dialect === 'sqlite') {
    mkdirSync(path.dirname(database.file), { recursive: true, mode: 0o700 });
    restrictToOwner(database.file);
    const sqlite = new SQLite(database.file);
    // WAL lets readers run beside the single writer; synchronous=FULL makes every commit
    // durable before we acknowledge a payload (DESIGN §7), at the cost of one fsync per commit.
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = FULL');
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma('busy_timeout = 5000');
    const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: new SqliteStatementCache(sqlite) }) });
    return { db, dialect: 'sqlite', close: () => db.destroy() };
  }
  const pool = new pg.Pool({
    connectionString: database.url,
    max: 10,
    types: {
      getTypeParser: ((oid: number, format?: string) =>
        oid === PG_INT8_OID ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
    },
  });
  // An idle pooled connection can be cut by the server (restart, failover, pg_terminate_backend);
  // node-postgres then emits 'error' on the pool, which would crash the process if unhandled.
  // The pool drops that client and opens a new one on the next query, so noting it is enough.
  pool.on('error', (err) => onIdleError?.(err));
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return { db, dialect: 'postgres', close: () => db.destroy() };
}

/**
 * The database holds sealed records but also hashes, audit events and metadata: readable by the
 * service user only. SQLite creates `-wal` and `-shm` with the database file's mode, so the file
 * is created 0600 before SQLite opens it, and files from before this rule are tightened.
 */
function restrictToOwner(file: string): void {
  closeSync(openSync(file, 'a', 0o600));
  for (const f of [file, `${file}-wal`, `${file}-shm`]) {
    if (existsSync(f)) chmodSync(f, 0o600);
  }
}

/** A cheap round trip, for readiness checks. */
export async function pingDatabase(db: Kysely<Database>): Promise<void> {
  await sql`select 1`.execute(db);
}

