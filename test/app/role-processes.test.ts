import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SCHEDULED_JOBS } from '../../src/app/scheduler.js';
import { killSpawnedClis, runCli, spawnCli, waitForExit, waitForOutput } from '../support/cli.js';
import { createTestDatabase, testDialects, type TestDatabase } from '../support/test-database.js';
import { until } from '../support/poll.js';

/** The scheduler role runs exactly the jobs of the one list in src/app/scheduler.ts. */
const JOB_NAMES = SCHEDULED_JOBS.map((job) => job.name);

async function getJson(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}


describe.each(testDialects())('role processes on %s', { timeout: 90_000 }, (dialect) => {
  let testDb: TestDatabase;
  let env: Record<string, string>;

  beforeAll(async () => {
    testDb = await createTestDatabase(dialect);
    env = {
      SEALPOST_DATA_DIR: path.join(testDb.dir, 'data'),
      SEALPOST_DATABASE_URL: testDb.config.dialect === 'postgres' ? testDb.config.url : `sqlite:${testDb.config.file}`,
      SEALPOST_PUBLIC_URL: 'https://sealpost.test',
      SEALPOST_LOG_LEVEL: 'info',
      SEALPOST_CHECKPOINT_INTERVAL_SECONDS: '1',
    };
  });
  afterAll(async () => {
    await killSpawnedClis();
    await testDb.dispose();
  });

  it('keeps the scheduler running until SIGTERM, and it writes checkpoints', async () => {
    const created = await runCli(['tenants', 'create', '--name', 'roles'], env);
    expect(created.code, created.stderr).toBe(0);
    // No health listener: nothing but the role itself keeps this process alive.
    const scheduler = spawnCli(['start', '--role', 'scheduler'], env);
    const [, listed] = await waitForOutput(scheduler, /Scheduler running \(([^)]*)\)/);
    expect(listed?.split(', ')).toEqual(JOB_NAMES);
    const logged: string[] = [];
    scheduler.stdout?.on('data', (chunk: Buffer) => logged.push(chunk.toString()));
    const handle = testDb.open();
    // The first checkpoint comes one interval after start: a scheduler whose timers alone kept it alive had exited by then.
    await until(async () => (await handle.db.selectFrom('audit_checkpoints').select('tree_size').execute()).length > 0, { timeoutMs: 30_000, intervalMs: 100 });
    expect(scheduler.exitCode).toBeNull();
    scheduler.kill('SIGTERM');
    expect(await waitForExit(scheduler)).toBe(0);
    expect(logged.join('')).toContain('"msg":"shutdown complete"');
  });

  it('serves /healthz and /readyz for a worker and a scheduler on their health listeners', { timeout: 90_000 }, async () => {
    const worker = spawnCli(['start', '--role', 'worker'], { ...env, SEALPOST_HEALTH_PORT: '0' });
    const scheduler = spawnCli(['start', '--role', 'scheduler'], { ...env, SEALPOST_HEALTH_PORT: '0' });
    const [, workerPort] = await waitForOutput(worker, /Health: http:\/\/127\.0\.0\.1:(\d+)\//);
    const [, schedulerPort] = await waitForOutput(scheduler, /Health: http:\/\/127\.0\.0\.1:(\d+)\//);

    expect(await getJson(`http://127.0.0.1:${workerPort}/healthz`)).toEqual({ status: 200, body: { status: 'ok' } });
    const workerReady = await getJson(`http://127.0.0.1:${workerPort}/readyz`);
    expect(workerReady.status).toBe(200);
    expect(workerReady.body.checks).toMatchObject({ database: { ok: true }, worker: { ok: true } });

    // Every job's first run must have succeeded; on a loaded 2-core CI machine that has taken over 20 s.
    await until(async () => (await getJson(`http://127.0.0.1:${schedulerPort}/readyz`)).status === 200, { timeoutMs: 45_000, intervalMs: 100 });
    const schedulerReady = await getJson(`http://127.0.0.1:${schedulerPort}/readyz`);
    const jobs = (schedulerReady.body.checks as { scheduler: { ok: boolean; detail: { name: string; ok: boolean }[] } }).scheduler;
    expect(jobs.ok).toBe(true);
    expect(jobs.detail.map((job) => job.name)).toEqual(JOB_NAMES);

    expect((await fetch(`http://127.0.0.1:${workerPort}/readyz`, { method: 'POST' })).status).toBe(405);
    worker.kill('SIGTERM');
    scheduler.kill('SIGTERM');
    expect(await waitForExit(worker)).toBe(0);
    expect(await waitForExit(scheduler)).toBe(0);
  });

  it('ends a worker on SIGTERM within SEALPOST_SHUTDOWN_TIMEOUT_SECONDS even with a delivery in flight', async () => {
    let received = 0;
    const hanging = http.createServer((req) => {
      received++;
      req.resume(); // never answered
    });
    await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
    const agent = new Agent({ connect: { rejectUnauthorized: false } });
    const roleEnv = {
      ...env,
      SEALPOST_HTTP_HOST: '127.0.0.1',
      SEALPOST_HTTP_PORT: '0',
      SEALPOST_ALLOW_PRIVATE_DESTINATIONS: 'true',
      SEALPOST_ALLOW_HTTP_DESTINATIONS: 'true',
      // The delivery would hold the worker a minute; the shutdown timeout is 2 s.
      SEALPOST_DELIVERY_TIMEOUT_SECONDS: '60',
      SEALPOST_SHUTDOWN_TIMEOUT_SECONDS: '2',
    };
    try {
      const created = await runCli(['tenants', 'create', '--name', 'shutdown'], roleEnv);
      const { api_key: apiKey } = JSON.parse(created.stdout) as { api_key: string };
      const api = spawnCli(['start', '--role', 'api'], roleEnv);
      const worker = spawnCli(['start', '--role', 'worker'], roleEnv);
      const logged: string[] = [];
      worker.stdout?.on('data', (chunk: Buffer) => logged.push(chunk.toString()));
      const [, port] = await waitForOutput(api, /listening on https:\/\/127\.0\.0\.1:(\d+)/);
      await waitForOutput(worker, /Delivery worker \S+ running/);
      const call = (pathname: string, body: unknown) =>
        undiciFetch(`https://127.0.0.1:${port}${pathname}`, {
          method: 'POST',
          dispatcher: agent,
          headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
      expect((await call('/v1/destinations', { url: `http://127.0.0.1:${(hanging.address() as AddressInfo).port}/hook` })).status).toBe(201);
      expect((await call('/v1/payloads', { hello: 'shutdown' })).status).toBe(202);
      await until(() => received > 0, { timeoutMs: 30_000, intervalMs: 50 });
      worker.kill('SIGTERM');
      expect(await waitForExit(worker)).toBe(0);
      expect(logged.join('')).toContain('shutdown timeout reached; exiting with work still in flight');
      api.kill('SIGTERM');
      expect(await waitForExit(api)).toBe(0);
    } finally {
      hanging.closeAllConnections();
      await new Promise((resolve) => hanging.close(resolve));
      await agent.close();
    }
  });
});
