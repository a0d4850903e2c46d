import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { withSigningKeyLock } from '../../src/app/scheduler.js';
import { createSealpost, type Sealpost } from '../../src/app/sealpost.js';
import { loadConfig } from '../../src/config/config.load.js';
import { LocalKeyring } from '../../src/crypto/local-keyring.js';
import { createLogger } from '../../src/logging/logger.js';
import { runCli } from '../support/cli.js';
import { until } from '../support/poll.js';
import { createTestDatabase, testDialects, type TestDatabase } from '../support/test-database.js';

const CTX = { tenant: 'ten_x', table: 't', id: 'r1', field: 'f' };

describe.each(testDialects())('the local keyring across processes on %s', { timeout: 60_000 }, (dialect) => {
  let testDb: TestDatabase;
  const opened: Sealpost[] = [];
  const dirs: string[] = [];

  afterEach(async () => {
    for (const s of opened.splice(0)) await s.close();
    await testDb?.dispose();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  function env(dataDir: string, extra: Record<string, string> = {}): Record<string, string> {
    return {
      SEALPOST_DATA_DIR: dataDir,
      SEALPOST_DATABASE_URL: testDb.config.dialect === 'postgres' ? testDb.config.url : `sqlite:${testDb.config.file}`,
      SEALPOST_PUBLIC_URL: 'https://sealpost.test',
      ...extra,
    };
  }
  async function open(dataDir: string, extra: Record<string, string> = {}): Promise<Sealpost> {
    const sealpost = await createSealpost(loadConfig(env(dataDir, extra)), { logger: createLogger('silent') });
    opened.push(sealpost);
    return sealpost;
  }
  function otherHost(): string {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sealpost-host-'));
    dirs.push(dir);
    return dir;
  }
  async function kekRefs(sealpost: Sealpost): Promise<string[]> {
    return (await sealpost.database.db.selectFrom('kek_versions').select('kek_ref').orderBy('version').execute()).map((r) => r.kek_ref);
  }
  async function kekOfNewData(sealpost: Sealpost): Promise<string> {
    const sealed = await sealpost.cipher.encrypt('x', CTX);
    const id = sealed.subarray(2, 2 + (sealed[1] ?? 0)).toString('latin1');
    const row = await sealpost.database.db.selectFrom('data_keys').select('kek_ref').where('id', '=', id).executeTakeFirstOrThrow();
    return row.kek_ref;
  }

  it('refuses to start a process whose keyring lacks, or differs from, the master keys the database uses', async () => {
    testDb = await createTestDatabase(dialect);
    const first = await open(path.join(testDb.dir, 'host-a'));
    await first.cipher.encrypt('data under v1', CTX);
    expect(await kekRefs(first)).toEqual(['local:v1']);

    // A second host with a data dir of its own: an empty keyring.
    const empty = otherHost();
    await expect(open(empty)).rejects.toMatchObject({ code: 'SP_ERR_CRYPTO_KEYRING_MISMATCH', message: expect.stringMatching(/master key local:v1 is missing from it.*copy the keyring directory/) });
    expect(readdirSync(path.join(empty, 'keyring'))).toEqual([]);
    // ...or one that made a master key of its own.
    const own = otherHost();
    new LocalKeyring(path.join(own, 'keyring'), 365).open();
    await expect(open(own)).rejects.toMatchObject({ code: 'SP_ERR_CRYPTO_KEYRING_MISMATCH', message: expect.stringMatching(/holds a different key as local:v1/) });

    // `sealpost start` says so in one line and exits 78, before serving anything.
    const started = await runCli(['start', '--role', 'worker'], env(own, { SEALPOST_LOG_LEVEL: 'error' }));
    expect(started.code).toBe(78);
    expect(started.stderr).toMatch(/^sealpost: The local keyring in .* does not match this database .*\(SP_ERR_CRYPTO_KEYRING_MISMATCH\)\n$/);
  });

  it('adds no master key version at start or on `keys check`, even when one is due', async () => {
    testDb = await createTestDatabase(dialect);
    const dataDir = path.join(testDb.dir, 'data');
    const longAgo = Date.now() - 400 * 86_400_000;
    new LocalKeyring(path.join(dataDir, 'keyring'), 365, () => longAgo).open();
    const sealpost = await open(dataDir);
    expect(await kekRefs(sealpost)).toEqual(['local:v1']);
    const check = await runCli(['keys', 'check', '--json'], env(dataDir));
    expect(check.code, check.stderr).toBe(0);
    expect(readdirSync(path.join(dataDir, 'keyring'))).toEqual(['kek-v000001.json']);
    // The scheduler's rotation (ifDue) is what adds it, audited.
    expect(await sealpost.kekVersions?.rotate({ actor: { type: 'system', id: 'scheduler' }, ifDue: true })).toMatchObject({ rotated: true, current: 'local:v2' });
    expect(await sealpost.kekVersions?.rotate({ actor: { type: 'system', id: 'scheduler' }, ifDue: true })).toMatchObject({ rotated: false, reason: 'not-due' });
  });

  it('rotates the master key once when several processes rotate at once, audited once', async () => {
    testDb = await createTestDatabase(dialect);
    const dataDir = path.join(testDb.dir, 'data');
    const processes = [await open(dataDir), await open(dataDir), await open(dataDir), await open(dataDir)];
    const results = await Promise.all(
      processes.map((p) => p.kekVersions!.rotate({ actor: { type: 'system', id: 'cli' }, expectedCurrent: 'local:v1' })),
    );
    expect(results.filter((r) => r.rotated)).toHaveLength(1);
    expect(results.filter((r) => r.reason === 'rotated-elsewhere')).toHaveLength(3);
    expect(await kekRefs(processes[0]!)).toEqual(['local:v1', 'local:v2']);
    expect(readdirSync(path.join(dataDir, 'keyring')).sort()).toEqual(['kek-v000001.json', 'kek-v000002.json']);
    const audited = await processes[0]!.database.db.selectFrom('audit_events').select('action').where('action', '=', 'kek.rotated').execute();
    expect(audited).toHaveLength(1);
  });

  it('rotates a tenant signing key once when several processes rotate it at once', async () => {
    testDb = await createTestDatabase(dialect);
    const dataDir = path.join(testDb.dir, 'data');
    const processes = [await open(dataDir), await open(dataDir), await open(dataDir), await open(dataDir)];
    const { tenant } = await processes[0]!.tenants.create('Keys', 'starter');
    await processes[0]!.receipts.keys.currentKey(tenant.id);
    const requestedAt = Date.now();
    const results = await Promise.all(
      processes.map(async (p) => {
        const locked = await withSigningKeyLock(p, 30_000, () => p.receipts.keys.rotate(tenant.id, { unlessRotatedSince: requestedAt }));
        return locked.acquired ? locked.value : undefined;
      }),
    );
    expect(results.filter((r) => r?.rotated)).toHaveLength(1);
    expect(results.filter((r) => r?.reason === 'rotated-elsewhere')).toHaveLength(3);
  });

  it('moves a running process to a master key version another process added, within SEALPOST_KEY_REFRESH_SECONDS', async () => {
    testDb = await createTestDatabase(dialect);
    const dataDir = path.join(testDb.dir, 'data');
    const rotating = await open(dataDir);
    const running = await open(dataDir, { SEALPOST_KEY_REFRESH_SECONDS: '1' });
    expect(await kekOfNewData(running)).toBe('local:v1');
    await rotating.kekVersions!.rotate({ actor: { type: 'system', id: 'cli' } });
    expect(await kekOfNewData(rotating)).toBe('local:v2');
    await until(async () => (await kekOfNewData(running)) === 'local:v2', { timeoutMs: 15_000, intervalMs: 200 });
  });
});
