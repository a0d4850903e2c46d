import type { AuditRecorder } from '../audit/audit-recorder.js';
import { destinationDisabledEvent } from './destination-audit.js';
import { sql, type Kysely } from 'kysely';
import type { RecordCipher, RecordContext } from '../crypto/record-cipher.js';
import { transactionWithoutFsync } from '../db/commit-without-fsync.js';
import type { Dialect } from '../db/database.js';
import type { Database } from '../db/schema.js';
import type { PreparedWrite } from '../db/prepared-write.js';
import type { ErrorClass } from './http-sender.js';
import type { ClaimedDelivery } from './outbox.repository.js';
import type { DeliveryHooks, DeliverySucceededInfo } from './request-signer.js';
import type { NextStep } from './retry-policy.js';
import { newId } from '../crypto/ids.js';

/** Svix's rule: a receiver that answers 410 Gone asks not to be called again, so its destination is disabled. */
export const GONE_DISABLE_REASON = 'the receiver answered 410 Gone; re-enable the destination (PATCH {"enabled": true}) once it accepts deliveries again';

export function attemptResponseContext(tenantId: string, attemptId: string): RecordContext {
  return { tenant: tenantId, table: 'delivery_attempts', id: attemptId, field: 'response' };
}

export interface AttemptResultInput {
  readonly claimed: ClaimedDelivery;
  readonly workerId: string;
  readonly startedAt: number;
  readonly durationMs: number;
  readonly statusCode: number | null;
  readonly errorClass: ErrorClass | null;
  readonly errorDetail: string | null;
  readonly responseHead: Buffer | null;
  readonly bodySha256: string;
  readonly step: NextStep;
  readonly now: number;
  /** A destination failing since before this is disabled. */
  readonly disableFailingSince: number;
  readonly disableReason: string;
}

export interface CompletionResult {
  /** The lease had expired and another worker took the delivery over; only the attempt was recorded. */
  readonly leaseLost: boolean;
  readonly destinationDisabled: boolean;
}

