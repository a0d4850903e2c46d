import { sql, type Kysely, type SqliteDatabase } from 'kysely';
import { connectionWithoutFsync } from './commit-without-fsync.js';
import type { DatabaseHandle } from './database.js';
import { withDirectStatements } from './direct-statement.js';
import type { Database } from './schema.js';
import type { WalFlusher } from './wal-flusher.js';

/** Enough to amortise a commit's fsync; small enough that one batch stays a short transaction. */
const MAX_BATCH = 256;

/** What became of one item of a batch. */
export type Outcome<O> = { readonly ok: true; readonly value: O } | { readonly ok: false; readonly error: unknown };

interface Queued<I, O> {
  readonly item: I;
  resolve(value: O): void;
  reject(reason: unknown): void;
}

/**
 * The group-commit mechanism: items that arrive while a batch is being written queue up and are
 * written together in the next one, by one flusher. No timer is involved, so a lone item is
 * written within one event-loop turn; under load one commit (one fsync) covers many.
 * `writeBatch` returns one outcome per item; if it throws, every item of the batch rejects.
 */
export class BatchWriter<I, O> {
  private readonly queue: Queued<I, O>[] = [];
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly writeBatch: (items: I[]) => Promise<Outcome<O>[]>,
    /** Awaited before each batch is taken from the queue: a batch may wait for a better moment to write. */
    private readonly ready: () => Promise<void> = async () => undefined,
  ) {}

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.flushing ??= this.flush();
    });
  }

  /** Resolves once everything submitted so far is written (or failed): before the database closes. */
  async drain(): Promise<void> {
    while (this.flushing) await this.flushing;
  }

  private async flush(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        // Let pending I/O callbacks run first: work that arrived during the previous commit
        // (SQLite's driver is synchronous, so nothing else ran while it wrote) joins this batch
        // instead of the next.
        await new Promise((resolve) => setImmediate(resolve));
        await this.ready();
        const batch = this.queue.splice(0, MAX_BATCH);
        let outcomes: Outcome<O>[];
        try {
          outcomes = await this.writeBatch(batch.map((q) => q.item));
        } catch (error) {
          for (const q of batch) q.reject(error);
          continue;
        }
        batch.forEach((q, i) => {
          const outcome = outcomes[i]!;
          if (outcome.ok) q.resolve(outcome.value);
          else q.reject(outcome.error);
        });
      }
    } finally {
      this.flushing = undefined;
    }
  }
}

type Work = (tx: Kysely<Database>) => Promise<unknown>;

/** A unit of an optimistic batch threw: the batch is written again, each unit in its own savepoint. */
class UnitFailed extends Error {}

/** A unit's value and the number of the commit that stored it (for the WAL flusher). */
interface Committed {
  readonly value: unknown;
  readonly commit: number;
}

/**
 * Group commit of units of work: concurrent units share the next transaction, so N ingests cost
 * one fsync instead of N, with the same durability — each caller's promise resolves only after
 * the transaction holding its work is on disk.
 *
 * A unit that fails (a unique violation, say) is rolled back alone and rejects its caller; the
 * others still commit. Units almost never fail, so a batch is first written without savepoints
 * (two statements per unit saved); only if one of its units throws is that transaction rolled
 * back and the batch written again with each unit in its own savepoint. Units are prepared
 * writes (src/db/prepared-write.ts): they only write rows computed beforehand, so running one
 * twice after a rollback stores it once. If the commit itself fails, every caller in the batch
 * gets the error and none of the batch is stored.
 *
 * On SQLite (given a {@link WalFlusher}) a batch commits without its own fsync and its callers
 * wait for the flusher's sync of the write-ahead log, which runs off the event loop while the
 * next batch gathers; that batch is committed when the sync ends (the classic group commit: one
 * commit and one sync for all that arrived during the previous sync).
 */
