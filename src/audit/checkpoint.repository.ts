import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

export interface StoredCheckpoint {
  readonly treeSize: number;
  readonly rootHash: Buffer;
  /** The C2SP signed note. */
  readonly note: string;
  readonly keyId: string;
  readonly createdAt: number;
}

const COLUMNS = ['tree_size', 'root_hash', 'note', 'key_id', 'created_at'] as const;

function toCheckpoint(row: Pick<Database['audit_checkpoints'], (typeof COLUMNS)[number]>): StoredCheckpoint {
  return { treeSize: Number(row.tree_size), rootHash: Buffer.from(row.root_hash), note: row.note, keyId: row.key_id, createdAt: Number(row.created_at) };
}

export class CheckpointRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** Stores a checkpoint unless one of that size exists (Ed25519 is deterministic: it would be the same note). */
  async insertIfAbsent(checkpoint: StoredCheckpoint): Promise<void> {
    await this.db
      .insertInto('audit_checkpoints')
      .values({
        tree_size: checkpoint.treeSize,
        root_hash: checkpoint.rootHash,
        note: checkpoint.note,
        key_id: checkpoint.keyId,
        created_at: checkpoint.createdAt,
      })
      .onConflict((oc) => oc.column('tree_size').doNothing())
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

  /** All checkpoints, smallest first, for `sealpost audit verify`. */
  async list(): Promise<StoredCheckpoint[]> {
    const rows = await this.db.selectFrom('audit_checkpoints').select(COLUMNS).orderBy('tree_size').execute();
    return rows.map(toCheckpoint);
  }
}
