import { BatchWriter, type Outcome } from '../db/group-commit.js';
import type { AttemptRepository, AttemptResultInput, CompletionResult } from './attempt.repository.js';

/** Recording an attempt is tried this many times before its lease is left to expire. */
const RECORD_TRIES = 3;

/**
 * Group commit for finished attempts (the BatchWriter of src/db/group-commit.ts): attempts that
 * finish while one batch is written go into the next one together, in one `completeMany`.
 */
export class AttemptRecorder {
  private readonly writer: BatchWriter<AttemptResultInput, CompletionResult>;

  constructor(private readonly attempts: AttemptRepository) {
    this.writer = new BatchWriter(async (batch) => {
      try {
        const results = await this.attempts.completeMany(batch);
        return results.map((value) => ({ ok: true, value }));
      } catch {
        // One bad item (a hook that throws) must not sink the others: write each on its own.
        const outcomes: Outcome<CompletionResult>[] = [];
        for (const input of batch) outcomes.push(await this.recordAlone(input));
        return outcomes;
      }
    });
  }

  record(input: AttemptResultInput): Promise<CompletionResult> {
    return this.writer.submit(input);
  }

  private async recordAlone(input: AttemptResultInput): Promise<Outcome<CompletionResult>> {
    for (let tries = 1; ; tries++) {
      try {
        return { ok: true, value: await this.attempts.complete(input) };
      } catch (error) {
        if (tries >= RECORD_TRIES) return { ok: false, error };
        await new Promise((resolve) => setTimeout(resolve, 100 * tries));
      }
    }
  }
}
