import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import { SealpostError } from '../errors/sealpost-error.js';
import { AuditEventRepository } from './audit-event.repository.js';
import { HASH_BYTES, MerkleTree } from './merkle-tree.js';

/**
 * Leaf hashes read per query while catching up. On SQLite each read runs on the event loop, and
 * a checkpoint after a busy minute catches up on 100,000 events or more: in batches of 10,000
 * read back to back it stopped the process for ~400 ms (bench/run.ts, target 4). Small batches,
 * with other work let in between, bound each stop to a few milliseconds.
 */
const SYNC_BATCH = 1_000;

/**
 * This process's copy of the log's Merkle tree, caught up from the database on demand. Leaf
 * hashes never change once committed (a purge keeps them), so the copy only ever grows.
 *
 * Committed indexes have no holes: appenders hold the head row until they commit (see
 * AuditEventRepository.reserveIndex), so event i+1 cannot be visible before event i.
 */
export class AuditTree {
  private readonly tree = new MerkleTree();
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly repository: AuditEventRepository = new AuditEventRepository(),
  ) {}

  /** Size of the copy (as of the last sync). */
  get size(): number {
    return this.tree.size;
  }

  /** Reads the leaves committed since the last sync; returns the new size. */
  sync(): Promise<number> {
    // One catch-up at a time; callers queued behind it usually find nothing new to read.
    const run = this.queue.then(() => this.catchUp());
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Syncs, and fails if the log is still shorter than `size` (a checkpoint or head the rows do not back). */
  async syncTo(size: number): Promise<void> {
    if (this.tree.size >= size) return;
    await this.sync();
    if (this.tree.size < size) {
      throw new SealpostError('SP_ERR_AUDIT_LOG_INCONSISTENT', 'The audit log is inconsistent', {
        logDetail: { reason: `expected at least ${size} events, found ${this.tree.size}` },
      });
    }
  }

  root(size: number): Buffer {
    return this.tree.root(size);
  }

  leaf(index: number): Buffer {
    return this.tree.leaf(index);
  }

  inclusionProof(index: number, size: number): Buffer[] {
    return this.tree.inclusionProof(index, size);
  }

  consistencyProof(first: number, second: number): Buffer[] {
    return this.tree.consistencyProof(first, second);
  }

  private async catchUp(): Promise<number> {
    for (;;) {
      const rows = await this.repository.leafHashesFrom(this.db, this.tree.size, SYNC_BATCH);
      for (const row of rows) {
        if (row.index !== this.tree.size || row.leafHash.length !== HASH_BYTES) {
          throw new SealpostError('SP_ERR_AUDIT_LOG_INCONSISTENT', 'The audit log is inconsistent', {
            logDetail: { reason: row.index !== this.tree.size ? `event ${this.tree.size} is missing` : `event ${row.index} has a malformed leaf hash` },
          });
        }
        this.tree.append(row.leafHash);
      }
      if (rows.length < SYNC_BATCH) return this.tree.size;
      // Let requests and I/O run before the next batch (awaiting a query alone yields to microtasks only).
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
}
