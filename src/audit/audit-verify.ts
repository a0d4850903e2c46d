import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import { AuditEventRepository } from './audit-event.repository.js';
import type { AuditEvent } from './audit-event.js';
import { CHAIN_START, nextChainHash } from './audit-log.js';
import { auditRowProblem } from './audit-row.js';
import { openCheckpoint, type CheckpointSequence, type NoteKey } from './checkpoint.js';
import { CheckpointRepository, type StoredCheckpoint } from './checkpoint.repository.js';
import { UNCHECKPOINTED_GRACE_MS } from './checkpoint.service.js';
import { LogKeyRepository } from './log-key.repository.js';
import { MerkleTree } from './merkle-tree.js';
import { DEFAULT_RETENTION_MONTHS, PurgedRowsDigest, monthsBefore } from './retention.js';

const SCAN_BATCH = 5_000;

export interface AuditProblem {
  /** The first event index the problem concerns; null for a checkpoint that fails on its own. */
  readonly index: number | null;
  /** Tree size of the checkpoint concerned, if any. */
  readonly checkpoint?: number;
  readonly reason: string;
}

export interface AuditVerifyReport {
  readonly ok: boolean;
  /** Events checked (the walk stops at the first broken one). */
  readonly events: number;
  /** Checkpoints whose signature verified. */
  readonly checkpointsVerified: number;
  readonly checkpointsStored: number;
  /** Smallest index at which anything differs, or null. */
  readonly firstBadIndex: number | null;
  readonly problems: readonly AuditProblem[];
}

export interface AuditVerifyOptions {
  /** Trust only this key: every checkpoint must be signed by it, and at least one must exist once there are events. */
  readonly pinnedKey?: NoteKey;
  /** The verifier's clock, for the grace given to events no checkpoint covers yet. */
  readonly now?: number;
  /** A recorded purge that kept events for fewer months than this fails. */
  readonly retentionMonths?: number;
  /** Called after each batch of events with how many are checked out of the log head's count. */
  readonly onProgress?: (checked: number, total: number) => void;
}

/** Rows one purge cleared, gathered by their `purged_at` (the purge's own event time). */
interface PurgeGroup {
  readonly digest: PurgedRowsDigest;
  readonly first: number;
  latest: number;
}

/** Why a `retention.purged` event does not account for exactly the rows cleared at its time, or undefined. */
function purgeProblem(event: AuditEvent, group: PurgeGroup | undefined, retentionMonths: number): string | undefined {
  const details = event.details ?? {};
  const time = Date.parse(event.time);
  const months = details.months;
  if (typeof months !== 'number' || !Number.isInteger(months) || months < retentionMonths) {
    return `records a purge of events younger than the retention period (${String(months)} months, at least ${retentionMonths} required)`;
  }
  if (typeof details.before !== 'string' || Date.parse(details.before) !== monthsBefore(time, months)) return 'records a purge cutoff that is not its time minus its retention';
  const count = group?.digest.count ?? 0;
  if (details.purged !== count) return `records ${String(details.purged)} purged events but ${count} rows were cleared at its time`;
  // Purges recorded before the digest existed are checked by their count alone.
  if (details.purged_rows_sha256 !== undefined && details.purged_rows_sha256 !== (group?.digest ?? new PurgedRowsDigest()).hex()) {
    return 'records other purged rows than those stored: the tenant or time of a purged event was changed';
  }
  if (group && group.latest >= Date.parse(details.before)) return 'cleared an event younger than its cutoff';
  return undefined;
}

/** Checks the sequence signed in each checkpoint against its position among the stored ones. */
function sequenceProblem(stored: readonly StoredCheckpoint[], position: number, sequence: CheckpointSequence | undefined, numberedBefore: boolean): string | undefined {
  const previousSize = stored[position - 1]?.treeSize ?? 0;
  if (sequence === undefined) return numberedBefore ? 'is unnumbered but follows numbered checkpoints' : undefined;
  if (sequence.seq !== position || sequence.previousSize !== previousSize) {
    return `was issued as number ${sequence.seq} after a checkpoint of ${sequence.previousSize} events, but ${position} checkpoints are stored before it, the last of ${previousSize} events: a checkpoint was deleted`;
  }
  return undefined;
}

