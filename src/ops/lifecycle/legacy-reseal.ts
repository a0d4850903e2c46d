import type { Kysely } from 'kysely';
import type { AuditActor } from '../../audit/audit-event.js';
import type { AuditRecorder } from '../../audit/audit-recorder.js';
import type { Database } from '../../db/schema.js';
import { LEGACY_SEALED_COLUMNS, type LegacyResealRepository } from './legacy-reseal.repository.js';

/** Rows read per batch; each row is its own short update, so nothing holds the database long. */
const BATCH = 200;

export interface ResealReport {
  readonly examined: number;
  readonly resealed: number;
  readonly byTable: Readonly<Record<string, number>>;
}

/**
 * The sweep behind `sealpost keys reseal-legacy`: moves tenant records written before per-tenant
 * keys (migration 0013) from the deployment's shared data keys to their tenant's own, so an
 * erasure shreds them in backups taken afterwards. Safe to run while Sealpost serves, and to run
 * again (rows already under a tenant key are skipped). Blobs are not re-sealed: attachments and
 * raw e-mail go with their payloads at the tenant's retention.
 */
export class LegacyResealer {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly repository: LegacyResealRepository,
    private readonly audit: AuditRecorder,
  ) {}

  /** Runs the sweep, then records `legacy_data.resealed` with what it did. */
  async run(actor: AuditActor, onProgress: (done: number, total: number) => void = () => {}): Promise<ResealReport> {
    const shared = await this.repository.sharedDataKeyIds();
    let total = 0;
    for (const target of LEGACY_SEALED_COLUMNS) total += await this.repository.count(target);
    let examined = 0;
    let resealed = 0;
    const byTable: Record<string, number> = {};
    for (const target of LEGACY_SEALED_COLUMNS) {
      let after: string | undefined;
      byTable[target.table] = 0;
      for (;;) {
        const batch = await this.repository.resealBatch(target, shared, after, BATCH);
        examined += batch.seen;
        resealed += batch.resealed;
        byTable[target.table] = (byTable[target.table] ?? 0) + batch.resealed;
        onProgress(Math.min(examined, total), total);
        if (batch.last === undefined || batch.seen < BATCH) break;
        after = batch.last;
      }
    }
    await this.db.transaction().execute((tx) =>
      this.audit(tx, { tenant: null, actor, action: 'legacy_data.resealed', details: { examined, resealed, by_table: byTable } }),
    );
    return { examined, resealed, byTable };
  }
}
