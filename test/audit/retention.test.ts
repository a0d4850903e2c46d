import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyCheckpoint } from '../../packages/verify/src/checkpoint.js';
import { verifyConsistency, verifyInclusion } from '../../packages/verify/src/merkle.js';
import type { AuditServices } from '../../src/app/audit-services.js';
import { verifyStoredAuditLog } from '../../src/audit/audit-verify.js';
import { monthsBefore } from '../../src/audit/retention.js';
import type { DatabaseHandle } from '../../src/db/database.js';
import { createTestDatabase, testDialects, type TestDatabase } from '../support/test-database.js';
import { sampleEvent, servicesFor } from './audit-test-support.js';

const NOW = Date.UTC(2027, 5, 15, 12);
const MONTH = 30 * 86_400_000;

describe.each(testDialects())('audit retention on %s', (dialect) => {
  let testDb: TestDatabase;
  let handle: DatabaseHandle;
  let services: AuditServices;

  beforeAll(async () => {
    testDb = await createTestDatabase(dialect);
    handle = await testDb.openMigrated();
    services = servicesFor(testDb, handle, () => NOW);
    // Events 0..9 are 14 months old, 10..19 are 2 months old.
    for (let i = 0; i < 20; i += 1) {
      const time = new Date(NOW - (i < 10 ? 14 : 2) * MONTH + i * 1000).toISOString();
      await services.log.appendInOwnTransaction(handle.db, sampleEvent(i, { time, tenant: 'ten_A' }));
    }
  });
  afterAll(async () => {
    await testDb.dispose();
  });

  it('counts whole calendar months', () => {
    expect(new Date(monthsBefore(Date.UTC(2027, 5, 15), 12)).toISOString()).toBe('2026-06-15T00:00:00.000Z');
  });

  it('clears old content, keeps leaf hashes, records the purge, and every proof stays valid', async () => {
    const before = await services.checkpoints.current();
    const leavesBefore = await handle.db.selectFrom('audit_events').select(['log_index', 'leaf_hash']).orderBy('log_index').execute();

    const result = await services.retention.purgeExpired();
    expect(result).toEqual({ before: '2026-06-15T12:00:00.000Z', purged: 10, index: 20, refused: [] });

    const rows = await handle.db.selectFrom('audit_events').selectAll().orderBy('log_index').execute();
    expect(rows.slice(0, 10).every((r) => r.event === null && r.actor_id === null && r.action === null && r.purged_at === NOW && r.tenant_id === 'ten_A')).toBe(true);
    expect(rows.slice(10, 20).every((r) => r.event !== null && r.purged_at === null)).toBe(true);
    expect(rows.slice(0, 20).map((r) => Buffer.from(r.leaf_hash))).toEqual(leavesBefore.map((r) => Buffer.from(r.leaf_hash)));
    expect(JSON.parse(rows[20]!.event as string)).toMatchObject({ action: 'retention.purged', actor: { type: 'system', id: 'retention' }, tenant: null, details: { purged: 10, months: 12 } });

    // Proofs for purged events still verify against a checkpoint signed after the purge...
    const after = await services.checkpoints.current();
    const key = (await services.keys.currentKey()).verifierKey;
    const head = verifyCheckpoint(after.note, key);
    for (let index = 0; index < 10; index += 1) {
      const proof = await services.audit.inclusionProof('ten_A', index);
      expect(verifyInclusion(proof.leafHash, index, head.treeSize, proof.proof, head.rootHash)).toBe(true);
    }
    // ...the old checkpoint is consistent with the new one, and the whole log still verifies.
    expect(verifyConsistency(before.treeSize, after.treeSize, await services.audit.consistencyProof(before.treeSize, after.treeSize), before.rootHash, after.rootHash)).toBe(true);
    expect(await verifyStoredAuditLog(handle.db, { now: NOW })).toMatchObject({ ok: true, events: 21 });
    // Purged events are gone from listings.
    expect((await services.audit.listEvents('ten_A', {})).events.map((e) => e.index)).toEqual(Array.from({ length: 10 }, (_, i) => 10 + i));
  });

  it('records a run that found nothing to purge too', async () => {
    expect(await services.retention.purgeExpired()).toMatchObject({ purged: 0, index: 21 });
  });

  it('does not purge a fresh event whose occurred_at copy was back-dated', async () => {
    const fresh = await services.log.appendInOwnTransaction(handle.db, sampleEvent(50, { time: new Date(NOW - 86_400_000).toISOString(), tenant: 'ten_A' }));
    if (dialect === 'postgres') await sql`alter table audit_events disable trigger user`.execute(handle.db);
    await handle.db.updateTable('audit_events').set({ occurred_at: 0 }).where('log_index', '=', fresh.index).execute();
    if (dialect === 'postgres') await sql`alter table audit_events enable trigger user`.execute(handle.db);
    const result = await services.retention.purgeExpired();
    expect(result).toMatchObject({ purged: 0, refused: [fresh.index] });
    const row = await handle.db.selectFrom('audit_events').select(['event', 'purged_at']).where('log_index', '=', fresh.index).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ event: expect.any(String), purged_at: null });
    expect(await verifyStoredAuditLog(handle.db, { now: NOW })).toMatchObject({ ok: false, firstBadIndex: fresh.index });
  });

  it.runIf(dialect === 'postgres')('is the only way past the trigger', async () => {
    await expect(sql`update audit_events set event = null, purged_at = 1 where log_index = 15`.execute(handle.db)).rejects.toThrow(/append-only/);
  });
});
