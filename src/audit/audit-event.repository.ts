import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import type { AuditEventRow } from './audit-row.js';
import { HotStatement } from '../db/direct-statement.js';

export type { AuditEventRow } from './audit-row.js';

export interface AuditEventFilter {
  /** Inclusive, epoch milliseconds. */
  readonly from?: number;
  /** Exclusive, epoch milliseconds. */
  readonly to?: number;
  readonly actorId?: string;
  readonly action?: string;
  /** Only indexes above this one (keyset pagination). */
  readonly afterIndex?: number;
  /** Only indexes below this one (an export stops at its checkpoint's tree size). */
  readonly beforeIndex?: number;
  readonly limit: number;
}

// Every column a reader checks against the leaf (src/audit/audit-row.ts), so none is trusted unread.
const ROW_COLUMNS = ['log_index', 'tenant_id', 'occurred_at', 'actor_type', 'actor_id', 'action', 'resource', 'event', 'leaf_hash', 'purged_at'] as const;

function toRow(row: Pick<Database['audit_events'], (typeof ROW_COLUMNS)[number]>): AuditEventRow {
  return {
    index: Number(row.log_index),
    tenantId: row.tenant_id,
    occurredAt: Number(row.occurred_at),
    actorType: row.actor_type,
    actorId: row.actor_id,
    action: row.action,
    resource: row.resource,
    event: row.event,
    leafHash: Buffer.from(row.leaf_hash),
    purgedAt: row.purged_at === null ? null : Number(row.purged_at),
  };
}

const RESERVE_INDEX = new HotStatement<{ size: number }>('update audit_log_head set size = size + 1 where id = 1 returning size');
const CHAIN_HASH_AT = new HotStatement<{ chain_hash: Uint8Array }>('select chain_hash from audit_events where log_index = ?');
const INSERT_EVENT = new HotStatement(
  'insert into audit_events (log_index, tenant_id, occurred_at, actor_type, actor_id, action, resource, event, leaf_hash, chain_hash, purged_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, null)',
);

/** Kysely queries on the audit tables; the rules live in AuditLog, the tree in AuditTree. */
export class AuditEventRepository {
  // The three statements of an append run for every API call, so they are hot statements
  // (src/db/direct-statement.ts): run directly on SQLite inside a group commit, where Kysely's
  // layers cost more CPU than SQLite spent running them (bench/run.ts profile).

  /**
   * Hands out the next index. The UPDATE is the transaction's lock on the single head row: a
   * concurrent appender on PostgreSQL waits here until this transaction ends, then reads the
   * committed size, so indexes are consecutive and a rolled-back transaction leaves no gap.
   * On SQLite the UPDATE takes the database's write lock, with the same effect.
   */
  async reserveIndex(tx: Kysely<Database>): Promise<number> {
    const rows = await RESERVE_INDEX.execute(tx, []);
    if (!rows[0]) throw new Error('audit_log_head row is missing');
    return Number(rows[0].size) - 1;
  }

  async chainHashAt(tx: Kysely<Database>, index: number): Promise<Buffer | undefined> {
    const rows = await CHAIN_HASH_AT.execute(tx, [index]);
    return rows[0] && Buffer.from(rows[0].chain_hash);
  }

  async insert(
    tx: Kysely<Database>,
    row: {
      index: number;
      tenantId: string | null;
      occurredAt: number;
      actorType: string;
      actorId: string | null;
      action: string;
      resource: string | null;
      event: string;
      leafHash: Buffer;
      chainHash: Buffer;
    },
  ): Promise<void> {
    await INSERT_EVENT.execute(tx, [row.index, row.tenantId, row.occurredAt, row.actorType, row.actorId, row.action, row.resource, row.event, row.leafHash, row.chainHash]);
  }

  async headSize(db: Kysely<Database>): Promise<number> {
    const row = await db.selectFrom('audit_log_head').select('size').where('id', '=', 1).executeTakeFirstOrThrow();
    return Number(row.size);
  }

