import { sql, type Kysely } from 'kysely';

/**
 * Indexes for the worker's claim, so its cost follows the work it can hand out rather than the
 * backlog: `deliveries_leased` holds only deliveries with a lease owner (in flight or orphaned),
 * which the claim counts per destination; `deliveries_destination_due` gives one destination's
 * oldest due deliveries without reading the rest. Before, a destination at its concurrency limit
 * with a large backlog made every claim read that whole backlog.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create index deliveries_leased on deliveries (destination_id, lease_expires_at) where lease_owner is not null`.execute(db);
  await sql`create index deliveries_destination_due on deliveries (destination_id, status, next_attempt_at)`.execute(db);
}
