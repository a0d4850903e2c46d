import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditLog } from '../../src/audit/audit-log.js';
import { verifyStoredAuditLog } from '../../src/audit/audit-verify.js';
import { canonicalJson } from '../../src/crypto/canonical-json.js';
import type { DatabaseHandle } from '../../src/db/database.js';
import { isSealpostError } from '../../src/errors/sealpost-error.js';
import { createTestDatabase, testDialects, type TestDatabase } from '../support/test-database.js';
import { sampleEvent } from './audit-test-support.js';

describe.each(testDialects())('audit log append on %s', (dialect) => {
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

  const rows = () => handle.db.selectFrom('audit_events').select(['log_index', 'event', 'leaf_hash', 'tenant_id', 'action']).orderBy('log_index').execute();

  it('gives consecutive indexes from 0 and stores the canonical event under its RFC 9162 leaf hash', async () => {
    const first = await log.appendInOwnTransaction(handle.db, sampleEvent(1));
    const second = await log.appendInOwnTransaction(handle.db, sampleEvent(2, { request: { method: 'GET', route: '/v1/x/:id', status: 200, ip: '127.0.0.1', user_agent: '', request_id: 'r1' } }));
    expect([first.index, second.index]).toEqual([0, 1]);
    const stored = await rows();
    const canonical = canonicalJson(sampleEvent(1));
    expect(stored[0]?.event).toBe(canonical.toString('utf8'));
    const leaf = createHash('sha256').update(Buffer.from([0])).update(canonical).digest();
    expect(Buffer.from(stored[0]!.leaf_hash)).toEqual(leaf);
    expect(first.leafHash).toBe(leaf.toString('base64'));
    expect(stored[1]).toMatchObject({ tenant_id: 'ten_A', action: 'api_key.created' });
  });

  it('commits the event with the action, and an action that fails leaves no event and no gap', async () => {
    const before = (await rows()).length;
    await expect(
      handle.db.transaction().execute(async (tx) => {
        await log.append(tx, sampleEvent(3));
        throw new Error('the action failed after logging');
      }),
    ).rejects.toThrow('the action failed');
    expect((await rows()).length).toBe(before);
    const next = await log.appendInOwnTransaction(handle.db, sampleEvent(4));
    expect(next.index).toBe(before);
  });

  it('fails the action when its event cannot be recorded', async () => {
    const attempt = (details: Record<string, string>) =>
      handle.db.transaction().execute(async (tx) => {
        await tx.insertInto('tenants').values({ id: 'ten_refused', name: 'x', plan: 'starter', created_at: 0 }).execute();
        await log.append(tx, sampleEvent(5, { details }));
      });
    const refused: Record<string, string>[] = [{ api_token: 'sp_live_…' }, { client_secret: 'x' }, { body: '…' }, { big: 'x'.repeat(5000) }];
    for (const details of refused) {
      const err: unknown = await attempt(details).catch((e: unknown) => e);
      expect(isSealpostError(err) && err.code).toBe('SP_ERR_AUDIT_EVENT_INVALID');
    }
    await expect(log.appendInOwnTransaction(handle.db, { ...sampleEvent(6), action: 'tea.made' as never })).rejects.toMatchObject({ code: 'SP_ERR_AUDIT_EVENT_INVALID' });
    await expect(log.appendInOwnTransaction(handle.db, { ...sampleEvent(6), time: '2026-01-01' })).rejects.toMatchObject({ code: 'SP_ERR_AUDIT_EVENT_INVALID' });
    await expect(log.appendInOwnTransaction(handle.db, { ...sampleEvent(6), resource: 'a\ud800b' })).rejects.toMatchObject({ code: 'SP_ERR_AUDIT_EVENT_INVALID' });
    expect(await handle.db.selectFrom('tenants').select('id').where('id', '=', 'ten_refused').execute()).toEqual([]);
  });

  it('refuses to append outside a transaction', async () => {
    await expect(log.append(handle.db, sampleEvent(7))).rejects.toThrow(/inside a transaction/);
  });

  it('chains several appends of one transaction, also past a unit rolled back to its savepoint', async () => {
    const before = (await rows()).length;
    await handle.db.transaction().execute(async (tx) => {
      await log.append(tx, sampleEvent(8));
      // A group-commit unit that logs twice and then fails: its events go, the chain must not skip.
      await sql`savepoint unit`.execute(tx);
      await log.append(tx, sampleEvent(9));
      await log.append(tx, sampleEvent(10));
      await sql`rollback to savepoint unit`.execute(tx);
      await sql`release savepoint unit`.execute(tx);
      await log.append(tx, sampleEvent(11));
      await log.append(tx, sampleEvent(12));
    });
    const stored = await handle.db.selectFrom('audit_events').select(['log_index', 'leaf_hash', 'chain_hash']).orderBy('log_index').execute();
    expect(stored.length).toBe(before + 3);
    let chain = Buffer.alloc(32);
    for (const row of stored) {
      chain = createHash('sha256').update(chain).update(Buffer.from(row.leaf_hash)).digest();
      expect(Buffer.from(row.chain_hash)).toEqual(chain);
    }
  });

  it('produces a log that verifies', async () => {
    // As a verifier would right after these appends, before the first checkpoint is due.
    const report = await verifyStoredAuditLog(handle.db, { now: Date.UTC(2026, 0, 1) });
    expect(report).toMatchObject({ ok: true, events: (await rows()).length, firstBadIndex: null });
  });

  it.runIf(dialect === 'postgres')('refuses UPDATE, DELETE and TRUNCATE of events outside the retention purge', async () => {
    for (const statement of [
      sql`update audit_events set event = '{}' where log_index = 0`,
      sql`update audit_events set event = null, purged_at = 1 where log_index = 0`,
      sql`delete from audit_events where log_index = 0`,
      sql`truncate audit_events`,
      sql`truncate audit_checkpoints`,
    ]) {
      await expect(statement.execute(handle.db)).rejects.toThrow(/append-only/);
    }
    // Even announced as the retention purge, only clearing content is let through.
    await expect(
      handle.db.transaction().execute(async (tx) => {
        await sql`select set_config('sealpost.retention', 'on', true)`.execute(tx);
        await sql`update audit_events set leaf_hash = chain_hash, event = null, purged_at = 1 where log_index = 0`.execute(tx);
      }),
    ).rejects.toThrow(/append-only/);
    await expect(
      handle.db.transaction().execute(async (tx) => {
        await sql`select set_config('sealpost.retention', 'on', true)`.execute(tx);
        await sql`delete from audit_events where log_index = 0`.execute(tx);
      }),
    ).rejects.toThrow(/append-only/);
    expect((await rows())[0]?.event).not.toBeNull();
  });
});
