import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import type { WindowCounterStore } from '../util/rate-limiter.js';

/**
 * Fixed-window counts in the database, shared by every API process: one upsert per round trip
 * (`insert … on conflict (bucket, window_start) do update set count = count + n returning count`),
 * atomic on PostgreSQL and SQLite alike.
 */
export class RateLimitRepository implements WindowCounterStore {
  constructor(private readonly db: Kysely<Database>) {}

  async add(bucket: string, windowStart: number, amount: number): Promise<number> {
    const row = await this.db
      .insertInto('rate_limit_windows')
      .values({ bucket, window_start: windowStart, count: amount })
      .onConflict((oc) => oc.columns(['bucket', 'window_start']).doUpdateSet({ count: sql<number>`rate_limit_windows.count + excluded.count` }))
      .returning('count')
      .executeTakeFirstOrThrow();
    // PostgreSQL returns bigint as a string.
    return Number(row.count);
  }

  async sweep(before: number): Promise<void> {
    await this.db.deleteFrom('rate_limit_windows').where('window_start', '<', before).execute();
  }
}
