import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.js';

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
  private flushing = false;

  constructor(
    private readonly writeBatch: (items: I[]) => Promise<Outcome<O>[]>,
    private readonly maxBatch: number = MAX_BATCH,
  ) {}

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (!this.flushing) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.queue.length > 0) {
        // Let pending I/O callbacks run first: work that arrived during the previous commit
        // (SQLite's commit blocks the event loop while it fsyncs, and its driver is synchronous)
        // joins this batch instead of the next.
        await new Promise((resolve) => setImmediate(resolve));
        const batch = this.queue.splice(0, this.maxBatch);
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
      this.flushing = false;
    }
  }
}

type Work = (tx: Kysely<Database>) => Promise<unknown>;

/** A unit of an optimistic batch threw: the batch is written again, each unit in its own savepoint. */
class UnitFailed extends Error {}

/**
 * Group commit of units of work: concurrent units share the next transaction, so N ingests cost
 * one fsync instead of N, with the same durability — each caller's promise resolves only after
 * the transaction holding its work has committed.
 *
 * A unit that fails (a unique violation, say) is rolled back alone and rejects its caller; the
 * others still commit. Units almost never fail, so a batch is first written without savepoints
 * (three statements per unit saved); only if one of its units throws is that transaction rolled
 * back and the batch written again with each unit in its own savepoint. Units are prepared
 * writes (src/db/prepared-write.ts): they only write rows computed beforehand, so running one
 * twice after a rollback stores it once. If the commit itself fails, every caller in the batch
 * gets the error and none of the batch is stored.
 */
export class GroupCommitter {
  private readonly writer: BatchWriter<Work, unknown>;

  constructor(private readonly db: Kysely<Database>) {
    this.writer = new BatchWriter<Work, unknown>(async (batch) => {
      try {
        return await this.writeTogether(batch);
      } catch (error) {
        if (!(error instanceof UnitFailed)) throw error;
        return this.writeEachInSavepoint(batch);
      }
    });
  }

  run<T>(work: (tx: Kysely<Database>) => Promise<T>): Promise<T> {
    return this.writer.submit(work) as Promise<T>;
  }

  private async writeTogether(batch: Work[]): Promise<Outcome<unknown>[]> {
    return this.db.transaction().execute(async (tx) => {
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
    });
  }

  private async writeEachInSavepoint(batch: Work[]): Promise<Outcome<unknown>[]> {
    const outcomes: Outcome<unknown>[] = [];
    await this.db.transaction().execute(async (tx) => {
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
    });
    return outcomes;
  }
}
