import { createHash, generateKeyPairSync } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { rawPublicKey, verifierKey } from '../../src/audit/checkpoint.js';
import type { Database } from '../../src/db/schema.js';
import { runCli } from '../support/cli.js';
import { createTestDatabase, testDialects, type TestDatabase } from '../support/test-database.js';
import { appendMany, cliEnvFor, sampleEvent, servicesFor } from './audit-test-support.js';

const EVENTS = 20;
/** Each `sealpost` run is a cold start of Node and tsx: seconds apiece on a busy machine. */
const CLI_TEST_TIMEOUT_MS = 180_000;

describe.each(testDialects())('sealpost audit verify on %s', { timeout: CLI_TEST_TIMEOUT_MS }, (dialect) => {
  let testDb: TestDatabase | undefined;
  afterEach(async () => {
    await testDb?.dispose();
    testDb = undefined;
  });

  /** A log of 20 events with signed checkpoints at sizes 8 and 20, and a way to edit it behind the log's back. */
  async function seededLog(): Promise<{ db: Kysely<Database>; env: Record<string, string>; logKey: string }> {
    testDb = await createTestDatabase(dialect);
    const handle = await testDb.openMigrated();
    const services = servicesFor(testDb, handle);
    await appendMany(services, handle.db, 8);
    await services.checkpoints.current();
    await appendMany(services, handle.db, EVENTS - 8, (i) => sampleEvent(8 + i));
    await services.checkpoints.current();
    if (dialect === 'postgres') await sql`alter table audit_events disable trigger user`.execute(handle.db);
    return { db: handle.db, env: cliEnvFor(testDb), logKey: (await services.keys.currentKey()).verifierKey };
  }

  async function verify(env: Record<string, string>, extra: string[] = []): Promise<{ code: number; report: { ok: boolean; firstBadIndex: number | null; problems: { reason: string }[] } }> {
    const result = await runCli(['audit', 'verify', '--json', ...extra], env);
    expect(result.stderr).toBe('');
    return { code: result.code, report: JSON.parse(result.stdout) as never };
  }

  it('accepts an untouched log, with the stored keys or a pinned one', async () => {
    const { env, logKey } = await seededLog();
    const human = await runCli(['audit', 'verify'], env);
    expect(human).toMatchObject({ code: 0, stdout: `audit log verified: ${EVENTS} events, 2 signed checkpoints match\n` });
    expect((await verify(env, ['--log-key', logKey])).code).toBe(0);
  });

  it('reports a changed event at its index', async () => {
    const { db, env } = await seededLog();
    const row = await db.selectFrom('audit_events').select('event').where('log_index', '=', 5).executeTakeFirstOrThrow();
    await db.updateTable('audit_events').set({ event: (row.event as string).replace('"n":5', '"n":6') }).where('log_index', '=', 5).execute();
    const { code, report } = await verify(env);
    expect(code).toBe(1);
    expect(report.firstBadIndex).toBe(5);
    expect(report.problems[0]?.reason).toMatch(/content was changed/);
  });

  it('reports a deleted event at its index', async () => {
    const { db, env } = await seededLog();
    await db.deleteFrom('audit_events').where('log_index', '=', 7).execute();
    const { code, report } = await verify(env);
    expect([code, report.firstBadIndex]).toEqual([1, 7]);
    expect(report.problems[0]?.reason).toMatch(/event 7 is missing/);
  });

  it('reports two swapped events at the first of them', async () => {
    const { db, env } = await seededLog();
    await db.updateTable('audit_events').set({ log_index: -1 }).where('log_index', '=', 3).execute();
    await db.updateTable('audit_events').set({ log_index: 3 }).where('log_index', '=', 11).execute();
    await db.updateTable('audit_events').set({ log_index: 11 }).where('log_index', '=', -1).execute();
    const { code, report } = await verify(env);
    expect([code, report.firstBadIndex]).toEqual([1, 3]);
  });

  it('reports a truncated log at the first missing index', async () => {
    const { db, env } = await seededLog();
    await db.deleteFrom('audit_events').where('log_index', '>=', 15).execute();
    const { code, report } = await verify(env);
    expect([code, report.firstBadIndex]).toEqual([1, 15]);
    expect(report.problems[0]?.reason).toMatch(/truncated/);
    // Hiding it by also rewinding the head does not help: the signed checkpoint of 20 remains.
    await db.updateTable('audit_log_head').set({ size: 15 }).execute();
    expect((await verify(env)).report.firstBadIndex).toBe(15);
  });

  it('catches a rewrite that recomputed leaf and chain hashes, from the last checkpoint that still matches', async () => {
    const { db, env } = await seededLog();
    const rows = await db.selectFrom('audit_events').select(['log_index', 'event', 'leaf_hash']).orderBy('log_index').execute();
    let chain = Buffer.alloc(32);
    for (const row of rows) {
      let leaf = Buffer.from(row.leaf_hash);
      if (row.log_index === 12) {
        const event = (row.event as string).replace('"n":12', '"n":99');
        leaf = createHash('sha256').update(Buffer.from([0])).update(event).digest();
        await db.updateTable('audit_events').set({ event, leaf_hash: leaf }).where('log_index', '=', 12).execute();
      }
      chain = createHash('sha256').update(chain).update(leaf).digest();
      await db.updateTable('audit_events').set({ chain_hash: chain }).where('log_index', '=', row.log_index).execute();
    }
    const { code, report } = await verify(env);
    expect([code, report.firstBadIndex]).toEqual([1, 8]);
    expect(report.problems[0]?.reason).toMatch(/does not match its signed checkpoint/);
  });

  it('refuses checkpoints not signed by the pinned key', async () => {
    const { env } = await seededLog();
    const other = generateKeyPairSync('ed25519');
    const { code, report } = await verify(env, ['--log-key', verifierKey({ name: 'sealpost.test/audit', publicKey: rawPublicKey(other.publicKey) })]);
    expect(code).toBe(1);
    expect(report.problems.map((p) => p.reason)).toEqual([
      expect.stringMatching(/checkpoint 8: note is not signed/),
      expect.stringMatching(/checkpoint 20: note is not signed/),
      expect.stringMatching(/no checkpoint of these 20 events is signed by the pinned key/),
      expect.stringMatching(/event 0 and later are older than 10 minutes and no signed checkpoint covers them/),
    ]);
  });
});

describe('sealpost audit verify without its database', { timeout: CLI_TEST_TIMEOUT_MS }, () => {
  it('exits 2, "could not check", not 1: an outage is not a tampered log', async () => {
    // Port 1 on loopback: nothing listens there, so the connection is refused at once.
    const result = await runCli(['audit', 'verify'], { SEALPOST_DATABASE_URL: 'postgres://nobody:secret-pw@127.0.0.1:1/sealpost', SEALPOST_DATA_DIR: '/nonexistent' });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^sealpost audit verify: could not check: .*ECONNREFUSED/);
    expect(result.stderr).not.toContain('secret-pw');
  });
});
