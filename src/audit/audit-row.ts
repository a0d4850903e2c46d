import { SealpostError } from '../errors/sealpost-error.js';
import type { AuditEvent } from './audit-event.js';
import { HASH_BYTES, hashLeaf } from './merkle-tree.js';

/** One stored `audit_events` row, every column but the chain hash. */
export interface AuditEventRow {
  readonly index: number;
  readonly tenantId: string | null;
  readonly occurredAt: number;
  readonly actorType: string | null;
  readonly actorId: string | null;
  readonly action: string | null;
  readonly resource: string | null;
  /** Canonical JSON; null once purged. */
  readonly event: string | null;
  readonly leafHash: Buffer;
  readonly purgedAt: number | null;
}

/**
 * Why `row` is not what the log wrote, or undefined. The content must hash to the leaf, and
 * every copy of an event field (kept in columns for filtering) must equal the event's own
 * value (DESIGN §7). A purged row keeps only tenant and time beside its hashes; those two are
 * checked against the purge's record by `sealpost audit verify`, not here.
 */
export function auditRowProblem(row: AuditEventRow): string | undefined {
  if (row.leafHash.length !== HASH_BYTES) return 'has a malformed leaf hash';
  if (row.event === null) {
    if (row.purgedAt === null) return 'has no content and was not purged';
    if (row.actorType !== null || row.actorId !== null || row.action !== null || row.resource !== null) return 'was purged but still holds event columns';
    return undefined;
  }
  if (!hashLeaf(Buffer.from(row.event, 'utf8')).equals(row.leafHash)) return 'does not match its leaf hash: its content was changed';
  if (row.purgedAt !== null) return 'holds content but is marked purged';
  let event: AuditEvent;
  try {
    event = JSON.parse(row.event) as AuditEvent;
  } catch {
    return 'holds content that is not JSON';
  }
  const differs = (column: string): string => `column ${column} differs from the event under its leaf hash`;
  if (row.tenantId !== event.tenant) return differs('tenant_id');
  if (row.occurredAt !== Date.parse(event.time)) return differs('occurred_at');
  if (row.actorType !== event.actor.type) return differs('actor_type');
  if (row.actorId !== event.actor.id) return differs('actor_id');
  if (row.action !== event.action) return differs('action');
  if (row.resource !== (event.resource ?? null)) return differs('resource');
  return undefined;
}

export function inconsistent(index: number, problem: string): SealpostError {
  return new SealpostError('SP_ERR_AUDIT_LOG_INCONSISTENT', 'The audit log is inconsistent', { logDetail: { reason: `event ${index} ${problem}` } });
}

/** The event of a row that still holds content, after checking the row; throws SP_ERR_AUDIT_LOG_INCONSISTENT naming the index. */
export function verifiedEvent(row: AuditEventRow): AuditEvent {
  const problem = auditRowProblem(row) ?? (row.event === null ? 'has no content' : undefined);
  if (problem !== undefined) throw inconsistent(row.index, problem);
  return JSON.parse(row.event as string) as AuditEvent;
}
