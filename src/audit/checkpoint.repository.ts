import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

export interface StoredCheckpoint {
  readonly treeSize: number;
  readonly rootHash: Buffer;
  /** The C2SP signed note. */
  readonly note: string;
  readonly keyId: string;
  readonly createdAt: number;
  /** Checkpoints issued before this one, as signed in the note; null for those signed before numbering. */
  readonly seq: number | null;
}

const COLUMNS = ['tree_size', 'root_hash', 'note', 'key_id', 'created_at', 'seq'] as const;

function toCheckpoint(row: Pick<Database['audit_checkpoints'], (typeof COLUMNS)[number]>): StoredCheckpoint {
  return {
    treeSize: Number(row.tree_size),
    rootHash: Buffer.from(row.root_hash),
    note: row.note,
    keyId: row.key_id,
    createdAt: Number(row.created_at),
    seq: row.seq === null ? null : Number(row.seq),
  };
}

export class CheckpointRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /**
   * Stores a checkpoint unless one of that size or that sequence number exists (Ed25519 is
   * deterministic: the same size after the same predecessor is the same note; another size
   * with the same number lost the race and must be signed again with the next number).
   */
  async insertIfAbsent(checkpoint: StoredCheckpoint): Promise<void> {
    await this.db
      .insertInto('audit_checkpoints')
      .values({
        tree_size: checkpoint.treeSize,
        root_hash: checkpoint.rootHash,
        note: checkpoint.note,
        key_id: checkpoint.keyId,
        created_at: checkpoint.createdAt,
        seq: checkpoint.seq,
      })
      .onConflict((oc) => oc.doNothing())
      .execute();
  }

  async latest(): Promise<StoredCheckpoint | undefined> {
    const row = await this.db.selectFrom('audit_checkpoints').select(COLUMNS).orderBy('tree_size', 'desc').limit(1).executeTakeFirst();
    return row && toCheckpoint(row);
  }

  async find(treeSize: number): Promise<StoredCheckpoint | undefined> {
    const row = await this.db.selectFrom('audit_checkpoints').select(COLUMNS).where('tree_size', '=', treeSize).executeTakeFirst();
    return row && toCheckpoint(row);
  }

  async findBySeq(seq: number): Promise<StoredCheckpoint | undefined> {
    const row = await this.db.selectFrom('audit_checkpoints').select(COLUMNS).where('seq', '=', seq).executeTakeFirst();
    return row && toCheckpoint(row);
  }

  async count(): Promise<number> {
    const row = await this.db.selectFrom('audit_checkpoints').select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /** All checkpoints, smallest first, for `sealpost audit verify`. */
  async list(): Promise<StoredCheckpoint[]> {
    const rows = await this.db.selectFrom('audit_checkpoints').select(COLUMNS).orderBy('tree_size').execute();
    return rows.map(toCheckpoint);
  }
}
