import { createHash, generateKeyPairSync } from 'node:crypto';
import { SelectQueryNode, sql, type Kysely, type KyselyPlugin } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { auditOriginOf, createAuditServices, type AuditServices } from '../../src/app/audit-services.js';
import { verifyCheckpoint } from '../../packages/verify/src/checkpoint.js';
import { verifyStoredAuditLog, type AuditVerifyReport } from '../../src/audit/audit-verify.js';
import { checkpointBody, rawPublicKey, signNote, type NoteKey } from '../../src/audit/checkpoint.js';
import { UNCHECKPOINTED_GRACE_MS } from '../../src/audit/checkpoint.service.js';
import { MerkleTree } from '../../src/audit/merkle-tree.js';
import type { Database } from '../../src/db/schema.js';
import { createTestDatabase, testDialects, type TestDatabase } from '../support/test-database.js';
import { ORIGIN, appendMany, cipherFor, sampleEvent, servicesFor } from './audit-test-support.js';

const EVENTS = 20;
/** After every sample event (January 2026), long past the grace for uncheckpointed events. */
const NOW = Date.UTC(2026, 5, 1);

describe.each(testDialects())('audit verify on %s', (dialect) => {
  let testDb: TestDatabase | undefined;
  afterEach(async () => {
    await testDb?.dispose();
    testDb = undefined;
  });

  /** 20 events with signed checkpoints at sizes 8 and 20; the PostgreSQL triggers are off, so the test can tamper. */
  async function seededLog(now = () => NOW): Promise<{ db: Kysely<Database>; services: AuditServices; pinned: NoteKey; withOrigin: (origin: string) => AuditServices }> {
    testDb = await createTestDatabase(dialect);
    const handle = await testDb.openMigrated();
    const services = servicesFor(testDb, handle, now);
    await appendMany(services, handle.db, 8);
    await services.checkpoints.current();
    await appendMany(services, handle.db, EVENTS - 8, (i) => sampleEvent(8 + i));
    await services.checkpoints.current();
    if (dialect === 'postgres') {
      await sql`alter table audit_events disable trigger user`.execute(handle.db);
      await sql`alter table audit_checkpoints disable trigger user`.execute(handle.db);
    }
    const key = await services.keys.currentKey();
    const withOrigin = (origin: string): AuditServices => createAuditServices({ db: handle.db, dialect: handle.dialect, cipher: cipherFor(testDb as TestDatabase, handle), origin, now });
    return { db: handle.db, services, pinned: { name: key.name, publicKey: key.publicKey }, withOrigin };
  }

  const verify = (db: Kysely<Database>, options: Parameters<typeof verifyStoredAuditLog>[1] = {}): Promise<AuditVerifyReport> => verifyStoredAuditLog(db, { now: NOW, ...options });

  it('accepts an untouched log, with the stored keys or a pinned one', async () => {
    const { db, pinned } = await seededLog();
    expect(await verify(db)).toMatchObject({ ok: true, events: EVENTS, checkpointsVerified: 2, checkpointsStored: 2 });
    expect(await verify(db, { pinnedKey: pinned })).toMatchObject({ ok: true });
  });

  it.each([
    ['tenant_id', 'ten_Z'],
    ['occurred_at', 0],
    ['actor_type', 'staff'],
    ['actor_id', 'someone'],
    ['action', 'kek.rotated'],
    ['resource', 'key_other'],
  ] as const)('reports an edited %s column at its index', async (column, value) => {
    const { db } = await seededLog();
    await db.updateTable('audit_events').set({ [column]: value }).where('log_index', '=', 5).execute();
    const report = await verify(db);
    expect([report.ok, report.firstBadIndex]).toEqual([false, 5]);
    expect(report.problems[0]?.reason).toBe(`event 5 column ${column} differs from the event under its leaf hash`);
  });

  it('reports an event emptied outside a retention purge', async () => {
    const { db } = await seededLog();
    await db.updateTable('audit_events').set({ event: null }).where('log_index', '=', 6).execute();
    expect(await verify(db)).toMatchObject({ ok: false, firstBadIndex: 6 });
    // Made to look like the purge's own work, with no purge recorded.
    await db.updateTable('audit_events').set({ actor_type: null, actor_id: null, action: null, resource: null, purged_at: NOW }).where('log_index', '=', 6).execute();
    const report = await verify(db);
    expect(report).toMatchObject({ ok: false, firstBadIndex: 6 });
    expect(report.problems[0]?.reason).toMatch(/no retention purge records clearing it/);
  });

  it('accepts a legitimate retention purge, and refuses an event emptied beside it', async () => {
    const purgeTime = Date.UTC(2027, 2, 1);
    const { db, services } = await seededLog(() => purgeTime);
    const result = await services.retention.purgeExpired();
    expect(result).toMatchObject({ purged: EVENTS, refused: [] });
    await services.checkpoints.current();
    expect(await verify(db, { now: purgeTime })).toMatchObject({ ok: true, events: EVENTS + 1 });

    // The purge record fixes the tenant and time of each row it cleared.
    await db.updateTable('audit_events').set({ tenant_id: 'ten_Z' }).where('log_index', '=', 4).execute();
    const report = await verify(db, { now: purgeTime });
    expect(report).toMatchObject({ ok: false, firstBadIndex: 0 });
    expect(report.problems[0]?.reason).toMatch(/tenant or time of a purged event was changed/);
  });

  it('refuses a purge of events younger than the retention period', async () => {
    const purgeTime = Date.UTC(2026, 2, 1);
    const { db, services } = await seededLog(() => purgeTime);
    await services.retention.purgeExpired({ months: 1 });
    await services.checkpoints.current();
    const report = await verify(db, { now: purgeTime });
    expect(report).toMatchObject({ ok: false, firstBadIndex: 0 });
    expect(report.problems[0]?.reason).toMatch(/younger than the retention period \(1 months, at least 12 required\)/);
  });

  it('reports a deleted checkpoint', async () => {
    const { db } = await seededLog();
    await db.deleteFrom('audit_checkpoints').where('tree_size', '=', 8).execute();
    const report = await verify(db);
    expect(report).toMatchObject({ ok: false, firstBadIndex: 0 });
    expect(report.problems[0]?.reason).toMatch(/checkpoint 20 was issued as number 1 .*a checkpoint was deleted/);
  });

  it('reports the newest checkpoint deleted, by the events it left uncovered', async () => {
    const { db } = await seededLog();
    await db.deleteFrom('audit_checkpoints').where('tree_size', '=', EVENTS).execute();
    const report = await verify(db);
    expect(report).toMatchObject({ ok: false, firstBadIndex: 8 });
    expect(report.problems[0]?.reason).toMatch(/event 8 and later are older than 10 minutes and no signed checkpoint covers them/);
  });

  it('gives events written since the newest checkpoint the grace period, and no more', async () => {
    const { db, services } = await seededLog();
    const time = NOW - 60_000;
    await services.log.appendInOwnTransaction(db, sampleEvent(EVENTS, { time: new Date(time).toISOString() }));
    expect(await verify(db)).toMatchObject({ ok: true, events: EVENTS + 1 });
    expect(await verify(db, { now: time + UNCHECKPOINTED_GRACE_MS })).toMatchObject({ ok: true });
    expect(await verify(db, { now: time + UNCHECKPOINTED_GRACE_MS + 1 })).toMatchObject({ ok: false, firstBadIndex: EVENTS });
  });

  it('reports a full rewrite with the hash chain recomputed and every checkpoint dropped, with or without a pinned key', async () => {
    const { db, pinned } = await seededLog();
    const rows = await db.selectFrom('audit_events').select(['log_index', 'event']).orderBy('log_index').execute();
    let chain = Buffer.alloc(32);
    for (const row of rows) {
      const event = (row.event as string).replace('"note":', '"nate":');
      const leaf = createHash('sha256').update(Buffer.from([0])).update(event).digest();
      chain = createHash('sha256').update(chain).update(leaf).digest();
      await db.updateTable('audit_events').set({ event, leaf_hash: leaf, chain_hash: chain }).where('log_index', '=', row.log_index).execute();
    }
    await db.deleteFrom('audit_checkpoints').execute();
    expect(await verify(db)).toMatchObject({ ok: false, firstBadIndex: 0, checkpointsStored: 0 });
    const pinnedReport = await verify(db, { pinnedKey: pinned });
    expect(pinnedReport).toMatchObject({ ok: false, firstBadIndex: 0 });
    expect(pinnedReport.problems.map((p) => p.reason)).toContain(`no checkpoint of these ${EVENTS} events is signed by the pinned key`);
  });

  it('with a pinned key, refuses a newest checkpoint signed by another stored key', async () => {
    const { db, services, pinned } = await seededLog();
    await appendMany(services, db, 2, (i) => sampleEvent(EVENTS + i));
    // An intruder adds a key of their own and signs the next checkpoint with it, numbered correctly.
    const intruder = generateKeyPairSync('ed25519');
    const key: NoteKey = { name: ORIGIN, publicKey: rawPublicKey(intruder.publicKey) };
    const tree = new MerkleTree();
    for (const row of await db.selectFrom('audit_events').select('leaf_hash').orderBy('log_index').execute()) tree.append(Buffer.from(row.leaf_hash));
    const note = signNote(checkpointBody(ORIGIN, EVENTS + 2, tree.root(), { seq: 2, previousSize: EVENTS }), key, intruder.privateKey);
    await db
      .insertInto('audit_log_keys')
      .values({ id: 'alk_intruder', name: ORIGIN, public_key: key.publicKey, private_key_sealed: Buffer.alloc(1), is_current: null, created_at: NOW })
      .execute();
    await db.insertInto('audit_checkpoints').values({ tree_size: EVENTS + 2, root_hash: tree.root(), note, key_id: 'alk_intruder', created_at: NOW, seq: 2 }).execute();

    expect(await verify(db)).toMatchObject({ ok: true });
    const report = await verify(db, { pinnedKey: pinned });
    expect(report.ok).toBe(false);
    expect(report.problems.map((p) => p.reason)).toContain(`checkpoint ${EVENTS + 2}: note is not signed by ${ORIGIN}`);
    expect(report.firstBadIndex).toBe(EVENTS);
  });
  it('keeps checkpoints signed under an earlier origin verifiable after the origin setting changes, but not a return to it', async () => {
    const { db, pinned, withOrigin } = await seededLog();
    const renamed = withOrigin('sealpost.example.com/audit');
    await appendMany(renamed, db, 2, (i) => sampleEvent(EVENTS + i));
    const latest = await renamed.checkpoints.current();
    // The log key keeps its name: verifier keys customers pinned stay valid.
    expect((await renamed.keys.currentKey()).name).toBe(ORIGIN);
    const verifierKey = (await renamed.keys.currentKey()).verifierKey;
    expect(verifyCheckpoint(latest.note, verifierKey, { origin: 'sealpost.example.com/audit' }).treeSize).toBe(EVENTS + 2);
    const first = await db.selectFrom('audit_checkpoints').select('note').where('tree_size', '=', 8).executeTakeFirstOrThrow();
    expect(verifyCheckpoint(first.note, verifierKey, { origin: ORIGIN }).treeSize).toBe(8);
    expect(await verify(db, { pinnedKey: pinned })).toMatchObject({ ok: true, checkpointsVerified: 3 });

    const back = withOrigin(ORIGIN);
    await appendMany(back, db, 1, (i) => sampleEvent(EVENTS + 2 + i));
    await back.checkpoints.current();
    const report = await verify(db);
    expect(report.ok).toBe(false);
    expect(report.problems[0]?.reason).toBe(`checkpoint ${EVENTS + 3}: its origin ${ORIGIN} was replaced by sealpost.example.com/audit before it`);
  });

  it('reads the log from one snapshot: an event appended by another connection mid-verify is no false alarm', async () => {
    const { db, services } = await seededLog();
    const other = (testDb as TestDatabase).open();
    try {
      // Right after verify has read the log head, another connection appends and commits an event.
      const headQueries = new WeakSet<object>();
      let appended = 0;
      const appendAfterHeadRead: KyselyPlugin = {
        transformQuery: (args) => {
          if (SelectQueryNode.is(args.node) && JSON.stringify(args.node.from).includes('"audit_log_head"')) headQueries.add(args.queryId);
          return args.node;
        },
        transformResult: async (args) => {
          if (headQueries.has(args.queryId)) {
            await services.log.appendInOwnTransaction(other.db, sampleEvent(EVENTS));
            appended += 1;
          }
          return args.result;
        },
      };
      expect(await verify(db.withPlugin(appendAfterHeadRead))).toMatchObject({ ok: true, events: EVENTS, problems: [] });
      expect(appended).toBe(1);
      await services.checkpoints.current();
      expect(await verify(db)).toMatchObject({ ok: true, events: EVENTS + 1 });
    } finally {
      await other.close();
    }
  });
});

describe('the audit checkpoint origin', () => {
  it('is the setting, else derived from the public URL, else the old default', () => {
    expect(auditOriginOf({ auditOrigin: 'log.example.net/sealpost', publicUrl: 'https://relay.example.com' })).toBe('log.example.net/sealpost');
    expect(auditOriginOf({ publicUrl: 'https://relay.example.com:8443/base/' })).toBe('relay.example.com:8443/base/audit');
    expect(auditOriginOf({ publicUrl: 'https://relay.example.com' })).toBe('relay.example.com/audit');
    expect(auditOriginOf({})).toBe('sealpost.local/audit');
  });
});
