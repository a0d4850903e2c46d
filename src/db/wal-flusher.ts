import { open } from 'node:fs/promises';

/**
 * Makes SQLite commits durable off the event loop. better-sqlite3 is synchronous: a commit under
 * synchronous=FULL fsyncs the write-ahead log on the event loop, and every request of the
 * process waits (about 1.5–2 ms a commit on this project's machines). Instead, a group-commit
 * batch commits under synchronous=NORMAL — its frames are written to the WAL file before the
 * commit returns, only not synced — and then this flusher fdatasyncs the WAL file in libuv's
 * thread pool while the event loop goes on; the batch's callers are answered only once that
 * sync has completed. That is the durability of synchronous=FULL (which syncs the same file at
 * each commit), with the fsync overlapping the next batch's work instead of stopping it.
 *
 * Each sync covers every commit made before it started (the WAL is written in order), so one
 * sync in flight serves all who wait on it, and those who committed after it started wait for
 * the next one. Readers of the same database can see a commit before it is synced; whatever
 * acts outside on what it read (a delivery sent, an idempotent answer replayed) first awaits the
 * sync of the commit that stored its payload (GroupCommitter.durableFor). If a sync fails (an
 * I/O error of the disk), its waiters get the error although their rows are committed: a client
 * that retries may then store a payload twice, unless it sent an Idempotency-Key (the retry
 * replays), and the worker sends nothing until a later sync succeeds.
 */
export class WalFlusher {
  private committed = 0;
  private synced = 0;
  /** The last commit a failed sync should have covered. */
  private failed = 0;
  private running: { readonly upTo: number; readonly done: Promise<void> } | undefined;

  constructor(private readonly datasync: () => Promise<void>) {}

  /** For the file of a SQLite database in WAL mode. */
  static forDatabaseFile(file: string): WalFlusher {
    return new WalFlusher(async () => {
      // Opened for each sync: the WAL file is the same inode while the database is open, and a
      // short-lived descriptor cannot outlive a WAL that SQLite removes at its last close.
      let handle;
      try {
        handle = await open(`${file}-wal`, 'r');
      } catch (err) {
        // No WAL file: SQLite removes it only at the last connection's close, after checkpointing
        // every frame into the database file and syncing that file (a shutdown raced this sync).
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw err;
      }
      try {
        await handle.datasync();
      } finally {
        await handle.close();
      }
    });
  }

  /** Notes a commit made without its own fsync; returns its number for {@link durable}. */
  committedNow(): number {
    return ++this.committed;
  }

  /**
   * The last commit that a failed sync should have made durable, while no later sync has
   * succeeded (else 0): commits up to it are on disk only once {@link durable} says so.
   */
  get unsureUpTo(): number {
    return this.failed > this.synced ? this.failed : 0;
  }

  /**
   * Resolves once no sync is running (whether it succeeded or not). A group committer waits for
   * this before its next commit: what arrives while the disk syncs would wait for the next sync
   * anyway, and committing it as one batch then costs one commit instead of several.
   */
  async idle(): Promise<void> {
    while (this.running) await this.running.done.catch(() => undefined);
  }

  /** Resolves once commit `upTo` (by default, every commit so far) is on disk; rejects if the sync that should cover it fails. */
  async durable(upTo: number = this.committed): Promise<void> {
    while (this.synced < upTo) {
      const running = this.running ?? this.start();
      if (running.upTo >= upTo) {
        await running.done;
      } else {
        // Started before commit `upTo`: it does not cover it. Wait it out; the next one will.
        await running.done.catch(() => undefined);
      }
    }
  }

  private start(): { upTo: number; done: Promise<void> } {
    const upTo = this.committed;
    const running: { upTo: number; done: Promise<void> } = {
      upTo,
      done: this.datasync().then(
        () => {
          this.synced = Math.max(this.synced, upTo);
          this.finished(running);
        },
        (err: unknown) => {
          this.failed = Math.max(this.failed, upTo);
          this.finished(running);
          throw err;
        },
      ),
    };
    this.running = running;
    // Whoever waits sees a failure; unawaited, it must not be an unhandled rejection.
    running.done.catch(() => undefined);
    return running;
  }

  private finished(running: { upTo: number; done: Promise<void> }): void {
    if (this.running === running) this.running = undefined;
  }
}
