import { sql, type Kysely } from 'kysely';
import type { Dialect } from './database.js';
import type { Database } from './schema.js';

/**
 * Transactions whose commit does not wait for the disk, for writes whose loss in a power
 * failure only makes Sealpost send something again: a delivery's lease and attempt count, an
 * attempt's record and the delivery's next state. Delivery is at least once and receivers
 * de-duplicate by webhook-id, so losing such a commit re-sends, and nothing acknowledged to a
 * sender is lost: every ingest still commits with a full fsync, and that fsync (of the one
 * write-ahead log) makes every earlier commit durable with it. A process crash loses nothing
 * either way: the commit is in the operating system's cache. What it saves is an fsync per
 * claim and per attempt batch — on SQLite each one blocks the event loop (docs/scaling.md).
 *
 * SQLite: synchronous=NORMAL on the connection, held throughout so that no other transaction
 * commits under it, and FULL again afterwards. PostgreSQL: SET LOCAL synchronous_commit = off,
 * which lasts for this transaction only (its loss window is three times wal_writer_delay).
 */
export async function transactionWithoutFsync<T>(db: Kysely<Database>, dialect: Dialect, work: (tx: Kysely<Database>) => Promise<T>): Promise<T> {
  if (dialect === 'postgres') {
    return db.transaction().execute(async (tx) => {
      await sql`set local synchronous_commit = off`.execute(tx);
      return work(tx);
    });
  }
  return connectionWithoutFsync(db, (conn) => conn.transaction().execute(work));
}

/** SQLite only: `work` on the held connection, whose commits skip the fsync (see above). */
export async function connectionWithoutFsync<T>(db: Kysely<Database>, work: (conn: Kysely<Database>) => Promise<T>): Promise<T> {
  return db.connection().execute(async (conn) => {
    await sql`pragma synchronous = normal`.execute(conn);
    try {
      return await work(conn);
    } finally {
      await sql`pragma synchronous = full`.execute(conn);
    }
  });
}
