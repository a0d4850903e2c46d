import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, type DatabaseHandle } from '../../src/db/database.js';
import { GroupCommitter } from '../../src/db/group-commit.js';
import { WalFlusher } from '../../src/db/wal-flusher.js';
import { manualSync, settled } from '../support/manual-sync.js';

describe('the WAL flusher', () => {
  it('answers a commit only after a sync that started after it, and shares one sync among the commits before it', async () => {
    const sync = manualSync();
    const flusher = new WalFlusher(sync.datasync);
    const [first, second] = [flusher.committedNow(), flusher.committedNow()];
    const a = flusher.durable(first);
    const b = flusher.durable(second);
    expect(sync.started).toBe(1);
    // Committed while that sync runs: it cannot count on it.
    const c = flusher.durable(flusher.committedNow());
    expect(await settled(c)).toBe('pending');
    sync.finish();
    expect(await settled(a)).toBe('resolved');
    expect(await settled(b)).toBe('resolved');
    expect(await settled(c)).toBe('pending');
    expect(sync.started).toBe(2);
    sync.finish();
    expect(await settled(c)).toBe('resolved');
    // Nothing new committed: nothing to sync.
    await flusher.durable();
    expect(sync.started).toBe(2);
  });

  it('rejects the commits a failed sync should have covered, and syncs again for the next caller', async () => {
    const sync = manualSync();
    const flusher = new WalFlusher(sync.datasync);
    const a = flusher.durable(flusher.committedNow());
    sync.finish(new Error('EIO'));
    await expect(a).rejects.toThrow('EIO');
    const again = flusher.durable();
    expect(sync.started).toBe(2);
    sync.finish();
    await expect(again).resolves.toBeUndefined();
  });
});

