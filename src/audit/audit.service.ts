import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import { SealpostError } from '../errors/sealpost-error.js';
import type { AuditEventRepository, AuditEventRow } from './audit-event.repository.js';
import { auditRowProblem, inconsistent, verifiedEvent } from './audit-row.js';
import type { AuditActor, AuditEvent } from './audit-event.js';
import { csvEvent, csvHeader, jsonlEvent, jsonlHeader, type ExportFormat } from './audit-export.js';
import type { AppendedEvent, AuditLog } from './audit-log.js';
import type { AuditTree } from './audit-tree.js';
import type { CheckpointService } from './checkpoint.service.js';
import type { StoredCheckpoint } from './checkpoint.repository.js';

/** The plan that may export its audit trail. */
export const EXPORT_PLAN = 'operation';
export const DEFAULT_LIST_LIMIT = 100;
export const MAX_LIST_LIMIT = 1000;
/** Events read per query while streaming an export. */
const EXPORT_BATCH = 500;

export interface ListedEvent {
  readonly index: number;
  readonly event: AuditEvent;
}

export interface InclusionProof {
  readonly index: number;
  readonly treeSize: number;
  readonly leafHash: Buffer;
  readonly proof: Buffer[];
  /** Set when the caller named no tree size: the checkpoint the proof is against. */
  readonly checkpoint?: StoredCheckpoint;
}

export interface EventQuery {
  readonly from?: number;
  readonly to?: number;
  readonly actor?: string;
  readonly action?: string;
  readonly afterIndex?: number;
  readonly limit?: number;
}

function treeSizeError(message: string): SealpostError {
  return new SealpostError('SP_ERR_AUDIT_TREE_SIZE_INVALID', message);
}

/**
 * The row's event, after checking the row against its leaf and its tenant against the event:
 * the repository selects by column copies, and a copy edited in the database must neither
 * hand one tenant another's event nor pass unnoticed (SP_ERR_AUDIT_LOG_INCONSISTENT, logged
 * with the index).
 */
function tenantEvent(row: AuditEventRow, tenantId: string): AuditEvent {
  const event = verifiedEvent(row);
  if (event.tenant !== tenantId) throw inconsistent(row.index, 'column tenant_id differs from the event under its leaf hash');
  return event;
}

/** A purged row keeps no event to check against; its other columns must still be empty. */
function checkTenantRow(row: AuditEventRow, tenantId: string): void {
  if (row.event !== null) {
    tenantEvent(row, tenantId);
    return;
  }
  const problem = auditRowProblem(row);
  if (problem !== undefined) throw inconsistent(row.index, problem);
}

/**
 * What tenants may read of the audit log: their own events, proofs for them, and (on the
 * operation plan) exports. The tree is global, so consistency proofs are open to every tenant.
 */
export class AuditService {
  constructor(
    private readonly deps: {
      readonly db: Kysely<Database>;
      readonly log: AuditLog;
      readonly events: AuditEventRepository;
      readonly tree: AuditTree;
      readonly checkpoints: CheckpointService;
      /** The tenant's plan (identity's), given by the composition root: audit does not read tenants itself. */
      readonly planOf: (tenantId: string) => Promise<string | undefined>;
      readonly now?: () => number;
    },
  ) {}

  latestCheckpoint(): Promise<StoredCheckpoint> {
    return this.deps.checkpoints.current();
  }

  /**
   * Inclusion proof of the tenant's event at `index` in the tree of `treeSize` events, or
   * against the latest checkpoint when no size is given. Another tenant's index is "not found".
   */
  async inclusionProof(tenantId: string, index: number, treeSize?: number): Promise<InclusionProof> {
    const row = await this.deps.events.findForTenant(this.deps.db, tenantId, index);
    if (!row) throw new SealpostError('SP_ERR_RESOURCE_NOT_FOUND', 'No such audit event');
    checkTenantRow(row, tenantId);
    if (treeSize === undefined) {
      const checkpoint = await this.deps.checkpoints.current();
      return { index, treeSize: checkpoint.treeSize, leafHash: row.leafHash, proof: await this.deps.tree.inclusionProof(index, checkpoint.treeSize), checkpoint };
    }
    const size = await this.deps.tree.sync();
    if (treeSize > size) throw treeSizeError(`tree_size ${treeSize} is larger than the log (${size} events)`);
    if (index >= treeSize) throw treeSizeError(`index ${index} is not below tree_size ${treeSize}`);
    return { index, treeSize, leafHash: row.leafHash, proof: await this.deps.tree.inclusionProof(index, treeSize) };
  }

