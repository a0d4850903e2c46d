import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

export interface DatabaseLockOptions {
  /** Who holds it, for the row (host:pid…); any unique string. */
  readonly holder: string;
  /** The lease: a holder that dies is replaced once it is over. Longer than the work it guards. */
  readonly ttlMs: number;
  /** How long to keep trying while another holder has it; 0 gives up at once. */
  readonly waitMs?: number;
  readonly now?: () => number;
}

/** How often a waiting process tries again. */
const RETRY_MS = 100;

/**
 * Runs `work` while holding the named lock, shared by every process on the database (SQLite and
 * PostgreSQL alike): a row in `database_locks` taken by a conditional upsert, held as a lease, so
 * it needs no open transaction and a holder that dies frees it once `ttlMs` is over. Resolves
 * `{ acquired: false }` if another holder kept it for `waitMs`. For rare, short work (key
 * rotations), not for hot paths.
 */
export async function withDatabaseLock<T>(
  db: Kysely<Database>,
  name: string,
  options: DatabaseLockOptions,
  work: () => Promise<T>,
): Promise<{ acquired: true; value: T } | { acquired: false }> {
  const now = options.now ?? Date.now;
  const deadline = now() + (options.waitMs ?? 0);
  for (;;) {
    const at = now();
    const taken = await db
      .insertInto('database_locks')
      .values({ name, holder: options.holder, expires_at: at + options.ttlMs })
      .onConflict((oc) =>
        oc
          .column('name')
          .doUpdateSet({ holder: options.holder, expires_at: at + options.ttlMs })
          .where('database_locks.expires_at', '<', at),
      )
      .executeTakeFirst();
    if (Number(taken.numInsertedOrUpdatedRows ?? 0n) > 0) break;
    if (now() >= deadline) return { acquired: false };
    await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
  }
  try {
    return { acquired: true, value: await work() };
  } finally {
    await db.deleteFrom('database_locks').where('name', '=', name).where('holder', '=', options.holder).execute();
  }
}
