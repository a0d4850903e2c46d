import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import { AuditEventRepository } from './audit-event.repository.js';
import { CHAIN_START, nextChainHash } from './audit-log.js';
import { openCheckpoint, type NoteKey } from './checkpoint.js';
import { CheckpointRepository } from './checkpoint.repository.js';
import { LogKeyRepository } from './log-key.repository.js';
import { HASH_BYTES, MerkleTree, hashLeaf } from './merkle-tree.js';

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

/**
 * Re-derives the audit log from what is stored and reports where it differs:
 * - each event's content against its leaf hash (purged events keep only their leaf hash),
 * - indexes from 0 without gaps, and the hash chain (finds removed and reordered rows),
 * - every checkpoint's signature (with `pinnedKey`, only that key is trusted; otherwise the
 *   stored public keys), and its root against the tree rebuilt from the leaves,
 * - the head count and the largest checkpoint against the rows present (finds truncation).
 *
 * The walk stops at the first broken event: everything after it is unverifiable.
 */
export async function verifyStoredAuditLog(db: Kysely<Database>, options: { pinnedKey?: NoteKey } = {}): Promise<AuditVerifyReport> {
  const problems: AuditProblem[] = [];
  const events = new AuditEventRepository();

  const keys = new Map((await new LogKeyRepository(db).listPublic()).map((k) => [k.id, k]));
  const stored = await new CheckpointRepository(db).list();
  const signedRoots = new Map<number, Buffer>();
  for (const checkpoint of stored) {
    const key = options.pinnedKey ?? keys.get(checkpoint.keyId);
    try {
      if (!key) throw new Error(`its key ${checkpoint.keyId} is unknown`);
      const opened = openCheckpoint(checkpoint.note, key);
      if (opened.treeSize !== checkpoint.treeSize || !opened.rootHash.equals(checkpoint.rootHash)) throw new Error('its columns differ from its signed note');
      signedRoots.set(opened.treeSize, opened.rootHash);
    } catch (err) {
      problems.push({ index: null, checkpoint: checkpoint.treeSize, reason: `checkpoint ${checkpoint.treeSize}: ${(err as Error).message}` });
    }
  }

  const tree = new MerkleTree();
  let chain: Buffer = CHAIN_START;
  // The largest size whose signed root matched so far: a rewrite that kept leaves and chain
  // self-consistent lies after it.
  let lastMatched = 0;
  let broken = false;
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
      if (row.leafHash.length !== HASH_BYTES) {
        fail(index, `event ${index} has a malformed leaf hash`);
        break;
      }
      if (row.event !== null && !hashLeaf(Buffer.from(row.event, 'utf8')).equals(row.leafHash)) {
        fail(index, `event ${index} does not match its leaf hash: its content was changed`);
        break;
      }
      chain = nextChainHash(chain, row.leafHash);
      if (!chain.equals(row.chainHash)) {
        fail(index, `event ${index} breaks the hash chain: events were replaced, reordered or removed here`);
        break;
      }
      tree.append(row.leafHash);
      compareCheckpoint();
      if (broken) break;
    }
    if (rows.length < SCAN_BATCH) break;
  }

  if (!broken) {
    const head = await events.headSize(db);
    let largestSigned = 0;
    for (const size of signedRoots.keys()) largestSigned = Math.max(largestSigned, size);
    if (head > tree.size) fail(tree.size, `the log head counts ${head} events but only ${tree.size} are stored: the log was truncated`);
    else if (largestSigned > tree.size) fail(tree.size, `checkpoint ${largestSigned} covers events from ${tree.size} on that are not stored: the log was truncated`);
    else if (head < tree.size) fail(head, `events are stored beyond the log head (${head})`);
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
