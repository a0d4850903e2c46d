import type { AuditRecorder } from '../../audit/audit-recorder.js';
import { isSealpostError } from '../../errors/sealpost-error.js';
import { rawMessageBlobKey, rawMessageRefOf } from '../../ingest/smtp/raw-message.js';
import type { Logger } from '../../logging/logger.js';
import type { EncryptedBlobStore } from '../../storage/encrypted-blob-store.js';
import { startPeriodicJob, type PeriodicJob } from '../../util/periodic-job.js';
import type { PayloadRetentionRepository, PurgedCounts } from './payload-retention.repository.js';

const DAY_MS = 86_400_000;
/** Payloads per transaction: bounds how long one sweep step holds the database (SQLite has one writer). */
export const RETENTION_BATCH = 500;
/** How often the sweep runs: retention is in days, so an hour late is within its promise. */
export const PAYLOAD_RETENTION_INTERVAL_MS = 3_600_000;

export interface TenantPurge extends PurgedCounts {
  readonly tenant: string;
  readonly before: number;
}

/** Reads an envelope for its raw e-mail reference (the reference exists only inside the sealed envelope). */
export type EnvelopeReader = (tenantId: string, payloadId: string) => Promise<Buffer | undefined>;

/**
 * Per-tenant payload retention: payloads received more than `retention_days` ago are deleted
 * with their attachments (blobs and rows), raw e-mail, idempotency records, deliveries and
 * attempts, in batches of RETENTION_BATCH, each its own short transaction with its
 * `payload.purged` audit event. An erased tenant
 * keeps nothing: its rows (already unreadable) are swept out the same way. Receipts and the audit
 * log stay: they hold only hashes and ids, so every receipt and proof still verifies.
 *
 * Blobs are deleted before their rows: a crash in between leaves rows whose next sweep deletes
 * them (deleting a missing blob is no error), never blobs that nothing points to.
 */
export class PayloadRetention {
  constructor(
    private readonly repository: PayloadRetentionRepository,
    private readonly blobs: EncryptedBlobStore,
    private readonly readEnvelope: EnvelopeReader,
    private readonly audit: AuditRecorder,
    private readonly now: () => number = Date.now,
  ) {}

  /** One sweep over every tenant. */
  async purgeExpired(): Promise<TenantPurge[]> {
    const results: TenantPurge[] = [];
    const now = this.now();
    for (const tenant of await this.repository.tenants()) {
      const before = tenant.erased ? Number.MAX_SAFE_INTEGER : now - tenant.retentionDays * DAY_MS;
      const purged = await this.purgeTenant(tenant, before);
      if (purged.payloads > 0) results.push({ tenant: tenant.id, before, ...purged });
    }
    return results;
  }

  private async purgeTenant(tenant: { id: string; retentionDays: number; erased: boolean }, before: number): Promise<PurgedCounts> {
    const { id: tenantId, erased } = tenant;
    // A batch another scheduler process swept first deletes nothing and records nothing.
    const event = (counts: PurgedCounts) => async (tx: Parameters<AuditRecorder>[0]) => {
      if (counts.payloads === 0) return;
      await this.audit(tx, {
        tenant: tenantId,
        actor: { type: 'system', id: 'scheduler' },
        action: 'payload.purged',
        details: {
          reason: erased ? 'tenant erased' : 'retention',
          ...(erased ? {} : { received_before: new Date(before).toISOString(), retention_days: tenant.retentionDays }),
          payloads: counts.payloads,
          attachments: counts.attachments,
          deliveries: counts.deliveries,
          attempts: counts.attempts,
        },
      });
    };
    const total: PurgedCounts = { payloads: 0, attachments: 0, deliveries: 0, attempts: 0 };
    for (;;) {
      const batch = await this.repository.expired(tenantId, before, RETENTION_BATCH);
      if (batch.length === 0) return total;
      const ids = batch.map((p) => p.id);
      const blobKeys = await this.repository.attachmentBlobKeys(tenantId, ids);
      // An erased tenant's envelopes no longer decrypt; its raw e-mails stay as shredded ciphertext.
      if (!erased) for (const payload of batch.filter((p) => p.type === 'email.received')) blobKeys.push(...(await this.rawBlobKey(tenantId, payload.id)));
      for (const key of blobKeys) await this.blobs.delete(key);
      const purged = await this.repository.deletePayloads(tenantId, ids, event);
      total.payloads += purged.payloads;
      total.attachments += purged.attachments;
      total.deliveries += purged.deliveries;
      total.attempts += purged.attempts;
      if (batch.length < RETENTION_BATCH) return total;
    }
  }

  private async rawBlobKey(tenantId: string, payloadId: string): Promise<string[]> {
    let envelope: Buffer | undefined;
    try {
      envelope = await this.readEnvelope(tenantId, payloadId);
    } catch (err) {
      if (isSealpostError(err) && err.code === 'SP_ERR_TENANT_ERASED') return [];
      throw err;
    }
    if (!envelope) return [];
    const ref = rawMessageRefOf(JSON.parse(envelope.toString('utf8')) as { type: string; data: Record<string, unknown> });
    return ref ? [rawMessageBlobKey(tenantId, ref.id)] : [];
  }
}

/** The scheduler's entry: a sweep every hour (jittered, so a fleet does not sweep at once). */
export function startPayloadRetention(options: { retention: PayloadRetention; logger: Logger; intervalMs?: number }): PeriodicJob {
  const log = options.logger.child({ component: 'payload-retention' });
  return startPeriodicJob({
    name: 'payload-retention',
    intervalMs: options.intervalMs ?? PAYLOAD_RETENTION_INTERVAL_MS,
    jitter: 0.1,
    runAtStart: true,
    run: async () => {
      for (const purged of await options.retention.purgeExpired()) log.info(purged, 'payload retention purge');
    },
    onError: (err) => log.error({ err }, 'payload retention purge failed; retrying at the next run'),
  });
}
