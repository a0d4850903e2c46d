import type { Kysely, Selectable } from 'kysely';
import type { BackupDrillsTable, BackupSnapshotsTable, Database } from '../../db/schema.js';

export type SnapshotRow = Selectable<BackupSnapshotsTable>;
export type DrillRow = Selectable<BackupDrillsTable>;

/** The record of snapshots and drills (migration 0016). Deployment-wide: no tenant data in it. */
export class BackupRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async insertSnapshot(tx: Kysely<Database>, row: Omit<SnapshotRow, 'pruned_at'>): Promise<void> {
    await tx.insertInto('backup_snapshots').values({ ...row, pruned_at: null }).execute();
  }

  /** Snapshots still in the targets, newest first. */
  async liveSnapshots(): Promise<SnapshotRow[]> {
    return this.db.selectFrom('backup_snapshots').selectAll().where('pruned_at', 'is', null).orderBy('created_at', 'desc').execute();
  }

  async findSnapshot(id: string): Promise<SnapshotRow | undefined> {
    return this.db.selectFrom('backup_snapshots').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async markPruned(tx: Kysely<Database>, id: string, at: number): Promise<void> {
    await tx.updateTable('backup_snapshots').set({ pruned_at: at }).where('id', '=', id).execute();
  }

  async latestSnapshotAt(): Promise<number | undefined> {
    const row = await this.db.selectFrom('backup_snapshots').select('created_at').orderBy('created_at', 'desc').limit(1).executeTakeFirst();
    return row?.created_at;
  }

  async insertDrill(tx: Kysely<Database>, row: DrillRow): Promise<void> {
    await tx.insertInto('backup_drills').values(row).execute();
  }

  async drills(limit: number): Promise<DrillRow[]> {
    return this.db.selectFrom('backup_drills').selectAll().orderBy('started_at', 'desc').limit(limit).execute();
  }

  async latestDrillAt(): Promise<number | undefined> {
    const row = await this.db.selectFrom('backup_drills').select('started_at').orderBy('started_at', 'desc').limit(1).executeTakeFirst();
    return row?.started_at;
  }
}