/**
 * Re-derives the audit log from what is stored and reports where it differs:
 * - each event's content against its leaf hash, and every column copy of it (tenant, time,
 *   actor, action, resource) against the event,
 * - indexes from 0 without gaps, and the hash chain (finds removed and reordered rows),
 * - every event without content against a `retention.purged` event recording it: the purge's
 *   count and digest of the rows' tenant and time, a cutoff at least the retention period old,
 * - every checkpoint's signature (with `pinnedKey`, only that key is trusted; otherwise the
 *   stored public keys), its root against the tree rebuilt from the leaves, and its signed
 *   sequence number against the checkpoints stored before it (finds deleted checkpoints),
 * - that no event older than UNCHECKPOINTED_GRACE_MS lies beyond the newest checkpoint (finds
 *   the newest checkpoints deleted, and a rewrite that dropped them all),
 * - the head count and the largest checkpoint against the rows present (finds truncation).
 *
 * The walk stops at the first broken event: everything after it is unverifiable.
 *
 * Keys, checkpoints, head and events are read in one read-only snapshot (REPEATABLE READ on
 * PostgreSQL, one read transaction on SQLite): read apart, an append committing between the head
 * and the events looks like events stored beyond the head, a false alarm on a live log.
 */
export async function verifyStoredAuditLog(db: Kysely<Database>, options: AuditVerifyOptions = {}): Promise<AuditVerifyReport> {
  return db
    .transaction()
    .setIsolationLevel('repeatable read')
    .setAccessMode('read only')
    .execute((snapshot) => verifySnapshot(snapshot, options));
}

