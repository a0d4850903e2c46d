import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { inject } from 'vitest';
import type { SealpostConfig } from '../../src/config/config.schema.js';
import { openDatabase, type DatabaseHandle, type Dialect } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrator.js';

/** The dialects this run covers: SQLite always, PostgreSQL when the global setup has one. */
export function testDialects(): Dialect[] {
  return inject('pgUrl') ? ['sqlite', 'postgres'] : ['sqlite'];
}

export interface TestDatabase {
  readonly config: SealpostConfig['database'];
  readonly dir: string;
  /** Opens a fresh connection (migrations are not applied). */
  open(): DatabaseHandle;
  /** Opens and migrates; the handle is closed by dispose(). */
  openMigrated(): Promise<DatabaseHandle>;
  dispose(): Promise<void>;
}

/** A brand-new, empty database of the given dialect: a SQLite file, or a new PostgreSQL database. */
export async function createTestDatabase(dialect: Dialect): Promise<TestDatabase> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sealpost-db-'));
  let config: SealpostConfig['database'];
  let drop = async (): Promise<void> => {};
  if (dialect === 'sqlite') {
    config = { dialect: 'sqlite', file: path.join(dir, 'sealpost.db') };
  } else {
    const adminUrl = inject('pgUrl');
    const name = `sp_test_${randomBytes(6).toString('hex')}`;
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`create database ${name}`);
    await admin.end();
    const url = new URL(adminUrl);
    url.pathname = `/${name}`;
    config = { dialect: 'postgres', url: url.toString() };
    drop = async () => {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    };
  }
  const handles: DatabaseHandle[] = [];
  const open = (): DatabaseHandle => {
    const h = openDatabase(config);
    handles.push(h);
    return h;
  };
  return {
    config,
    dir,
    open,
    async openMigrated() {
      const h = open();
      await migrateToLatest(h.db, h.dialect);
      return h;
    },
    async dispose() {
      for (const h of handles) await h.close().catch(() => undefined);
      await drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
