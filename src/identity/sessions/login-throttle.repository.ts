import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';

export interface ThrottleState {
  readonly failures: number;
  readonly blockedUntil: number;
  /** When the last failure was counted. */
  readonly updatedAt: number;
}

/** Failed sign-in counts, shared by every API process through the database. */
export class LoginThrottleRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async find(key: string): Promise<ThrottleState | undefined> {
    const row = await this.db.selectFrom('login_throttle').select(['failures', 'blocked_until', 'updated_at']).where('key', '=', key).executeTakeFirst();
    return row && { failures: row.failures, blockedUntil: row.blocked_until, updatedAt: row.updated_at };
  }

  async save(key: string, state: Omit<ThrottleState, 'updatedAt'>, at: number): Promise<void> {
    const values = { failures: state.failures, blocked_until: state.blockedUntil, updated_at: at };
    await this.db
      .insertInto('login_throttle')
      .values({ key, ...values })
      .onConflict((oc) => oc.column('key').doUpdateSet(values))
      .execute();
  }

  async clear(key: string): Promise<void> {
    await this.db.deleteFrom('login_throttle').where('key', '=', key).execute();
  }
}
