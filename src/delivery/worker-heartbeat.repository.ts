import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

/** What releasing dead workers' leases found. */
export interface DeadWorkers {
  readonly workers: string[];
  /** Deliveries whose leases were ended, now claimable by any worker. */
  readonly deliveries: number;
}

/**
 * Delivery workers' signs of life (`worker_heartbeats`, migration 0014). A worker that stops
 * beating is dead: its leases are ended at once instead of when they expire (the destination's
 * timeout plus 30 s), so its deliveries do not hold their destination's `max_concurrency`.
 */
export class WorkerHeartbeatRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async beat(workerId: string, now: number): Promise<void> {
    await this.db
      .insertInto('worker_heartbeats')
      .values({ worker_id: workerId, started_at: now, heartbeat_at: now })
      .onConflict((oc) => oc.column('worker_id').doUpdateSet({ heartbeat_at: now }))
      .execute();
  }

  /** A worker that stops cleanly has finished its deliveries and says goodbye. */
  async remove(workerId: string): Promise<void> {
    await this.db.deleteFrom('worker_heartbeats').where('worker_id', '=', workerId).execute();
  }

  /**
   * Ends the leases of every worker whose last heartbeat is older than `deadBefore` (the lease is
   * made to have just expired, so the next claim records the dead worker's attempt as lost, as
   * for any expired lease), and forgets those workers.
   */
  async releaseDead(now: number, deadBefore: number): Promise<DeadWorkers> {
    return this.db.transaction().execute(async (tx) => {
      const dead = (await tx.selectFrom('worker_heartbeats').select('worker_id').where('heartbeat_at', '<', deadBefore).execute()).map((r) => r.worker_id);
      if (dead.length === 0) return { workers: [], deliveries: 0 };
      const released = await tx
        .updateTable('deliveries')
        .set({ lease_expires_at: now - 1 })
        .where('lease_owner', 'in', dead)
        .where('status', '=', 'pending')
        .where('lease_expires_at', '>=', now)
        .executeTakeFirst();
      // Only rows still stale: a worker that beat meanwhile is alive after all and keeps its row.
      await tx.deleteFrom('worker_heartbeats').where('worker_id', 'in', dead).where('heartbeat_at', '<', deadBefore).execute();
      return { workers: dead, deliveries: Number(released.numUpdatedRows) };
    });
  }
}
