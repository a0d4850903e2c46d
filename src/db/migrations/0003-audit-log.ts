import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../database.js';
import { columnTypes } from '../column-types.js';

/**
 * The audit log (src/audit/): events in one global, gap-free sequence with their RFC 9162 leaf
 * hashes and a hash chain, the head row that sequences appenders, the log's signing key
 * (private half sealed by src/crypto/record-cipher.ts) and the signed checkpoints.
 *
 * On PostgreSQL, triggers make the events and checkpoints append-only; the only change they let
 * through is the retention purge (src/audit/retention.ts), which must announce itself with
 * `set_config('sealpost.retention', 'on', true)` and may only clear an event's content.
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const t = columnTypes(dialect);

  await db.schema
    .createTable('audit_events')
    .addColumn('log_index', t.bigint, (c) => c.primaryKey())
    // Kept after a purge, so tenants can still be told which proofs are theirs. No foreign key:
    // system events have none, and the log outlives any tenant.
    .addColumn('tenant_id', 'text')
    .addColumn('occurred_at', t.bigint, (c) => c.notNull())
    // Copies of event fields for filtering; cleared with the content by the purge.
    .addColumn('actor_type', 'text')
    .addColumn('actor_id', 'text')
    .addColumn('action', 'text')
    .addColumn('resource', 'text')
    // RFC 8785 canonical JSON of the event: the exact bytes under the leaf hash. Text, not jsonb,
    // because jsonb would reorder and respace it. NULL once purged.
    .addColumn('event', 'text')
    .addColumn('leaf_hash', t.bytes, (c) => c.notNull())
    // SHA-256(previous chain_hash || leaf_hash): lets `sealpost audit verify` name the exact
    // index at which rows were removed or reordered.
    .addColumn('chain_hash', t.bytes, (c) => c.notNull())
    .addColumn('purged_at', t.bigint)
    .execute();
  await db.schema.createIndex('audit_events_tenant').on('audit_events').columns(['tenant_id', 'log_index']).execute();
  await db.schema.createIndex('audit_events_occurred').on('audit_events').columns(['occurred_at']).execute();

  // One row: the next index to hand out. Appenders lock it for the rest of their transaction.
  await db.schema
    .createTable('audit_log_head')
    .addColumn('id', 'integer', (c) => c.primaryKey().check(sql`id = 1`))
    .addColumn('size', t.bigint, (c) => c.notNull())
    .execute();
  await sql`insert into audit_log_head (id, size) values (1, 0)`.execute(db);

  await db.schema
    .createTable('audit_log_keys')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('public_key', t.bytes, (c) => c.notNull())
    .addColumn('private_key_sealed', t.bytes, (c) => c.notNull())
    // 1 for the key that signs new checkpoints, NULL for retired ones; unique, so processes
    // racing to create the first key agree on one.
    .addColumn('is_current', 'integer', (c) => c.unique())
    .addColumn('created_at', t.bigint, (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('audit_checkpoints')
    .addColumn('tree_size', t.bigint, (c) => c.primaryKey())
    .addColumn('root_hash', t.bytes, (c) => c.notNull())
    // The whole C2SP signed note, as served.
    .addColumn('note', 'text', (c) => c.notNull())
    .addColumn('key_id', 'text', (c) => c.notNull().references('audit_log_keys.id'))
    .addColumn('created_at', t.bigint, (c) => c.notNull())
    .execute();

  if (dialect !== 'postgres') return;

  await sql`
    create function sealpost_audit_events_guard() returns trigger language plpgsql as $$
    begin
      if tg_op = 'UPDATE'
         and coalesce(current_setting('sealpost.retention', true), '') = 'on'
         and new.log_index = old.log_index
         and new.leaf_hash = old.leaf_hash
         and new.chain_hash = old.chain_hash
         and new.tenant_id is not distinct from old.tenant_id
         and new.occurred_at = old.occurred_at
         and new.event is null
         and new.purged_at is not null then
        return new;
      end if;
      raise exception 'audit_events is append-only: % refused', tg_op using errcode = 'insufficient_privilege';
    end
    $$`.execute(db);
  await sql`
    create trigger audit_events_append_only before update or delete on audit_events
    for each row execute function sealpost_audit_events_guard()`.execute(db);
  await sql`
    create trigger audit_events_no_truncate before truncate on audit_events
    for each statement execute function sealpost_audit_events_guard()`.execute(db);

  await sql`
    create function sealpost_audit_checkpoints_guard() returns trigger language plpgsql as $$
    begin
      raise exception 'audit_checkpoints is append-only: % refused', tg_op using errcode = 'insufficient_privilege';
    end
    $$`.execute(db);
  await sql`
    create trigger audit_checkpoints_append_only before update or delete on audit_checkpoints
    for each row execute function sealpost_audit_checkpoints_guard()`.execute(db);
  await sql`
    create trigger audit_checkpoints_no_truncate before truncate on audit_checkpoints
    for each statement execute function sealpost_audit_checkpoints_guard()`.execute(db);
}
