import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Dialect } from '../db/database.js';
import type { Database } from '../db/schema.js';
import type { AuditEventRepository } from './audit-event.repository.js';
import type { AuditEvent } from './audit-event.js';
import type { AuditLog } from './audit-log.js';
import { auditRowProblem } from './audit-row.js';

/** Audit events keep their content this long unless configured otherwise (issue #6). */
export const DEFAULT_RETENTION_MONTHS = 12;
/** Candidate rows read and checked per query. */
const PURGE_BATCH = 1_000;

export interface PurgeResult {
  /** Events older than this instant lost their content. */
  readonly before: string;
  readonly purged: number;
  /** Index of the `retention.purged` event recording this run. */
  readonly index: number;
  /**
   * Indexes that looked old enough but were left alone because the row does not match its
   * leaf (a stored column was edited): only the time under the leaf hash decides a purge.
   */
  readonly refused: readonly number[];
}

/** `now` minus whole calendar months, in UTC (the 31st of a short month rolls into the next). */
export function monthsBefore(now: number, months: number): number {
  const d = new Date(now);
  d.setUTCMonth(d.getUTCMonth() - months);
  return d.getTime();
}

/**
 * Digest of what a purge keeps of each row it clears, in index order: the `purged_rows_sha256`
 * of its `retention.purged` event, so `sealpost audit verify` can check the tenant and time
 * columns of purged rows against a record under the leaf hash.
 */
export class PurgedRowsDigest {
  private readonly hash = createHash('sha256');
  count = 0;

  add(row: { index: number; tenantId: string | null; occurredAt: number }): void {
    this.hash.update(`${row.index} ${row.tenantId ?? '-'} ${row.occurredAt}\n`);
    this.count += 1;
  }

  hex(): string {
    return this.hash.copy().digest('hex');
  }
}

/**
 * The daily retention job: clears the content of audit events older than the retention period
 * and keeps their index, tenant, time, leaf hash and chain hash, so the tree, every checkpoint
 * and every proof stay valid. The purge is itself an audit event, in the same transaction,
 * recording the index range, the cutoff and a digest of the rows it cleared.
 *
 * What is old is decided by the time inside each event, checked against its leaf hash, never
 * by the `occurred_at` copy alone (a back-dated copy must not purge a fresh event). Purge
 * records themselves are never purged: they are what makes the purged rows verifiable.
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
      const digest = new PurgedRowsDigest();
      const refused: number[] = [];
      let first: number | null = null;
      let last: number | null = null;
      for (let after = -1; ; ) {
        const rows = await this.events.contentBefore(tx, before, after, PURGE_BATCH);
        const indexes: number[] = [];
        for (const row of rows) {
          after = row.index;
          if (auditRowProblem(row) !== undefined) {
            refused.push(row.index);
            continue;
          }
          const event = JSON.parse(row.event as string) as AuditEvent;
          if (event.action === 'retention.purged' || Date.parse(event.time) >= before) continue;
          indexes.push(row.index);
          digest.add(row);
          first ??= row.index;
          last = row.index;
        }
        await this.events.purgeContent(tx, indexes, now);
        if (rows.length < PURGE_BATCH) break;
      }
      const appended = await this.log.append(tx, {
        time: new Date(now).toISOString(),
        tenant: null,
        actor: { type: 'system', id: 'retention' },
        action: 'retention.purged',
        details: {
          before: new Date(before).toISOString(),
          months,
          purged: digest.count,
          first_index: first,
          last_index: last,
          purged_rows_sha256: digest.hex(),
        },
      });
      return { before: new Date(before).toISOString(), purged: digest.count, index: appended.index, refused };
    });
  }
}
