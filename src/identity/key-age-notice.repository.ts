import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import { isUniqueViolation } from '../db/unique-violation.js';

/** Which tenants had this month's notice about old API keys. */
export class KeyAgeNoticeRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** Claims the notice of `month` for a tenant; false if another process (or an earlier run) has it. */
  async claim(tenantId: string, month: string, at: number): Promise<boolean> {
    try {
      await this.db.insertInto('key_age_notices').values({ tenant_id: tenantId, month, sent_at: at }).execute();
      return true;
    } catch (err) {
      if (isUniqueViolation(err)) return false;
      throw err;
    }
  }
}
