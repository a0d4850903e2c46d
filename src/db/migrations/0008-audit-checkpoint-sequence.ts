import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../database.js';
import { columnTypes } from '../column-types.js';

/**
 * Checkpoints are numbered: `seq` is how many checkpoints were issued before this one, and the
 * same number is signed inside the note (src/audit/checkpoint.ts), so `sealpost audit verify`
 * finds a deleted checkpoint by the gap it leaves. Unique, so processes racing to sign agree on
 * one checkpoint per number. Checkpoints signed before this migration have none (NULL); the
 * first numbered one counts them.
 *
 * On PostgreSQL the purge may now only clear an event: the trigger also requires the column
 * copies of the event (actor, action, resource) to be emptied with it.
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const t = columnTypes(dialect);
  await db.schema.alterTable('audit_checkpoints').addColumn('seq', t.bigint).execute();
  await db.schema.createIndex('audit_checkpoints_seq').unique().on('audit_checkpoints').column('seq').execute();

  if (dialect !== 'postgres') return;
  await sql`
    create or replace function sealpost_audit_events_guard() returns trigger language plpgsql as $$
    begin
      if tg_op = 'UPDATE'
         and coalesce(current_setting('sealpost.retention', true), '') = 'on'
         and new.log_index = old.log_index
         and new.leaf_hash = old.leaf_hash
         and new.chain_hash = old.chain_hash
         and new.tenant_id is not distinct from old.tenant_id
         and new.occurred_at = old.occurred_at
         and new.event is null
         and new.actor_type is null and new.actor_id is null and new.action is null and new.resource is null
         and new.purged_at is not null then
        return new;
      end if;
      raise exception 'audit_events is append-only: % refused', tg_op using errcode = 'insufficient_privilege';
    end
    $$`.execute(db);
}
