import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATION_NAMES } from '../../src/db/migrator.js';
import { killSpawnedClis, runCli, spawnCli, waitForExit, waitForOutput } from '../support/cli.js';
import { createTestDatabase, testDialects, type TestDatabase } from '../support/test-database.js';

function getJson(url: string, ca: Buffer): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as unknown }));
      })
      .on('error', reject);
  });
}

/** Each `sealpost` run is a cold start of Node and tsx: seconds apiece on a busy machine. */
const CLI_TEST_TIMEOUT_MS = 180_000;

// A test that times out never reaches its `finally`: no `sealpost start` may outlive it.
afterEach(killSpawnedClis);

describe('sealpost CLI', { timeout: CLI_TEST_TIMEOUT_MS }, () => {
  let dataDir: string;
  beforeAll(() => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'sealpost-cli-'));
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it.each([[[]], [['start']], [['migrate']], [['keys']], [['keys', 'rotate']], [['keys', 'check']], [['config', 'check']]])('has --help on %j', async (args) => {
    const result = await runCli([...args, '--help'], {});
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^Usage: sealpost/);
  });

  it('refuses to run with an invalid setting, naming it, with exit code 78', async () => {
    const result = await runCli(['start'], { SEALPOST_DATA_DIR: dataDir, SEALPOST_HTTP_PORT: '99999', SEALPOST_KEY_PROVIDER: 'vault' });
    expect(result.code).toBe(78);
    expect(result.stderr).toContain('SEALPOST_HTTP_PORT="99999" (from SEALPOST_HTTP_PORT): must be an integer port from 0 to 65535');
    expect(result.stderr).toContain('SEALPOST_KEY_PROVIDER="vault" (from SEALPOST_KEY_PROVIDER): must be one of local, aws-kms');
    expect(readdirSync(dataDir)).toEqual([]); // nothing was created
  });

  it('rotates the local master key on request', async () => {
    const env = { SEALPOST_DATA_DIR: dataDir };
    expect((await runCli(['keys', 'rotate', '--kek', '--json'], env)).stdout).toContain('"kek": "local:v2"');
    const check = await runCli(['keys', 'check', '--json'], env);
    expect(check.code).toBe(0);
    expect(JSON.parse(check.stdout)).toMatchObject({ provider: 'local', currentKek: 'local:v2', rotationEnabled: true });
  });
});

describe.each(testDialects())('sealpost on %s', { timeout: CLI_TEST_TIMEOUT_MS }, (dialect) => {
  let testDb: TestDatabase;
  let env: Record<string, string>;
  beforeAll(async () => {
    testDb = await createTestDatabase(dialect);
    env = {
      SEALPOST_DATA_DIR: path.join(testDb.dir, 'data'),
      SEALPOST_DATABASE_URL: testDb.config.dialect === 'postgres' ? testDb.config.url : `sqlite:${testDb.config.file}`,
      // Required on PostgreSQL (test/cli/start-config.test.ts); attachment links only.
      SEALPOST_PUBLIC_URL: 'https://sealpost.test',
    };
  });
  afterAll(async () => {
    await testDb.dispose();
  });

  it('migrate applies each migration once when three processes run it together', async () => {
    const results = await Promise.all([1, 2, 3].map(() => runCli(['migrate', '--json'], env)));
    for (const r of results) expect(r.code, r.stderr).toBe(0);
    const applied = results.flatMap((r) => (JSON.parse(r.stdout) as { applied: string[] }).applied);
    expect(applied.sort()).toEqual([...MIGRATION_NAMES].sort());
    const handle = testDb.open();
    const rows = await sql<{ n: number }>`select count(*) as n from schema_migrations`.execute(handle.db);
    expect(Number(rows.rows[0]?.n)).toBe(MIGRATION_NAMES.length);
  });

  it('start serves /healthz over TLS with a generated certificate and stops cleanly on SIGTERM', async () => {
    const child = spawnCli(['start'], { ...env, SEALPOST_HTTP_HOST: '127.0.0.1', SEALPOST_HTTP_PORT: '0', SEALPOST_SMTP_HOST: '127.0.0.1', SEALPOST_SMTP_PORT: '0', SEALPOST_LOG_LEVEL: 'warn' });
    try {
      const [, port] = await waitForOutput(child, /listening on https:\/\/127\.0\.0\.1:(\d+)/);
      const fingerprint = await waitForOutput(child, /SHA-256 fingerprint: ([0-9A-F:]{95})/);
      expect(fingerprint[1]).toBeDefined();
      const ca = readFileSync(path.join(env.SEALPOST_DATA_DIR!, 'tls', 'self-signed.crt'));
      expect(await getJson(`https://localhost:${port}/healthz`, ca)).toEqual({ status: 200, body: { status: 'ok' } });
      expect((await getJson(`https://localhost:${port}/readyz`, ca)).status).toBe(200);
      child.kill('SIGTERM');
      expect(await waitForExit(child)).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
