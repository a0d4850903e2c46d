import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, sql, type SqliteDatabase } from 'kysely';
import type pg from 'pg';
import type { SealpostConfig } from '../config/config.schema.js';
import type { Database } from './schema.js';
import { DISCARDED_CONNECTION_MESSAGE } from './database-unavailable.js';
import { SqliteStatementCache } from './sqlite-statement-cache.js';
import { WalFlusher } from './wal-flusher.js';
import { lazyImport } from '../util/lazy-import.js';

/** node-postgres, loaded only by a process on PostgreSQL. */
const loadPg = lazyImport(async () => (await import('pg')).default);

export type Dialect = 'sqlite' | 'postgres';

export interface DatabaseHandle {
  readonly db: Kysely<Database>;
  readonly dialect: Dialect;
  /** SQLite: syncs the write-ahead log off the event loop for the group commit (src/db/wal-flusher.ts). */
  readonly walFlusher?: WalFlusher;
  /** SQLite: the one connection, for the group committer's direct statements (src/db/direct-statement.ts) only. */
  readonly groupCommitConnection?: SqliteDatabase;
  close(): Promise<void>;
}

// int8 (bigint) columns hold millisecond timestamps and counters, all far below 2^53;
// node-postgres returns them as strings unless told otherwise.
const PG_INT8_OID = 20;

export interface OpenDatabaseOptions {
  /** An idle pooled PostgreSQL connection failed (logged; the pool replaces it). */
  readonly onIdleError?: (err: Error) => void;
  /**
   * PostgreSQL: the longest wait for a connection and for each statement, enforced by the client
   * (a frozen server answers nothing, so the server's own `statement_timeout` cannot fire) and by
   * the server; an open transaction left idle is ended after 6 times this. Unset: no timeouts
   * (migrations and one-shot commands, whose statements may legitimately run long).
   */
  readonly timeoutMs?: number;
  /** PostgreSQL: the longest wait for a new connection alone (migrations: an unreachable host fails fast, a long statement does not). */
  readonly connectTimeoutMs?: number;
}

export function openDatabase(database: SealpostConfig['database'], options: OpenDatabaseOptions = {}): DatabaseHandle {
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
    const statements = new SqliteStatementCache(sqlite);
    const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: statements }) });
    return { db, dialect: 'sqlite', walFlusher: WalFlusher.forDatabaseFile(database.file), groupCommitConnection: statements, close: () => db.destroy() };
  }
  // Kysely builds the pool at the first query, so pg is imported then, not by SQLite deployments.
  const pool = async (): Promise<ReturnType<typeof guardedPool>> => guardedPool(await postgresPool(database.url, options), (err) => options.onIdleError?.(err));
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return { db, dialect: 'postgres', close: () => db.destroy() };
}

async function postgresPool(url: string, options: OpenDatabaseOptions): Promise<pg.Pool> {
  const pg = await loadPg();
  const timeoutMs = options.timeoutMs;
  const pool = new pg.Pool({
    connectionString: url,
    max: 10,
    ...(timeoutMs === undefined
      ? options.connectTimeoutMs === undefined
        ? {}
        : { connectionTimeoutMillis: options.connectTimeoutMs }
      : {
          connectionTimeoutMillis: timeoutMs,
          query_timeout: timeoutMs,
          statement_timeout: timeoutMs,
          idle_in_transaction_session_timeout: 6 * timeoutMs,
        }),
    types: {
      getTypeParser: ((oid: number, format?: string) =>
        oid === PG_INT8_OID ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
    },
  });
  // An idle pooled connection can be cut by the server (restart, failover, pg_terminate_backend);
  // node-postgres then emits 'error' on the pool, which would crash the process if unhandled.
  // The pool drops that client and opens a new one on the next query, so noting it is enough.
  pool.on('error', (err) => options.onIdleError?.(err));
  return pool;
}

type PoolClient = pg.PoolClient;

/**
 * The pool as Kysely uses it, made safe for outages:
 * - pg-pool listens for a connection's errors only while it is idle; one checked out but between
 *   statements (inside a transaction) that the server cuts (a PostgreSQL shutdown sends every
 *   backend's client a FATAL) would emit an unhandled 'error' and end the process. Each
 *   connection gets a listener for its whole life; the next statement on it fails instead.
 * - After a client-side query timeout node-postgres hands the connection back with the timed-out
 *   statement still in flight: every later query on it (the transaction's ROLLBACK first) would
 *   queue behind it and wait out its own timeout. Such a connection is refused further queries at
 *   once and destroyed on release, so a request hits the timeout once, not once per statement.
 */
function guardedPool(pool: pg.Pool, onError: (err: Error) => void): { connect(): Promise<PoolClient>; end(): Promise<void> } {
  const wrappers = new WeakMap<PoolClient, PoolClient>();
  const broken = new WeakSet<PoolClient>();
  const wrap = (client: PoolClient): PoolClient => {
    const query = (async (...args: Parameters<PoolClient['query']>) => {
      if (broken.has(client)) throw new Error(DISCARDED_CONNECTION_MESSAGE);
      try {
        return await (client.query as (...a: unknown[]) => Promise<unknown>).apply(client, args);
      } catch (err) {
        if ((err as Error).message === 'Query read timeout') broken.add(client);
        throw err;
      }
    }) as PoolClient['query'];
    const release = (destroy?: boolean | Error): void => {
      const discard = broken.has(client);
      broken.delete(client);
      client.release(discard || destroy);
    };
    return Object.assign(Object.create(client) as PoolClient, { query, release });
  };
  return {
    async connect() {
      const client = await pool.connect();
      let wrapper = wrappers.get(client);
      if (!wrapper) {
        client.on('error', onError);
        wrapper = wrap(client);
        wrappers.set(client, wrapper);
      }
      return wrapper;
    },
    end: () => pool.end(),
  };
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