/** The worker's writes after an attempt: the attempt record, the delivery's next state, the destination's health. */
export class AttemptRepository {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: Dialect,
    private readonly cipher: RecordCipher,
    private readonly audit: AuditRecorder,
    private readonly hooks: DeliveryHooks = {},
  ) {}

  /**
   * Records the attempt a dead worker started but never finished (its lease expired), so the
   * record shows every attempt that may have reached the receiver.
   */
  async recordLostAttempt(claimed: ClaimedDelivery, now: number): Promise<void> {
    if (claimed.lostLeaseOwner === null || claimed.attempt < 2) return;
    await this.db
      .insertInto('delivery_attempts')
      .values({
        id: newId('attempt'),
        tenant_id: claimed.tenantId,
        delivery_id: claimed.id,
        attempt: claimed.attempt - 1,
        started_at: now,
        duration_ms: 0,
        status_code: null,
        error_class: 'lease_expired',
        response_sealed: null,
        worker: claimed.lostLeaseOwner,
      })
      .execute();
  }

  async complete(input: AttemptResultInput): Promise<CompletionResult> {
    const [result] = await this.completeMany([input]);
    return result ?? { leaseLost: true, destinationDisabled: false };
  }

  /**
   * Records several finished attempts in ONE transaction (a group commit), each with: the
   * attempt row, the delivery's new state (only while this worker still holds the lease), the
   * destination's failing-since mark or disabling, and the hooks. The commit does not wait for
   * the disk: losing it in a power failure re-sends the deliveries, whose next attempt records
   * all of it again (src/db/commit-without-fsync.ts).
   */
  async completeMany(inputs: readonly AttemptResultInput[]): Promise<CompletionResult[]> {
    // Sealed before the transaction: a new data key is persisted through another connection.
    const sealed = await Promise.all(
      inputs.map(async (input) => {
        const attemptId = newId('attempt');
        const head = input.responseHead;
        const prepared = input.step.status === 'succeeded' ? await this.hooks.prepareSucceeded?.(succeededInfo(input)) : undefined;
        return { attemptId, responseSealed: head === null ? null : await this.cipher.encrypt(head, attemptResponseContext(input.claimed.tenantId, attemptId)), prepared };
      }),
    );
    return transactionWithoutFsync(this.db, this.dialect, async (tx) => {
      await tx
        .insertInto('delivery_attempts')
        .values(
          inputs.map((input, i) => ({
            id: sealed[i]!.attemptId,
            tenant_id: input.claimed.tenantId,
            delivery_id: input.claimed.id,
            attempt: input.claimed.attempt,
            started_at: input.startedAt,
            duration_ms: input.durationMs,
            status_code: input.statusCode,
            error_class: input.errorClass,
            response_sealed: sealed[i]!.responseSealed,
            worker: input.workerId,
          })),
        )
        .execute();
      const settled = await settleDeliveries(tx, inputs);
      // Destinations this batch marked failing: a later success in the same batch must clear the mark.
      const markedFailing = new Set<string>();
      const results: CompletionResult[] = [];
      for (const [i, input] of inputs.entries()) {
        results.push(settled.has(input.claimed.id) ? await this.applyOutcome(tx, input, markedFailing, sealed[i]!.prepared) : { leaseLost: true, destinationDisabled: false });
      }
      return results;
    });
  }

  /** The destination's health and the hooks, for a delivery whose new state was written. */
  private async applyOutcome(
    tx: Kysely<Database>,
    input: AttemptResultInput,
    markedFailing: Set<string>,
    prepared: { store: PreparedWrite } | undefined,
  ): Promise<CompletionResult> {
    const { claimed, step } = input;
    if (step.status === 'succeeded') {
      if (claimed.failingSince !== null || markedFailing.has(claimed.destinationId)) {
        await tx.updateTable('destinations').set({ failing_since: null }).where('id', '=', claimed.destinationId).execute();
        markedFailing.delete(claimed.destinationId);
      }
      await prepared?.store(tx);
      return { leaseLost: false, destinationDisabled: false };
    }
    // Our own failure (a stored record we could not decrypt, a signer error) says nothing about the receiver.
    if (input.errorClass === 'internal') return { leaseLost: false, destinationDisabled: false };
    if (step.status === 'stopped') return { leaseLost: false, destinationDisabled: await this.disable(tx, input, GONE_DISABLE_REASON) };
    markedFailing.add(claimed.destinationId);
    return { leaseLost: false, destinationDisabled: await this.markFailing(tx, input) };
  }

  private async markFailing(tx: Kysely<Database>, input: AttemptResultInput): Promise<boolean> {
    const { claimed, now } = input;
    if (claimed.failingSince === null) {
      await tx.updateTable('destinations').set({ failing_since: now }).where('id', '=', claimed.destinationId).where('failing_since', 'is', null).execute();
      return false;
    }
    if (claimed.failingSince > input.disableFailingSince) return false;
    return this.disable(tx, input, input.disableReason, input.disableFailingSince);
  }

  /**
   * Disables the attempt's destination (still enabled, not deleted, and when `failingSince` is
   * given, failing since then at least), with its `destination.disabled` event; the tenant sees
   * `reason` as the destination's `disabled_reason`. True when this call disabled it.
   */
  private async disable(tx: Kysely<Database>, input: AttemptResultInput, reason: string, failingSince?: number): Promise<boolean> {
    const { claimed, now } = input;
    let update = tx
      .updateTable('destinations')
      .set({ enabled: 0, disabled_reason: reason, updated_at: now })
      .where('id', '=', claimed.destinationId)
      .where('enabled', '=', 1)
      .where('deleted_at', 'is', null);
    if (failingSince !== undefined) update = update.where('failing_since', '<=', failingSince);
    const disabled = await update.executeTakeFirst();
    if (Number(disabled.numUpdatedRows) === 0) return false;
    // The disabling and its audit event commit together (DESIGN §1, "every action ──► audit log").
    await this.audit(tx, destinationDisabledEvent({ tenantId: claimed.tenantId, destinationId: claimed.destinationId, reason }));
    await this.hooks.onDestinationDisabled?.(tx, { tenantId: claimed.tenantId, destinationId: claimed.destinationId, reason });
    return true;
  }
}

function succeededInfo({ claimed, statusCode, bodySha256 }: AttemptResultInput): DeliverySucceededInfo {
  return {
    tenantId: claimed.tenantId,
    payloadId: claimed.payloadId,
    deliveryId: claimed.id,
    destinationId: claimed.destinationId,
    attempt: claimed.attempt,
    statusCode: statusCode ?? 0,
    bodySha256,
  };
}

/**
 * Writes every delivery's next state and releases its lease in one statement (only where the
 * lease is still this worker's); returns the ids that were updated.
 */
async function settleDeliveries(tx: Kysely<Database>, inputs: readonly AttemptResultInput[]): Promise<Set<string>> {
  const big = (v: number | null) => sql`cast(${v} as bigint)`;
  const rows = inputs.map(({ claimed, step, now, statusCode, errorDetail, workerId }) => {
    const pending = step.status === 'pending';
    return sql`(${claimed.id}, ${step.status}, ${big(pending ? step.nextAttemptAt : now)}, ${big(statusCode)}, ${errorDetail}, ${big(now)}, ${big(pending ? null : now)}, ${workerId})`;
  });
  // VALUES columns are named column1… in both SQLite and PostgreSQL.
  const result = await sql<{ id: string }>`
    update deliveries
    set status = v.column2, next_attempt_at = v.column3, last_status_code = v.column4, last_error = v.column5,
        updated_at = v.column6, completed_at = v.column7, lease_owner = null, lease_expires_at = null
    from (values ${sql.join(rows)}) as v
    where deliveries.id = v.column1 and deliveries.lease_owner = v.column8 and deliveries.status = 'pending'
    returning deliveries.id`.execute(tx);
  return new Set(result.rows.map((r) => r.id));
}