describe('group commit on SQLite with the WAL flusher', () => {
  let dir = '';
  let handle: DatabaseHandle | undefined;
  afterEach(async () => {
    await handle?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  /** A fresh SQLite database in WAL mode with one table `t`, closed and removed after the test. */
  const openWithTable = async (): Promise<DatabaseHandle> => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'sealpost-wal-'));
    handle = openDatabase({ dialect: 'sqlite', file: path.join(dir, 'sealpost.db') });
    await sql`create table t (id integer primary key)`.execute(handle.db);
    return handle;
  };

  it('has a batch committed before its sync, and answers its callers only once the sync is done', async () => {
    handle = await openWithTable();
    const sync = manualSync();
    const committer = new GroupCommitter(handle.db, new WalFlusher(sync.datasync));

    const written = committer.run((tx) => sql`insert into t (id) values (1)`.execute(tx).then(() => 'one'), 'one');
    while (sync.pending() === 0) await new Promise((r) => setImmediate(r));
    // Committed (a reader sees it) but not yet on disk: the caller still waits.
    expect((await sql<{ n: number }>`select count(*) as n from t`.execute(handle.db)).rows[0]!.n).toBe(1);
    expect(await settled(written)).toBe('pending');
    // The barrier for what acts on a read waits too.
    const barrier = committer.durableFor(['one']);
    expect(await settled(barrier)).toBe('pending');
    sync.finish();
    await expect(written).resolves.toBe('one');
    await expect(barrier).resolves.toBeUndefined();
    // Every other commit of the connection is synchronous=FULL again.
    expect((await sql<{ synchronous: number }>`pragma synchronous`.execute(handle.db)).rows[0]!.synchronous).toBe(2);
  });

  it('has a reader wait for the sync of the units it names only: not for other batches, failed units or unknown names', async () => {
    handle = await openWithTable();
    const sync = manualSync();
    const committer = new GroupCommitter(handle.db, new WalFlusher(sync.datasync));

    // Named before its batch commits: a reader asking at once waits for the commit and its sync.
    const a = committer.run((tx) => sql`insert into t (id) values (1)`.execute(tx), 'a');
    const forA = committer.durableFor(['a']);
    while (sync.pending() === 0) await new Promise((r) => setImmediate(r));
    expect(await settled(forA)).toBe('pending');
    sync.finish();
    await a;
    await expect(forA).resolves.toBeUndefined();

    const b = committer.run((tx) => sql`insert into t (id) values (2)`.execute(tx), 'b');
    const failed = committer.run((tx) => sql`insert into t (id) values (1)`.execute(tx), 'failed').then(
      () => 'stored',
      (err: unknown) => err,
    );
    while (sync.pending() === 0) await new Promise((r) => setImmediate(r));
    expect(await failed).toMatchObject({ code: 'SQLITE_CONSTRAINT_PRIMARYKEY' });
    // B's batch syncs: only a reader of B waits; A is on disk, the failed unit wrote nothing.
    expect(await settled(committer.durableFor(['b']))).toBe('pending');
    expect(await settled(committer.durableFor(['a', 'failed', 'unknown']))).toBe('resolved');
    sync.finish();
    await b;
    expect(await settled(committer.durableFor(['b']))).toBe('resolved');
  });

  it('after a failed sync, has every reader wait for a later sync to succeed, whatever it names', async () => {
    handle = await openWithTable();
    const sync = manualSync();
    const committer = new GroupCommitter(handle.db, new WalFlusher(sync.datasync));

    const a = committer.run((tx) => sql`insert into t (id) values (1)`.execute(tx), 'a');
    while (sync.pending() === 0) await new Promise((r) => setImmediate(r));
    sync.finish(new Error('EIO'));
    await expect(a).rejects.toThrow('EIO');
    // The row is committed, but not known to be on disk: a reader that saw it must not act yet.
    const reader = committer.durableFor(['a']);
    const other = committer.durableFor([]);
    while (sync.pending() === 0) await new Promise((r) => setImmediate(r));
    expect(await settled(reader)).toBe('pending');
    expect(await settled(other)).toBe('pending');
    sync.finish();
    await expect(Promise.all([reader, other])).resolves.toHaveLength(2);
    expect(await settled(committer.durableFor(['a']))).toBe('resolved');
  });

  it('gathers what arrives during a sync into one batch, committed when the sync ends', async () => {
    handle = await openWithTable();
    const sync = manualSync();
    const flusher = new WalFlusher(sync.datasync);
    const committer = new GroupCommitter(handle.db, flusher);
    const count = async (): Promise<number> => (await sql<{ n: number }>`select count(*) as n from t`.execute(handle!.db)).rows[0]!.n;

    const first = committer.run((tx) => sql`insert into t (id) values (1)`.execute(tx));
    while (sync.pending() === 0) await new Promise((r) => setImmediate(r));
    // Arriving in separate turns while the first sync runs: they wait, uncommitted.
    const later: Promise<unknown>[] = [];
    for (const id of [2, 3, 4]) {
      later.push(committer.run((tx) => sql`insert into t (id) values (${id})`.execute(tx)));
      await new Promise((r) => setImmediate(r));
    }
    expect(await count()).toBe(1);
    sync.finish();
    await first;
    while (sync.pending() === 0) await new Promise((r) => setImmediate(r));
    // One commit for the three, covered by the second sync.
    expect(await count()).toBe(4);
    expect(flusher.committedNow()).toBe(3);
    expect(await settled(Promise.all(later))).toBe('pending');
    sync.finish();
    await expect(Promise.all(later)).resolves.toHaveLength(3);
    expect(sync.started).toBe(2);
  });

  it('drains before the database closes: a unit waiting for the running sync is written and synced first', async () => {
    handle = await openWithTable();
    const sync = manualSync();
    const committer = new GroupCommitter(handle.db, new WalFlusher(sync.datasync), handle.groupCommitConnection);

    const first = committer.run((tx) => sql`insert into t (id) values (1)`.execute(tx));
    while (sync.pending() === 0) await new Promise((r) => setImmediate(r));
    // Submitted as the process shuts down (an API call's audit event): it waits for the sync.
    const last = committer.run((tx) => sql`insert into t (id) values (2)`.execute(tx));
    const drained = committer.drain();
    expect(await settled(drained)).toBe('pending');
    sync.finish();
    while (sync.pending() === 0) await new Promise((r) => setImmediate(r));
    expect(await settled(drained)).toBe('pending');
    sync.finish();
    await drained;
    await expect(Promise.all([first, last])).resolves.toHaveLength(2);
    await handle.close();
    handle = openDatabase({ dialect: 'sqlite', file: path.join(dir, 'sealpost.db') });
    expect((await sql<{ n: number }>`select count(*) as n from t`.execute(handle.db)).rows[0]!.n).toBe(2);
  });

  it('has nothing to sync once SQLite has checkpointed and removed its WAL at close', async () => {
    handle = await openWithTable();
    const flusher = handle.walFlusher!;
    const committer = new GroupCommitter(handle.db, flusher);
    await committer.run((tx) => sql`insert into t (id) values (1)`.execute(tx));
    await handle.close();
    handle = undefined;
    expect(existsSync(path.join(dir, 'sealpost.db-wal'))).toBe(false);
    // A request's commit that raced the shutdown: its sync finds no WAL file, and all is on disk.
    flusher.committedNow();
    await expect(flusher.durable()).resolves.toBeUndefined();
    const reopened = openDatabase({ dialect: 'sqlite', file: path.join(dir, 'sealpost.db') });
    expect((await sql<{ n: number }>`select count(*) as n from t`.execute(reopened.db)).rows[0]!.n).toBe(1);
    await reopened.close();
  });

  it('syncs the real write-ahead log file', async () => {
    handle = await openWithTable();
    const committer = new GroupCommitter(handle.db, handle.walFlusher);
    await expect(Promise.all([1, 2, 3].map((id) => committer.run((tx) => sql`insert into t (id) values (${id})`.execute(tx))))).resolves.toHaveLength(3);
    expect((await sql<{ n: number }>`select count(*) as n from t`.execute(handle.db)).rows[0]!.n).toBe(3);
  });
});
