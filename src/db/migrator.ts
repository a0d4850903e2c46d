import { sql, type Kysely, type Transaction } from 'kysely';
import type { Dialect } from './database.js';
import * as m0001 from './migrations/0001-data-keys.js';
import * as m0002 from './migrations/0002-tenants-payloads-deliveries.js';
import * as m0003 from './migrations/0003-audit-log.js';
import * as m0004 from './migrations/0004-signing-keys-receipts.js';
import * as m0005 from './migrations/0005-inboxes.js';
import * as m0006 from './migrations/0006-delivery-lease-index.js';
import * as m0007 from './migrations/0007-tenant-signing-keys.js';
import * as m0008 from './migrations/0008-audit-checkpoint-sequence.js';
import * as m0009 from './migrations/0009-rate-limit-windows.js';
import * as m0010 from './migrations/0010-hashed-credentials.js';
import * as m0011 from './migrations/0011-operators-sessions.js';
import * as m0012 from './migrations/0012-second-factors.js';
import * as m0013 from './migrations/0013-tenant-lifecycle.js';
import * as m0014 from './migrations/0014-key-versions-locks-heartbeats.js';
import * as m0015 from './migrations/0015-sso.js';
import * as m0016 from './migrations/0016-backup-snapshots-drills.js';
import * as m0017 from './migrations/0017-staff.js';
import * as m0019 from './migrations/0019-trust-security-keys.js';
import * as m0020 from './migrations/0020-status-page.js';
import * as m0021 from './migrations/0021-security-operations.js';
import * as m0022 from './migrations/0022-status-webhooks.js';

type MigrationModule = { up(db: Kysely<unknown>, dialect: Dialect): Promise<void> };

/**
 * Numbered, forward-only migrations, listed explicitly so the build needs no file-system
 * discovery. Never edit one that has shipped: add the next number.
 */
const MIGRATIONS: readonly (readonly [string, MigrationModule])[] = [
  ['0001-data-keys', m0001],
  ['0002-tenants-payloads-deliveries', m0002],
  ['0003-audit-log', m0003],
  ['0004-signing-keys-receipts', m0004],
  ['0005-inboxes', m0005],
  ['0006-delivery-lease-index', m0006],
  ['0007-tenant-signing-keys', m0007],
  ['0008-audit-checkpoint-sequence', m0008],
  ['0009-rate-limit-windows', m0009],
  ['0010-hashed-credentials', m0010],
  ['0011-operators-sessions', m0011],
  ['0012-second-factors', m0012],
  ['0013-tenant-lifecycle', m0013],
  ['0014-key-versions-locks-heartbeats', m0014],
  ['0015-sso', m0015],
  ['0016-backup-snapshots-drills', m0016],
  ['0017-staff', m0017],
  ['0019-trust-security-keys', m0019],
  ['0020-status-page', m0020],
  ['0021-security-operations', m0021],
  ['0022-status-webhooks', m0022],
];

export const MIGRATION_NAMES = MIGRATIONS.map(([name]) => name);

/** Arbitrary constant naming Sealpost's migration lock among PostgreSQL advisory locks. */
const PG_MIGRATION_LOCK = 0x5ea1_9057;

/**
 * Applies pending migrations in one transaction that holds an exclusive lock (PostgreSQL:
 * an advisory transaction lock; SQLite: BEGIN IMMEDIATE), so several processes starting at
 * once apply each migration exactly once and a failed migration leaves nothing behind. Both
 * dialects have transactional DDL. Returns the names applied. `stopAfter` (tests of a
 * migration's data changes only) applies the migrations up to and including that one.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations run before the typed schema exists
export async function migrateToLatest(db: Kysely<any>, dialect: Dialect, options: { stopAfter?: string } = {}): Promise<string[]> {
  const apply = async (tx: Kysely<unknown>): Promise<string[]> => {
    await tx.schema
      .createTable('schema_migrations')
      .ifNotExists()
      .addColumn('name', 'text', (c) => c.primaryKey())
      .addColumn('applied_at', dialect === 'postgres' ? 'bigint' : 'integer', (c) => c.notNull())
      .execute();
    const rows = await sql<{ name: string }>`select name from schema_migrations`.execute(tx);
    const done = new Set(rows.rows.map((r) => r.name));
    const applied: string[] = [];
    for (const [name, module] of MIGRATIONS) {
      if (!done.has(name)) {
        await module.up(tx, dialect);
        await sql`insert into schema_migrations (name, applied_at) values (${name}, ${Date.now()})`.execute(tx);
        applied.push(name);
      }
      if (name === options.stopAfter) break;
    }
    return applied;
  };

  if (dialect === 'postgres') {
    return db.transaction().execute(async (tx: Transaction<unknown>) => {
      await sql`select pg_advisory_xact_lock(${PG_MIGRATION_LOCK})`.execute(tx);
      return apply(tx);
    });
  }
  return db.connection().execute(async (conn) => {
    await sql`begin immediate`.execute(conn);
    try {
      const applied = await apply(conn);
      await sql`commit`.execute(conn);
      return applied;
    } catch (err) {
      await sql`rollback`.execute(conn);
      throw err;
    }
  });
}
