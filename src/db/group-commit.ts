import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.js';

/** Enough to amortise a commit's fsync; small enough that one batch stays a short transaction. */
const MAX_BATCH = 256;

interface Item {
  work(tx: Kysely<Database>): Promise<unknown>;
  resolve(value: unknown): void;
  reject(reason: unknown): void;
}

/**
 * Group commit: concurrent units of work that arrive while a commit is in progress share the
 * next transaction, so N ingests cost one fsync instead of N, with the same durability — each
 * caller's promise resolves only after the transaction holding its work has committed.
 *
 * Each unit runs inside its own savepoint: a unit that fails (a unique violation, say) is rolled
 * back alone and rejects its caller; the others still commit. If the commit itself fails, every
 * caller in the batch gets the error and none of the batch is stored.
 */
export class GroupCommitter {
  private queue: Item[] = [];
  private flushing = false;

  constructor(private readonly db: Kysely<Database>) {}

  run<T>(work: (tx: Kysely<Database>) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ work, resolve: resolve as (value: unknown) => void, reject });
      if (!this.flushing) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.queue.length > 0) {
        // Let pending I/O callbacks run first: requests that arrived during the previous commit
        // (SQLite's commit blocks the event loop while it fsyncs) join this batch instead of the next.
        await new Promise((resolve) => setImmediate(resolve));
        const batch = this.queue.splice(0, MAX_BATCH);
        const outcomes: ({ ok: true; value: unknown } | { ok: false; error: unknown })[] = [];
        try {
          await this.db.transaction().execute(async (tx) => {
            for (const item of batch) {
              await sql`savepoint group_commit_unit`.execute(tx);
              try {
                const value = await item.work(tx);
                await sql`release savepoint group_commit_unit`.execute(tx);
                outcomes.push({ ok: true, value });
              } catch (error) {
                await sql`rollback to savepoint group_commit_unit`.execute(tx);
                await sql`release savepoint group_commit_unit`.execute(tx);
                outcomes.push({ ok: false, error });
              }
            }
          });
        } catch (error) {
          for (const item of batch) item.reject(error);
          continue;
        }
        batch.forEach((item, i) => {
          const outcome = outcomes[i]!;
          if (outcome.ok) item.resolve(outcome.value);
          else item.reject(outcome.error);
        });
      }
    } finally {
      this.flushing = false;
    }
  }
}
