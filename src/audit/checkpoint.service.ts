import { startPeriodicJob, type PeriodicJob } from '../util/periodic-job.js';
import type { AuditTree } from './audit-tree.js';
import { checkpointBody, signNote } from './checkpoint.js';
import type { CheckpointRepository, StoredCheckpoint } from './checkpoint.repository.js';
import type { LogKeyService } from './log-key.service.js';

/** How often the checkpointer looks for new events: DESIGN promises a checkpoint at least every minute while events arrive. */
export const DEFAULT_CHECKPOINT_INTERVAL_MS = 60_000;
/**
 * Events no checkpoint covers yet are accepted by `sealpost audit verify` while younger than
 * this: ten checkpoint intervals, for a scheduler restart and clock skew between hosts. Older
 * uncovered events mean checkpoints were deleted (or the checkpointer is down: also a failure).
 */
export const UNCHECKPOINTED_GRACE_MS = 10 * DEFAULT_CHECKPOINT_INTERVAL_MS;
/**
 * The checkpointer reads new leaves into the tree this often, signing only every interval: a busy
 * minute is 100,000 events or more, and reading them all at the signing (on SQLite, on the event
 * loop) made ingest→delivered stall by hundreds of milliseconds once a minute (bench/run.ts,
 * target 4). Read every second, the same work comes in slices of a few milliseconds.
 */
const TREE_SYNC_MS = 1_000;
/** A signer that keeps losing the race for the next number gives up after this many tries. */
const SIGN_ATTEMPTS = 5;

/** The checkpointer's periodic jobs: `stop()` waits for a signing or tree read in progress; `health()` says whether signing keeps its interval. */
export type Checkpointer = PeriodicJob;

/** Signs checkpoints of the audit tree with the log key, on demand and on a timer. */
export class CheckpointService {
  constructor(
    private readonly tree: AuditTree,
    private readonly repository: CheckpointRepository,
    private readonly keys: LogKeyService,
    /** The checkpoint's first line, e.g. `sealpost.example.com/audit`. */
    readonly origin: string,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * The newest checkpoint, signing one first when none covers every committed event. The
   * local tree is caught up to at least its size, so proofs against it can be computed.
   */
  async current(): Promise<StoredCheckpoint> {
    const size = await this.tree.sync();
    const latest = await this.repository.latest();
    if (latest && latest.treeSize >= size) {
      await this.tree.syncTo(latest.treeSize);
      return latest;
    }
    return this.create(size);
  }

  /**
   * Signs and stores a checkpoint of the first `size` events, numbered after the newest one
   * (see CheckpointSequence); the tree must be synced that far. Returns the newest checkpoint
   * instead when another process already signed one at least as large.
   */
  async create(size: number): Promise<StoredCheckpoint> {
    const key = await this.keys.currentKey();
    const rootHash = await this.tree.root(size);
    for (let attempt = 1; attempt <= SIGN_ATTEMPTS; attempt += 1) {
      const latest = await this.repository.latest();
      if (latest && latest.treeSize >= size) {
        await this.tree.syncTo(latest.treeSize);
        return latest;
      }
      // Checkpoints from before numbering have no seq: the first numbered one counts them.
      const seq = latest === undefined ? 0 : latest.seq === null ? await this.repository.count() : latest.seq + 1;
      const note = signNote(checkpointBody(this.origin, size, rootHash, { seq, previousSize: latest?.treeSize ?? 0 }), key, key.privateKey);
      await this.repository.insertIfAbsent({ treeSize: size, rootHash, note, keyId: key.id, createdAt: this.now(), seq });
      // Another process may have taken this number first; the stored one is what everybody serves.
      const stored = await this.repository.findBySeq(seq);
      if (stored?.treeSize === size) return stored;
    }
    throw new Error(`checkpoint ${size}: lost the race for the next sequence number ${SIGN_ATTEMPTS} times`);
  }

  /** Signs a checkpoint when the tree grew since the newest one. Returns it, or undefined when nothing is new. */
  async checkpointIfGrown(): Promise<StoredCheckpoint | undefined> {
    const size = await this.tree.sync();
    const latest = await this.repository.latest();
    if (size === 0 || (latest !== undefined && latest.treeSize >= size)) return undefined;
    return this.create(size);
  }

  /**
   * Runs checkpointIfGrown every `intervalMs`. Several processes may each run one: they sign
   * the same size to the same note, and stored checkpoints are never replaced.
   */
  startCheckpointer(options: { intervalMs?: number; onError?: (err: unknown) => void } = {}): Checkpointer {
    const intervalMs = options.intervalMs ?? DEFAULT_CHECKPOINT_INTERVAL_MS;
    const onError = (err: unknown): void => options.onError?.(err);
    // The timers alone must not keep a process alive (the runner's timers are unref'd).
    const follow = startPeriodicJob({ name: 'audit-tree', intervalMs: Math.min(intervalMs, TREE_SYNC_MS), run: async () => void (await this.tree.sync()), onError });
    const sign = startPeriodicJob({ name: 'audit-checkpoint', intervalMs, run: async () => void (await this.checkpointIfGrown()), onError });
    return {
      runOnce: () => sign.runOnce(),
      stop: async () => void (await Promise.all([follow.stop(), sign.stop()])),
      // The signing keeps (or misses) the promised interval; a long first read of the tree after
      // a restart is not lateness.
      health: () => sign.health(),
    };
  }
}
