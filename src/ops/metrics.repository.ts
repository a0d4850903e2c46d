import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

export interface DestinationQueue {
  readonly destinationId: string;
  readonly pending: number;
  /** Earliest `next_attempt_at` of its pending deliveries (ms). */
  readonly earliestDue: number;
}

/**
 * The operator's aggregates behind the metrics: counts and ages across tenants, never a row's
 * content. Only the metrics listener (an operator endpoint) reads them.
 */
export class MetricsRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async queues(): Promise<DestinationQueue[]> {
    const rows = await this.db
      .selectFrom('deliveries')
      .select((eb) => ['destination_id', eb.fn.countAll<string | number>().as('pending'), eb.fn.min('next_attempt_at').as('earliest_due')])
      .where('status', '=', 'pending')
      .groupBy('destination_id')
      .execute();
    return rows.map((r) => ({ destinationId: r.destination_id, pending: Number(r.pending), earliestDue: Number(r.earliest_due) }));
  }

  /** When the oldest key still signing for some tenant became active (ms), if any. */
  async oldestActiveSigningKey(): Promise<number | undefined> {
    const row = await this.db.selectFrom('signing_keys').select((eb) => eb.fn.min('activated_at').as('oldest')).where('state', '=', 'active').executeTakeFirst();
    return row?.oldest === null || row?.oldest === undefined ? undefined : Number(row.oldest);
  }

  /** When the newest audit checkpoint was signed (ms), if any. */
  async latestCheckpoint(): Promise<number | undefined> {
    const row = await this.db.selectFrom('audit_checkpoints').select((eb) => eb.fn.max('created_at').as('latest')).executeTakeFirst();
    return row?.latest === null || row?.latest === undefined ? undefined : Number(row.latest);
  }

  /** When the newest snapshot still kept was taken (ms), if any. */
  async latestBackup(): Promise<number | undefined> {
    const row = await this.db.selectFrom('backup_snapshots').select((eb) => eb.fn.max('created_at').as('latest')).where('pruned_at', 'is', null).executeTakeFirst();
    return row?.latest === null || row?.latest === undefined ? undefined : Number(row.latest);
  }

  /** When the newest restore drill that passed started (ms), and its RTO, if any. */
  async latestPassedDrill(): Promise<{ startedAt: number; rtoMs: number } | undefined> {
    const row = await this.db.selectFrom('backup_drills').select(['started_at', 'rto_ms']).where('passed', '=', 1).orderBy('started_at', 'desc').limit(1).executeTakeFirst();
    return row && { startedAt: Number(row.started_at), rtoMs: Number(row.rto_ms) };
  }
}
