import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AuditLog } from '../../src/audit/audit-log.js';
import { verifyStoredAuditLog } from '../../src/audit/audit-verify.js';
import type { DatabaseHandle } from '../../src/db/database.js';
import { waitForExit } from '../support/cli.js';
import { createTestDatabase, testDialects, type TestDatabase } from '../support/test-database.js';

const fixture = path.join(import.meta.dirname, 'fixtures/append-many.ts');
const PER_WRITER = 1000;

async function expectGapFree(handle: DatabaseHandle, total: number, writers: string[]): Promise<void> {
  const rows = await handle.db.selectFrom('audit_events').select(['log_index', 'event']).orderBy('log_index').execute();
  expect(rows.map((r) => r.log_index)).toEqual(Array.from({ length: total }, (_, i) => i));
  for (const writer of writers) {
    const mine = rows.map((r) => JSON.parse(r.event as string) as { details: { writer: string; n: number } }).filter((e) => e.details.writer === writer);
    expect(mine.map((e) => e.details.n).sort((a, b) => a - b)).toEqual(Array.from({ length: PER_WRITER }, (_, i) => i));
  }
  const report = await verifyStoredAuditLog(handle.db);
  expect(report).toMatchObject({ ok: true, events: total });
  expect((await handle.db.selectFrom('audit_log_head').select('size').executeTakeFirstOrThrow()).size).toBe(total);
}

describe.runIf(testDialects().includes('postgres'))('concurrent audit writers on PostgreSQL', () => {
  let testDb: TestDatabase | undefined;
  const children: ChildProcess[] = [];

  afterEach(async () => {
    for (const child of children.splice(0)) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await waitForExit(child);
    }
    await testDb?.dispose();
  });

  it('two connection pools appending 1,000 events each get gap-free indexes 0..1999 and a verifiable tree', async () => {
    testDb = await createTestDatabase('postgres');
    const a = await testDb.openMigrated();
    const b = testDb.open();
    const log = new AuditLog();
    const write = async (handle: DatabaseHandle, writer: string): Promise<void> => {
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < PER_WRITER) {
          const n = next++;
          await log.appendInOwnTransaction(handle.db, { time: new Date().toISOString(), tenant: null, actor: { type: 'system', id: writer }, action: 'api.request', details: { writer, n } });
        }
      };
      await Promise.all(Array.from({ length: 8 }, worker));
    };
    await Promise.all([write(a, 'pool-a'), write(b, 'pool-b')]);
    await expectGapFree(a, 2 * PER_WRITER, ['pool-a', 'pool-b']);
  }, 120_000);

  it('two processes appending 1,000 events each get gap-free indexes 0..1999 and a verifiable tree', async () => {
    testDb = await createTestDatabase('postgres');
    const handle = await testDb.openMigrated();
    if (testDb.config.dialect !== 'postgres') throw new Error('unreachable');
    const url = testDb.config.url;
    let stderr = '';
    for (const label of ['proc-a', 'proc-b']) {
      const child = spawn(process.execPath, ['--conditions=sealpost-source', '--import', 'tsx', fixture, url, String(PER_WRITER), label], { stdio: ['ignore', 'ignore', 'pipe'] });
      child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      children.push(child);
    }
    const codes = await Promise.all(children.map(waitForExit));
    expect(codes, stderr).toEqual([0, 0]);
    await expectGapFree(handle, 2 * PER_WRITER, ['proc-a', 'proc-b']);
  }, 120_000);
});
