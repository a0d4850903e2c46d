import type { Kysely } from 'kysely';
import type { SealpostConfig } from '../config/config.schema.js';
import type { RecordCipher } from '../crypto/record-cipher.js';
import type { Dialect } from '../db/database.js';
import type { Database } from '../db/schema.js';
import { AuditEventRepository } from '../audit/audit-event.repository.js';
import { AuditLog } from '../audit/audit-log.js';
import { auditRecorder, type AuditRecorder } from '../audit/audit-recorder.js';
import { AuditTree } from '../audit/audit-tree.js';
import { AuditService } from '../audit/audit.service.js';
import { CheckpointRepository } from '../audit/checkpoint.repository.js';
import { CheckpointService } from '../audit/checkpoint.service.js';
import { LogKeyRepository } from '../audit/log-key.repository.js';
import { LogKeyService } from '../audit/log-key.service.js';
import { AuditRetention } from '../audit/retention.js';

/** The checkpoint origin (and new log key name) of a deployment with neither an origin nor a public URL configured. */
export const DEFAULT_AUDIT_ORIGIN = 'sealpost.local/audit';

/**
 * The checkpoint origin in force: `SEALPOST_AUDIT_ORIGIN`, else the public URL's host and path
 * followed by `/audit` (C2SP: a schema-less URL naming the log), else DEFAULT_AUDIT_ORIGIN.
 * The log key keeps the name it was created with; only new checkpoints take a new origin, and
 * `sealpost audit verify` accepts each checkpoint with the origin it was signed under.
 */
export function auditOriginOf(config: Pick<SealpostConfig, 'auditOrigin' | 'publicUrl'>): string {
  if (config.auditOrigin !== undefined) return config.auditOrigin;
  if (config.publicUrl === undefined) return DEFAULT_AUDIT_ORIGIN;
  const url = new URL(config.publicUrl);
  return `${url.host}${url.pathname.replace(/\/+$/, '')}/audit`;
}

export interface AuditServices {
  readonly log: AuditLog;
  /** Records an admin change's event in the change's transaction. */
  readonly record: AuditRecorder;
  readonly tree: AuditTree;
  readonly keys: LogKeyService;
  readonly checkpoints: CheckpointService;
  readonly audit: AuditService;
  readonly retention: AuditRetention;
}

/** Wires the audit log's pieces for one process. */
export function createAuditServices(options: {
  db: Kysely<Database>;
  dialect: Dialect;
  cipher: RecordCipher;
  /** Checkpoint origin line and log key name, e.g. `sealpost.example.com/audit`. */
  origin?: string;
  /** The tenant's plan, for the plan-gated export (identity's; without it no tenant may export). */
  planOf?: (tenantId: string) => Promise<string | undefined>;
  now?: () => number;
}): AuditServices {
  const now = options.now ?? Date.now;
  const origin = options.origin ?? DEFAULT_AUDIT_ORIGIN;
  const events = new AuditEventRepository();
  const log = new AuditLog(events);
  const tree = new AuditTree(options.db, events);
  const keys = new LogKeyService(new LogKeyRepository(options.db), options.cipher, origin, now);
  const checkpoints = new CheckpointService(tree, new CheckpointRepository(options.db), keys, origin, now);
  const audit = new AuditService({
    db: options.db,
    log,
    events,
    tree,
    checkpoints,
    planOf: options.planOf ?? (async () => undefined),
    now,
  });
  const retention = new AuditRetention(options.db, options.dialect, log, events, now);
  return { log, record: auditRecorder(log, now), tree, keys, checkpoints, audit, retention };
}
