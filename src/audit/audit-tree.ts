import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import { SealpostError } from '../errors/sealpost-error.js';
import { AuditEventRepository } from './audit-event.repository.js';
import { BlockNotLoaded, HASH_BYTES, MerkleTree } from './merkle-tree.js';

/**
 * Leaf hashes read per query while catching up. On SQLite each read runs on the event loop, and
 * a checkpoint after a busy minute catches up on 100,000 events or more: in batches of 10,000
 * read back to back it stopped the process for ~400 ms (bench/run.ts, target 4). Small batches,
 * with other work let in between, bound each stop to a few milliseconds.
 */
const SYNC_BATCH = 1_000;

/**
 * The tree keeps in memory the roots of blocks of 2^10 leaves and above (and the newest block
 * whole): 64 bytes per 1,024 events instead of per event, so a year's log fits in a few MB.
 */
const BLOCK_LEVEL = 10;
const BLOCK_SIZE = 2 ** BLOCK_LEVEL;
/** Older blocks read back for proofs, kept for the next proof (32 KB each). */
const CACHED_BLOCKS = 32;

/**
 * This process's copy of the log's Merkle tree, caught up from the database on demand. Leaf
 * hashes never change once committed (a purge keeps them), so the copy only ever grows.
 *
 * Committed indexes have no holes: appenders hold the head row until they commit (see
 * AuditEventRepository.reserveIndex), so event i+1 cannot be visible before event i.
 *
 * A proof or tree head that needs the leaves of an older block reads that block's leaf hashes
 * back and checks them against the block root computed when they were first read: a row changed
 * since is refused (SP_ERR_AUDIT_LOG_INCONSISTENT), never turned into a proof.
 */
export class AuditTree {
  private readonly blocks = new Map<number, MerkleTree>();
  private readonly tree = new MerkleTree({ blockLevel: BLOCK_LEVEL, block: (index) => this.blocks.get(index) });
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

  root(size: number): Promise<Buffer> {
    return this.withBlocks(() => this.tree.root(size));
  }

  leaf(index: number): Promise<Buffer> {
    return this.withBlocks(() => this.tree.leaf(index));
  }

  inclusionProof(index: number, size: number): Promise<Buffer[]> {
    return this.withBlocks(() => this.tree.inclusionProof(index, size));
  }

  consistencyProof(first: number, second: number): Promise<Buffer[]> {
    return this.withBlocks(() => this.tree.consistencyProof(first, second));
  }

  /** Runs `compute`, reading each older block it turns out to need (a proof needs at most three). */
  private async withBlocks<T>(compute: () => T): Promise<T> {
    for (let attempt = 0; ; attempt += 1) {
      try {
        return compute();
      } catch (err) {
        if (!(err instanceof BlockNotLoaded) || attempt >= 8) throw err;
        await this.loadBlock(err.block);
      }
    }
  }

  private async loadBlock(index: number): Promise<void> {
    const rows = await this.repository.leafHashesFrom(this.db, index * BLOCK_SIZE, BLOCK_SIZE);
    const block = new MerkleTree();
    for (const row of rows) {
      if (row.index !== index * BLOCK_SIZE + block.size || row.leafHash.length !== HASH_BYTES) break;
      block.append(row.leafHash);
    }
    if (block.size !== BLOCK_SIZE || !block.root().equals(this.tree.blockRoot(index))) {
      throw new SealpostError('SP_ERR_AUDIT_LOG_INCONSISTENT', 'The audit log is inconsistent', {
        logDetail: { reason: `the events ${index * BLOCK_SIZE}..${(index + 1) * BLOCK_SIZE - 1} changed since this process read them` },
      });
    }
    // Map order is insertion order: the first key is the least recently loaded.
    if (this.blocks.size >= CACHED_BLOCKS) this.blocks.delete(this.blocks.keys().next().value as number);
    this.blocks.set(index, block);
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
