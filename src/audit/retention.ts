import type { Kysely } from 'kysely';
import type { Dialect } from '../db/database.js';
import type { Database } from '../db/schema.js';
import type { AuditEventRepository } from './audit-event.repository.js';
import type { AuditLog } from './audit-log.js';

/** Audit events keep their content this long unless configured otherwise (issue #6). */
export const DEFAULT_RETENTION_MONTHS = 12;

export interface PurgeResult {
  /** Events older than this instant lost their content. */
  readonly before: string;
  readonly purged: number;
  /** Index of the `retention.purged` event recording this run. */
  readonly index: number;
}

/** `now` minus whole calendar months, in UTC (the 31st of a short month rolls into the next). */
export function monthsBefore(now: number, months: number): number {
  const d = new Date(now);
  d.setUTCMonth(d.getUTCMonth() - months);
  return d.getTime();
}

/**
 * The daily retention job: clears the content of audit events older than the retention period
 * and keeps their index, tenant, time, leaf hash and chain hash, so the tree, every checkpoint
 * and every proof stay valid. The purge is itself an audit event, in the same transaction.
 */
export class AuditRetention {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: Dialect,
    private readonly log: AuditLog,
    private readonly events: AuditEventRepository,
    private readonly now: () => number = Date.now,
  ) {}

  async purgeExpired(options: { months?: number } = {}): Promise<PurgeResult> {
    const months = options.months ?? DEFAULT_RETENTION_MONTHS;
    if (!Number.isInteger(months) || months < 1) throw new RangeError('retention must be a whole number of months, at least 1');
    const now = this.now();
    const before = monthsBefore(now, months);
    return this.db.transaction().execute(async (tx) => {
      // The PostgreSQL trigger lets a purge through only inside this transaction (SET LOCAL).
      if (this.dialect === 'postgres') await this.events.allowRetentionPurge(tx);
      const purged = await this.events.purgeContentBefore(tx, before, now);
      const appended = await this.log.append(tx, {
        time: new Date(now).toISOString(),
        tenant: null,
        actor: { type: 'system', id: 'retention' },
        action: 'retention.purged',
        details: { before: new Date(before).toISOString(), months, purged },
      });
      return { before: new Date(before).toISOString(), purged, index: appended.index };
    });
  }
}
