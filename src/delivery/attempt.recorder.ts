import type { AttemptRepository, AttemptResultInput, CompletionResult } from './attempt.repository.js';

/** Most attempts written in one transaction; bounds the transaction's size and lock time. */
const MAX_BATCH = 256;
/** Recording an attempt is tried this many times before its lease is left to expire. */
const RECORD_TRIES = 3;

interface Queued {
  readonly input: AttemptResultInput;
  resolve(result: CompletionResult): void;
  reject(error: unknown): void;
}

/**
 * Group commit for finished attempts: while one transaction is being written, attempts that
 * finish meanwhile queue up and go into the next one together. No timer is involved, so a lone
 * attempt is written within one event-loop turn; under load one commit (one fsync) covers many.
 */
export class AttemptRecorder {
  private readonly queue: Queued[] = [];
  private flushing = false;

  constructor(private readonly attempts: AttemptRepository) {}

  record(input: AttemptResultInput): Promise<CompletionResult> {
    return new Promise((resolve, reject) => {
      this.queue.push({ input, resolve, reject });
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.queue.length > 0) {
        // One turn of the event loop first: sends whose answers already arrived finish and join
        // this batch. (SQLite's driver is synchronous, so without it no batch would ever form.)
        await new Promise<void>((resolve) => setImmediate(resolve));
        const batch = this.queue.splice(0, MAX_BATCH);
        try {
          const results = await this.attempts.completeMany(batch.map((q) => q.input));
          batch.forEach((q, i) => q.resolve(results[i]!));
        } catch {
          // One bad item (a hook that throws) must not sink the others: write each on its own.
          for (const q of batch) await this.recordAlone(q);
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  private async recordAlone(q: Queued): Promise<void> {
    for (let tries = 1; ; tries++) {
      try {
        return q.resolve(await this.attempts.complete(q.input));
      } catch (err) {
        if (tries >= RECORD_TRIES) return q.reject(err);
        await new Promise((resolve) => setTimeout(resolve, 100 * tries));
      }
    }
  }
}
