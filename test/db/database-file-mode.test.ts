import { chmodSync, closeSync, existsSync, mkdtempSync, openSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/database.js';

const mode = (file: string): number => statSync(file).mode & 0o777;

describe('SQLite database files', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function openAndWrite(file: string): Promise<() => Promise<void>> {
    const handle = openDatabase({ dialect: 'sqlite', file });
    await sql`create table if not exists t (x integer)`.execute(handle.db);
    await sql`insert into t values (1)`.execute(handle.db);
    return () => handle.close();
  }

  it('are readable by the service user only: the database, -wal and -shm are 0600', async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'sealpost-mode-'));
    const file = path.join(dir, 'sealpost.db');
    const previous = process.umask(0o022);
    try {
      const close = await openAndWrite(file);
      for (const f of [file, `${file}-wal`, `${file}-shm`]) {
        expect(existsSync(f), f).toBe(true);
        expect(mode(f), f).toBe(0o600);
      }
      await close();
    } finally {
      process.umask(previous);
    }
  });

  it('tightens a database file created world-readable before this rule', async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'sealpost-mode-'));
    const file = path.join(dir, 'sealpost.db');
    closeSync(openSync(file, 'w'));
    chmodSync(file, 0o644);
    const close = await openAndWrite(file);
    for (const f of [file, `${file}-wal`, `${file}-shm`]) expect(mode(f), f).toBe(0o600);
    await close();
  });
});