  async consistencyProof(from: number, to: number): Promise<Buffer[]> {
    const size = await this.deps.tree.sync();
    if (from > to) throw treeSizeError('from must not be greater than to');
    if (to > size) throw treeSizeError(`to ${to} is larger than the log (${size} events)`);
    return this.deps.tree.consistencyProof(from, to);
  }

  /** The tenant's events still holding content, oldest first; `nextAfter` continues the listing. */
  async listEvents(tenantId: string, query: EventQuery): Promise<{ events: ListedEvent[]; nextAfter: number | undefined }> {
    const limit = query.limit ?? DEFAULT_LIST_LIMIT;
    const rows = await this.deps.events.listForTenant(this.deps.db, tenantId, {
      from: query.from,
      to: query.to,
      actorId: query.actor,
      action: query.action,
      afterIndex: query.afterIndex,
      limit: limit + 1,
    });
    const page = rows.slice(0, limit);
    return {
      events: page.map((row) => ({ index: row.index, event: tenantEvent(row, tenantId) })),
      nextAfter: rows.length > limit ? page[page.length - 1]?.index : undefined,
    };
  }

  /** Refuses tenants below the export plan, naming it. */
  async assertMayExport(tenantId: string): Promise<void> {
    const plan = await this.deps.planOf(tenantId);
    if (plan !== EXPORT_PLAN) {
      throw new SealpostError('SP_ERR_AUTH_PLAN_REQUIRED', `Audit log export needs the ${EXPORT_PLAN} plan; this tenant is on ${plan ?? 'no'} plan`);
    }
  }

  /**
   * Records the export, then returns the file as a stream of text chunks: the tenant's events
   * with `from <= time < to` among those covered by the current checkpoint (later events go
   * into the next export), each with its inclusion proof against that checkpoint.
   */
  async startExport(
    tenantId: string,
    actor: AuditActor,
    range: { from: number; to: number; format: ExportFormat },
  ): Promise<{ checkpoint: StoredCheckpoint; appended: AppendedEvent; chunks: AsyncIterable<string> }> {
    await this.assertMayExport(tenantId);
    const now = this.deps.now ?? Date.now;
    const appended = await this.deps.log.appendInOwnTransaction(this.deps.db, {
      time: new Date(now()).toISOString(),
      tenant: tenantId,
      actor,
      action: 'audit.exported',
      details: { from: new Date(range.from).toISOString(), to: new Date(range.to).toISOString(), format: range.format },
    });
    // Taken after the export event, so the export covers (and proves) its own record.
    const checkpoint = await this.deps.checkpoints.current();
    return { checkpoint, appended, chunks: this.exportChunks(tenantId, checkpoint, range) };
  }

  private async *exportChunks(tenantId: string, checkpoint: StoredCheckpoint, range: { from: number; to: number; format: ExportFormat }): AsyncGenerator<string> {
    yield range.format === 'csv' ? csvHeader(checkpoint.note) : jsonlHeader(tenantId, checkpoint.note);
    let afterIndex: number | undefined;
    for (;;) {
      const rows = await this.deps.events.listForTenant(this.deps.db, tenantId, {
        from: range.from,
        to: range.to,
        afterIndex,
        beforeIndex: checkpoint.treeSize,
        limit: EXPORT_BATCH,
      });
      let chunk = '';
      for (const row of rows) {
        const record = { index: row.index, event: tenantEvent(row, tenantId), proof: await this.deps.tree.inclusionProof(row.index, checkpoint.treeSize) };
        chunk += range.format === 'csv' ? csvEvent(record) : jsonlEvent(record);
      }
      if (chunk) yield chunk;
      if (rows.length < EXPORT_BATCH) return;
      afterIndex = rows[rows.length - 1]?.index;
    }
  }
}