export class GroupCommitter {
  private readonly writer: BatchWriter<Work, Committed>;
  /** Units named by a durable key whose commit is not yet known to be on disk: the commit's number, or 0 if the unit failed. */
  private readonly undurable = new Map<string, Promise<number>>();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly flusher?: WalFlusher,
    /** SQLite's connection, on which the units' hot statements run directly (src/db/direct-statement.ts). */
    private readonly directConnection?: SqliteDatabase,
  ) {
    this.writer = new BatchWriter<Work, Committed>(
      async (batch) => {
        try {
          return await this.transaction((tx) => this.writeTogether(tx, batch));
        } catch (error) {
          if (!(error instanceof UnitFailed)) throw error;
          return this.transaction((tx) => this.writeEachInSavepoint(tx, batch));
        }
      },
      // While the WAL syncs, what arrives joins one batch committed when the sync ends, just
      // before the next sync: its callers are answered after that sync either way.
      flusher && (() => flusher.idle()),
    );
  }

  /** The committer of a database as the application opens it: on SQLite with the WAL flusher and direct statements. */
  static forDatabase(database: DatabaseHandle): GroupCommitter {
    return new GroupCommitter(database.db, database.walFlusher, database.groupCommitConnection);
  }

  /**
   * Runs `work` in the next batch and resolves once it is committed and on disk. `durableKey`
   * names what the unit writes (an ingest: its payload id) for {@link durableFor}: until the
   * unit's commit is on disk, a reader that acts on those rows asks for it by that name.
   */
  async run<T>(work: (tx: Kysely<Database>) => Promise<T>, durableKey?: string): Promise<T> {
    const submitted = this.writer.submit(work);
    const flusher = this.flusher;
    if (!flusher) return (await submitted).value as T;
    // Registered before the batch can commit, so no reader can see the rows without finding it.
    let entry: Promise<number> | undefined;
    if (durableKey !== undefined) {
      entry = submitted.then(({ commit }) => commit, () => 0);
      this.undurable.set(durableKey, entry);
    }
    try {
      const { value, commit } = await submitted;
      // A failed sync is remembered by the flusher (unsureUpTo), so the entry can go either way.
      await flusher.durable(commit);
      return value as T;
    } finally {
      if (durableKey !== undefined && this.undurable.get(durableKey) === entry) this.undurable.delete(durableKey);
    }
  }

  /**
   * Resolves once the units named `keys` (see {@link run}) are on disk, waiting for no other
   * batch: a reader that saw their rows in a batch still syncing waits for that sync only, one
   * that saw rows already on disk (or named by no unit) does not wait. After a failed sync it
   * waits for a later sync to succeed, whatever the keys.
   */
  async durableFor(keys: Iterable<string>): Promise<void> {
    const flusher = this.flusher;
    if (!flusher) return;
    let upTo = flusher.unsureUpTo;
    for (const key of keys) {
      const entry = this.undurable.get(key);
      if (entry) upTo = Math.max(upTo, await entry);
    }
    await flusher.durable(upTo);
  }

  /**
   * Resolves once every unit submitted so far is committed (or failed) and on disk. The database
   * closes only after this: a unit waiting for the running sync (an API call's audit event, say)
   * would otherwise find the database gone.
   */
  async drain(): Promise<void> {
    await this.writer.drain();
    await this.flusher?.durable().catch(() => undefined);
  }


  private async transaction(batchWrite: (tx: Kysely<Database>) => Promise<Outcome<unknown>[]>): Promise<Outcome<Committed>[]> {
    const connection = this.directConnection;
    const write = connection ? (tx: Kysely<Database>) => withDirectStatements(tx, connection, () => batchWrite(tx)) : batchWrite;
    const flusher = this.flusher;
    if (!flusher) return (await this.db.transaction().execute(write)).map((o) => (o.ok ? { ok: true, value: { value: o.value, commit: 0 } } : o));
    const outcomes = await connectionWithoutFsync(this.db, (conn) => conn.transaction().execute(write));
    const commit = flusher.committedNow();
    return outcomes.map((o) => (o.ok ? { ok: true, value: { value: o.value, commit } } : o));
  }

  private async writeTogether(tx: Kysely<Database>, batch: Work[]): Promise<Outcome<unknown>[]> {
    const outcomes: Outcome<unknown>[] = [];
    for (const work of batch) {
      try {
        outcomes.push({ ok: true, value: await work(tx) });
      } catch {
        // On PostgreSQL the failed statement has aborted the transaction: start over.
        throw new UnitFailed();
      }
    }
    return outcomes;
  }

  private async writeEachInSavepoint(tx: Kysely<Database>, batch: Work[]): Promise<Outcome<unknown>[]> {
    const outcomes: Outcome<unknown>[] = [];
    for (const work of batch) {
      await sql`savepoint group_commit_unit`.execute(tx);
      try {
        const value = await work(tx);
        await sql`release savepoint group_commit_unit`.execute(tx);
        outcomes.push({ ok: true, value });
      } catch (error) {
        await sql`rollback to savepoint group_commit_unit`.execute(tx);
        await sql`release savepoint group_commit_unit`.execute(tx);
        outcomes.push({ ok: false, error });
      }
    }
    return outcomes;
  }
}