async function verifySnapshot(db: Kysely<Database>, options: AuditVerifyOptions): Promise<AuditVerifyReport> {
  const problems: AuditProblem[] = [];
  const events = new AuditEventRepository();
  const now = options.now ?? Date.now();
  const retentionMonths = options.retentionMonths ?? DEFAULT_RETENTION_MONTHS;

  const keys = new Map((await new LogKeyRepository(db).listPublic()).map((k) => [k.id, k]));
  const stored = await new CheckpointRepository(db).list();
  const signedRoots = new Map<number, Buffer>();
  let numbered = false;
  const retiredOrigins = new Set<string>();
  let origin: string | undefined;
  stored.forEach((checkpoint, position) => {
    const key = options.pinnedKey ?? keys.get(checkpoint.keyId);
    try {
      if (!key) throw new Error(`its key ${checkpoint.keyId} is unknown`);
      const opened = openCheckpoint(checkpoint.note, key);
      if (opened.treeSize !== checkpoint.treeSize || !opened.rootHash.equals(checkpoint.rootHash) || (opened.sequence?.seq ?? null) !== checkpoint.seq) {
        throw new Error('its columns differ from its signed note');
      }
      // The origin may change (a new public URL) but never back: an old origin after a newer one is another log's checkpoint.
      if (opened.origin !== origin) {
        if (retiredOrigins.has(opened.origin)) throw new Error(`its origin ${opened.origin} was replaced by ${String(origin)} before it`);
        if (origin !== undefined) retiredOrigins.add(origin);
        origin = opened.origin;
      }
      signedRoots.set(opened.treeSize, opened.rootHash);
      const sequence = sequenceProblem(stored, position, opened.sequence, numbered);
      numbered ||= opened.sequence !== undefined;
      if (sequence !== undefined) {
        problems.push({ index: stored[position - 1]?.treeSize ?? 0, checkpoint: checkpoint.treeSize, reason: `checkpoint ${checkpoint.treeSize} ${sequence}` });
      }
    } catch (err) {
      problems.push({ index: null, checkpoint: checkpoint.treeSize, reason: `checkpoint ${checkpoint.treeSize}: ${(err as Error).message}` });
    }
  });
  let largestSigned = 0;
  for (const size of signedRoots.keys()) largestSigned = Math.max(largestSigned, size);
  const head = await events.headSize(db);

  const tree = new MerkleTree();
  let chain: Buffer = CHAIN_START;
  // The largest size whose signed root matched so far: a rewrite that kept leaves and chain
  // self-consistent lies after it.
  let lastMatched = 0;
  let broken = false;
  let firstStale: number | undefined;
  const purges = new Map<number, PurgeGroup>();
  const fail = (index: number, reason: string): void => {
    problems.push({ index, reason });
    broken = true;
  };
  const compareCheckpoint = (): void => {
    const signed = signedRoots.get(tree.size);
    if (!signed) return;
    if (signed.equals(tree.root())) lastMatched = tree.size;
    else fail(lastMatched, `the tree of ${tree.size} events does not match its signed checkpoint: an event from index ${lastMatched} on was rewritten`);
  };

  compareCheckpoint();
  while (!broken) {
    const rows = await events.scanFrom(db, tree.size, SCAN_BATCH);
    for (const row of rows) {
      const index = tree.size;
      if (row.index !== index) {
        fail(index, `event ${index} is missing`);
        break;
      }
      const problem = auditRowProblem(row);
      if (problem !== undefined) {
        fail(index, `event ${index} ${problem}`);
        break;
      }
      chain = nextChainHash(chain, row.leafHash);
      if (!chain.equals(row.chainHash)) {
        fail(index, `event ${index} breaks the hash chain: events were replaced, reordered or removed here`);
        break;
      }
      if (row.purgedAt !== null) {
        const group = purges.get(row.purgedAt) ?? { digest: new PurgedRowsDigest(), first: index, latest: row.occurredAt };
        group.digest.add(row);
        group.latest = Math.max(group.latest, row.occurredAt);
        purges.set(row.purgedAt, group);
      } else if (row.action === 'retention.purged') {
        const event = JSON.parse(row.event as string) as AuditEvent;
        const group = purges.get(row.occurredAt);
        purges.delete(row.occurredAt);
        const purgeFailure = purgeProblem(event, group, retentionMonths);
        if (purgeFailure !== undefined) {
          fail(group?.first ?? index, `event ${index} ${purgeFailure}`);
          break;
        }
      }
      if (index >= largestSigned && firstStale === undefined && row.occurredAt < now - UNCHECKPOINTED_GRACE_MS) firstStale = index;
      tree.append(row.leafHash);
      compareCheckpoint();
      if (broken) break;
    }
    options.onProgress?.(tree.size, Math.max(head, tree.size));
    if (rows.length < SCAN_BATCH) break;
  }

  if (!broken) {
    if (head > tree.size) fail(tree.size, `the log head counts ${head} events but only ${tree.size} are stored: the log was truncated`);
    else if (largestSigned > tree.size) fail(tree.size, `checkpoint ${largestSigned} covers events from ${tree.size} on that are not stored: the log was truncated`);
    else if (head < tree.size) fail(head, `events are stored beyond the log head (${head})`);
  }
  if (!broken) {
    for (const group of purges.values()) {
      problems.push({ index: group.first, reason: `event ${group.first} has no content, but no retention purge records clearing it` });
    }
    if (options.pinnedKey && tree.size > 0 && signedRoots.size === 0) {
      problems.push({ index: 0, reason: `no checkpoint of these ${tree.size} events is signed by the pinned key` });
    }
    if (firstStale !== undefined) {
      problems.push({
        index: firstStale,
        reason: `event ${firstStale} and later are older than ${UNCHECKPOINTED_GRACE_MS / 60_000} minutes and no signed checkpoint covers them: checkpoints were deleted, or none is being written`,
      });
    }
  }

  const indexes = problems.map((p) => p.index).filter((i): i is number => i !== null);
  return {
    ok: problems.length === 0,
    events: tree.size,
    checkpointsVerified: signedRoots.size,
    checkpointsStored: stored.length,
    firstBadIndex: indexes.length > 0 ? Math.min(...indexes) : null,
    problems,
  };
}
