import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditLog } from '../../src/audit/audit-log.js';
import { verifyStoredAuditLog } from '../../src/audit/audit-verify.js';
import type { DatabaseHandle } from '../../src/db/database.js';
import { GroupCommitter } from '../../src/db/group-commit.js';
import { sampleEvent } from '../audit/audit-test-support.js';
import { createTestDatabase, testDialects, type TestDatabase } from '../support/test-database.js';

describe.each(testDialects())('group commit on %s', (dialect) => {
  let testDb: TestDatabase;
  let handle: DatabaseHandle;
  const log = new AuditLog();

  beforeAll(async () => {
    testDb = await createTestDatabase(dialect);
    handle = await testDb.openMigrated();
  });
  afterAll(async () => {
    await testDb.dispose();
  });

  const tenantIds = async (): Promise<string[]> => (await handle.db.selectFrom('tenants').select('id').orderBy('id').execute()).map((r) => r.id);
  const insertTenant = (id: string) => (tx: DatabaseHandle['db']) =>
    tx.insertInto('tenants').values({ id, name: id, plan: 'operation', created_at: 1, erased_at: null, erasure_token_sha256: null, erasure_requested_by: null, erasure_expires_at: null }).execute();

  it('writes concurrent units in one batch, and a unit that fails is rolled back alone', async () => {
    const committer = GroupCommitter.forDatabase(handle);
    await committer.run(insertTenant('ten_first'));
    // Submitted in one turn: they share a batch. The third repeats a primary key.
    const results = await Promise.allSettled([
      committer.run(async (tx) => {
        await insertTenant('ten_a')(tx);
        await log.append(tx, sampleEvent(1));
        return 'a';
      }),
      committer.run(async (tx) => {
        await log.append(tx, sampleEvent(2));
        await insertTenant('ten_b')(tx);
        return 'b';
      }),
      committer.run(async (tx) => {
        // Logs, then fails: its event must go with it and leave no gap in the chain.
        await log.append(tx, sampleEvent(3));
        await insertTenant('ten_first')(tx);
      }),
      committer.run(async (tx) => {
        await insertTenant('ten_c')(tx);
        await log.append(tx, sampleEvent(4));
        return 'c';
      }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect(results.filter((r) => r.status === 'fulfilled').map((r) => r.value)).toEqual(['a', 'b', 'c']);
    expect(await tenantIds()).toEqual(['ten_a', 'ten_b', 'ten_c', 'ten_first']);

    const events = await handle.db.selectFrom('audit_events').select(['log_index', 'event', 'leaf_hash', 'chain_hash']).orderBy('log_index').execute();
    expect(events.map((e) => Number(e.log_index))).toEqual([0, 1, 2]);
    expect(events.map((e) => (JSON.parse(e.event!) as { resource: string }).resource)).toEqual([sampleEvent(1).resource, sampleEvent(2).resource, sampleEvent(4).resource]);
    let chain = Buffer.alloc(32);
    for (const row of events) {
      chain = createHash('sha256').update(chain).update(Buffer.from(row.leaf_hash)).digest();
      expect(Buffer.from(row.chain_hash)).toEqual(chain);
    }
    expect(await verifyStoredAuditLog(handle.db, { now: Date.UTC(2026, 0, 1) })).toMatchObject({ ok: true, events: 3 });
  });

  it('writes a batch whose units all succeed, with their values, in order', async () => {
    const committer = GroupCommitter.forDatabase(handle);
    const values = await Promise.all(['ten_d', 'ten_e', 'ten_f'].map((id, i) => committer.run(async (tx) => {
      await insertTenant(id)(tx);
      return i;
    })));
    expect(values).toEqual([0, 1, 2]);
    expect(await tenantIds()).toEqual(expect.arrayContaining(['ten_d', 'ten_e', 'ten_f']));
  });
});