  /** Leaf hashes from `start` on, in index order. */
  async leafHashesFrom(db: Kysely<Database>, start: number, limit: number): Promise<{ index: number; leafHash: Buffer }[]> {
    const rows = await db
      .selectFrom('audit_events')
      .select(['log_index', 'leaf_hash'])
      .where('log_index', '>=', start)
      .orderBy('log_index')
      .limit(limit)
      .execute();
    return rows.map((r) => ({ index: Number(r.log_index), leafHash: Buffer.from(r.leaf_hash) }));
  }

  /** The event at `index` if it belongs to `tenantId`; another tenant's index looks absent. */
  async findForTenant(db: Kysely<Database>, tenantId: string, index: number): Promise<AuditEventRow | undefined> {
    const row = await db
      .selectFrom('audit_events')
      .select(ROW_COLUMNS)
      .where('tenant_id', '=', tenantId)
      .where('log_index', '=', index)
      .executeTakeFirst();
    return row && toRow(row);
  }

  /** One tenant's events that still have content, in index order. */
  async listForTenant(db: Kysely<Database>, tenantId: string, filter: AuditEventFilter): Promise<AuditEventRow[]> {
    let query = db
      .selectFrom('audit_events')
      .select(ROW_COLUMNS)
      .where('tenant_id', '=', tenantId)
      .where('event', 'is not', null);
    if (filter.from !== undefined) query = query.where('occurred_at', '>=', filter.from);
    if (filter.to !== undefined) query = query.where('occurred_at', '<', filter.to);
    if (filter.actorId !== undefined) query = query.where('actor_id', '=', filter.actorId);
    if (filter.action !== undefined) query = query.where('action', '=', filter.action);
    if (filter.afterIndex !== undefined) query = query.where('log_index', '>', filter.afterIndex);
    if (filter.beforeIndex !== undefined) query = query.where('log_index', '<', filter.beforeIndex);
    const rows = await query.orderBy('log_index').limit(filter.limit).execute();
    return rows.map(toRow);
  }

  /** Every stored row from `start` on, with its chain hash, for `sealpost audit verify`. */
  async scanFrom(db: Kysely<Database>, start: number, limit: number): Promise<(AuditEventRow & { chainHash: Buffer })[]> {
    const rows = await db
      .selectFrom('audit_events')
      .select([...ROW_COLUMNS, 'chain_hash'])
      .where('log_index', '>=', start)
      .orderBy('log_index')
      .limit(limit)
      .execute();
    return rows.map((r) => ({ ...toRow(r), chainHash: Buffer.from(r.chain_hash) }));
  }

  /**
   * Rows still holding content whose stored time is before `before`, in index order: the
   * retention job's candidates, which it checks against their leaves before purging any.
   */
  async contentBefore(db: Kysely<Database>, before: number, afterIndex: number, limit: number): Promise<AuditEventRow[]> {
    const rows = await db
      .selectFrom('audit_events')
      .select(ROW_COLUMNS)
      .where('occurred_at', '<', before)
      .where('event', 'is not', null)
      .where('log_index', '>', afterIndex)
      .orderBy('log_index')
      .limit(limit)
      .execute();
    return rows.map(toRow);
  }

  /**
   * Clears the content of the events at `indexes`, keeping index, tenant, time, leaf and chain
   * hashes (the only change the PostgreSQL trigger lets through). Returns how many.
   */
  async purgeContent(tx: Kysely<Database>, indexes: readonly number[], now: number): Promise<number> {
    if (indexes.length === 0) return 0;
    const result = await tx
      .updateTable('audit_events')
      .set({ event: null, actor_type: null, actor_id: null, action: null, resource: null, purged_at: now })
      .where('log_index', 'in', indexes)
      .where('event', 'is not', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  /** Announces the retention purge to the PostgreSQL trigger, for this transaction only (SET LOCAL). */
  async allowRetentionPurge(tx: Kysely<Database>): Promise<void> {
    await sql`select set_config('sealpost.retention', 'on', true)`.execute(tx);
  }
}
