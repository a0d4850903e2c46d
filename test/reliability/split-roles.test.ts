/**
 * A split deployment on PostgreSQL as real processes (issue 17): `api` ×2, `worker` ×2, `smtp`
 * and `scheduler`, each started with `sealpost start --role`, on a PostgreSQL cluster of the
 * test's own (so it can be stopped and frozen without touching the suite's). Short intervals are
 * injected through the documented settings. docs/operations.md names this test for each claim.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { Agent, fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killSpawnedClis, runCli, spawnCli, waitForExit, waitForOutput } from '../support/cli.js';
import { until } from '../support/poll.js';

const run = promisify(execFile);
const SCRIPT = path.resolve(import.meta.dirname, '../../scripts/pg-throwaway.sh');
const TIMEOUT_S = 1;
/** An answer during an outage must come within a few database timeouts (a connection wait, a statement, a rollback), never after the outage. */
const ANSWER_WITHIN_MS = 4 * TIMEOUT_S * 1000 + 4_000;

type Child = ReturnType<typeof spawnCli>;

async function startCluster(dir: string): Promise<string | undefined> {
  try {
    return (await run('bash', [SCRIPT, 'start', dir])).stdout.trim();
  } catch {
    return undefined;
  }
}

/** PostgreSQL's processes: the postmaster and its children (backends, checkpointer…). */
async function clusterPids(dir: string): Promise<number[]> {
  const postmaster = Number(readFileSync(path.join(dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
  const { stdout } = await run('ps', ['-o', 'pid=', '--ppid', String(postmaster)]);
  return [postmaster, ...stdout.split('\n').map((l) => Number(l.trim())).filter((n) => n > 0)];
}

const clusterDir = mkdtempSync(path.join(os.tmpdir(), 'sealpost-split-pg-'));
const pgUrl = await startCluster(clusterDir);
// Without PostgreSQL's binaries the test is skipped; leave nothing behind.
if (pgUrl === undefined) await run('bash', [SCRIPT, 'stop', clusterDir]).catch(() => rmSync(clusterDir, { recursive: true, force: true }));

describe.skipIf(pgUrl === undefined)('a split deployment on PostgreSQL (api ×2, worker ×2, smtp, scheduler)', { timeout: 120_000 }, () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'sealpost-split-'));
  const otherHost = mkdtempSync(path.join(os.tmpdir(), 'sealpost-split-other-'));
  const env = {
    SEALPOST_DATA_DIR: dataDir,
    SEALPOST_DATABASE_URL: pgUrl ?? '',
    SEALPOST_PUBLIC_URL: 'https://sealpost.test',
    SEALPOST_HTTP_HOST: '127.0.0.1',
    SEALPOST_HTTP_PORT: '0',
    SEALPOST_SMTP_HOST: '127.0.0.1',
    SEALPOST_SMTP_PORT: '0',
    SEALPOST_HEALTH_PORT: '0',
    SEALPOST_LOG_LEVEL: 'error',
    SEALPOST_ALLOW_PRIVATE_DESTINATIONS: 'true',
    SEALPOST_ALLOW_HTTP_DESTINATIONS: 'true',
    SEALPOST_RATE_LIMIT_PER_KEY: '1000000',
    SEALPOST_RATE_LIMIT_PER_IP: '1000000',
    SEALPOST_RETRY_SCHEDULE: '0,200ms,500ms,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s',
    SEALPOST_DATABASE_TIMEOUT_SECONDS: String(TIMEOUT_S),
    SEALPOST_CHECKPOINT_INTERVAL_SECONDS: '1',
    SEALPOST_KEY_REFRESH_SECONDS: '1',
    SEALPOST_WORKER_HEARTBEAT_SECONDS: '1',
    SEALPOST_SHUTDOWN_TIMEOUT_SECONDS: '5',
  };
  const roles: { name: string; child: Child; health: string; https?: string; workerId?: string; log: string[] }[] = [];
  const delivered = new Map<string, number>();
  const held: { id: string; res: http.ServerResponse }[] = [];
  let hold = false;
  let receiver: http.Server;
  let agent: Agent;
  let apiKey = '';
  const acknowledged: string[] = [];

  const role = (name: string) => roles.find((r) => r.name === name)!;
  /** The worker the lease test kills: whichever holds the held deliveries (either may claim them all). */
  let killed = 'worker1';
  const survivor = (): string => (killed === 'worker1' ? 'worker2' : 'worker1');

  beforeAll(async () => {
    receiver = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        const id = String(req.headers['webhook-id']);
        if (hold) return void held.push({ id, res });
        delivered.set(id, (delivered.get(id) ?? 0) + 1);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const created = await runCli(['tenants', 'create', '--name', 'split'], env);
    expect(created.code, created.stderr).toBe(0);
    apiKey = (JSON.parse(created.stdout) as { api_key: string }).api_key;
    agent = new Agent({ connect: { ca: undefined, rejectUnauthorized: false } });

    const start = async (name: string, roleName: string): Promise<void> => {
      const child = spawnCli(['start', '--role', roleName], env);
      const log: string[] = [];
      child.stdout?.on('data', (chunk: Buffer) => log.push(chunk.toString()));
      const [, health] = await waitForOutput(child, /Health: (http:\/\/127\.0\.0\.1:\d+)\//);
      const entry: (typeof roles)[number] = { name, child, health: health!, log };
      if (roleName === 'api') entry.https = `https://127.0.0.1:${(await waitForOutput(child, /listening on https:\/\/127\.0\.0\.1:(\d+)/))[1]}`;
      if (roleName === 'worker') entry.workerId = (await waitForOutput(child, /Delivery worker (\S+) running/))[1];
      roles.push(entry);
    };
    // The first API generates the self-signed certificate the second one then reads.
    await start('api1', 'api');
    await Promise.all([start('api2', 'api'), start('worker1', 'worker'), start('worker2', 'worker'), start('smtp', 'smtp'), start('scheduler', 'scheduler')]);
  });

  afterAll(async () => {
    hold = false;
    for (const { res } of held.splice(0)) res.destroy();
    await Promise.all(roles.map(async ({ child }) => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await waitForExit(child);
    }));
    await killSpawnedClis();
    await agent?.close();
    await new Promise((resolve) => receiver?.close(resolve));
    await run('bash', [SCRIPT, 'stop', clusterDir]).catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(otherHost, { recursive: true, force: true });
  });

  const api = (name: 'api1' | 'api2', pathname: string, init: { method?: string; body?: string } = {}) =>
    fetch(`${role(name).https}${pathname}`, {
      ...init,
      dispatcher: agent,
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      signal: AbortSignal.timeout(ANSWER_WITHIN_MS),
    });
  const ingest = async (name: 'api1' | 'api2', data: unknown): Promise<{ status: number; body: Record<string, unknown> }> => {
    const res = await api(name, '/v1/payloads', { method: 'POST', body: JSON.stringify(data) });
    const body = (await res.json()) as Record<string, unknown>;
    if (res.status === 202) acknowledged.push(String((body.receipt as { message_id: string }).message_id));
    return { status: res.status, body };
  };
  const ready = async (name: string): Promise<number> => {
    const { child, health, log } = role(name);
    try {
      return (await fetch(`${health}/readyz`, { signal: AbortSignal.timeout(ANSWER_WITHIN_MS) })).status;
    } catch (err) {
      throw new Error(`${name} (exit ${child.exitCode ?? child.signalCode}) did not answer /readyz: ${log.join('').slice(-3000)}`, { cause: err });
    }
  };
  const sql = async <T>(query: string): Promise<T[]> => {
    const client = new pg.Client({ connectionString: pgUrl });
    await client.connect();
    try {
      return (await client.query(query)).rows as T[];
    } finally {
      await client.end();
    }
  };
  const allDelivered = (): boolean => acknowledged.every((id) => delivered.has(id));
  const undelivered = async (): Promise<string> => {
    const ids = acknowledged.filter((id) => !delivered.has(id));
    if (ids.length === 0) return 'none';
    const rows = await sql(`select payload_id, status, attempts, lease_owner, lease_expires_at, next_attempt_at, last_error, (extract(epoch from now()) * 1000)::bigint as db_now from deliveries where payload_id in (${ids.map((id) => `'${id}'`).join(',')})`);
    const beats = await sql('select * from worker_heartbeats');
    return JSON.stringify({ rows, beats });
  };

  it('runs every role, delivers what the APIs accept, and the scheduler writes checkpoints', async () => {
    const dest = await api('api1', '/v1/destinations', { method: 'POST', body: JSON.stringify({ url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook` }) });
    expect(dest.status, await dest.clone().text()).toBe(201);
    for (let i = 0; i < 20; i++) expect((await ingest(i % 2 === 0 ? 'api1' : 'api2', { i })).status).toBe(202);
    await until(allDelivered, { timeoutMs: 20_000, intervalMs: 50 });
    await until(async () => (await sql('select tree_size from audit_checkpoints')).length > 0, { timeoutMs: 20_000, intervalMs: 100 });
    for (const { name } of roles) expect(await ready(name), name).toBe(200);
  });

  it('moves the other processes and every tenant root key to a new master key version after `keys rotate --kek`', async () => {
    const rootKeyOf = (tenant: string): { kek?: string } => JSON.parse(readFileSync(path.join(dataDir, 'keyring', `tenant-${tenant}.json`), 'utf8')) as { kek?: string };
    const [{ id: tenant } = { id: '' }] = await sql<{ id: string }>("select id from tenants where kind = 'customer'");
    const before = acknowledged[0]!;
    expect(rootKeyOf(tenant).kek).toBe('local:v1');

    const rotated = await runCli(['keys', 'rotate', '--kek', '--json'], env);
    expect(rotated.code, rotated.stderr).toBe(0);
    expect(JSON.parse(rotated.stdout)).toEqual({ kek: 'local:v2', kek_rotated: true, tenant_keys_resealed: 1 });
    // The rotation, made by the CLI process, reached the tenant's data: its root key is sealed under v2.
    expect(rootKeyOf(tenant).kek).toBe('local:v2');

    // api2 never rotated anything itself: it moves to v2 within the refresh interval, without restart…
    await until(async () => ((await (await fetch(`${role('api2').health}/readyz`)).json()) as { checks: { keyring: { detail: { current: string } } } }).checks.keyring.detail.current === 'local:v2', {
      timeoutMs: 20_000,
      intervalMs: 100,
    });
    // …so the root key of a tenant created afterwards, made when its first payload reaches api2, is sealed under v2.
    const created = await runCli(['tenants', 'create', '--name', 'after-rotation'], env);
    expect(created.code, created.stderr).toBe(0);
    const later = JSON.parse(created.stdout) as { tenant: string; api_key: string };
    const laterPost = await fetch(`${role('api2').https}/v1/payloads`, {
      method: 'POST',
      body: JSON.stringify({ tenant: 'later' }),
      dispatcher: agent,
      headers: { authorization: `Bearer ${later.api_key}`, 'content-type': 'application/json' },
    });
    expect(laterPost.status).toBe(202);
    expect(rootKeyOf(later.tenant).kek).toBe('local:v2');
    const after = await ingest('api2', { after: 'rotation' });
    expect(after.status).toBe(202);

    // A process started now reads the re-sealed root key from its file: payloads from before and after the rotation decrypt.
    const api3 = spawnCli(['start', '--role', 'api'], env);
    try {
      const port = (await waitForOutput(api3, /listening on https:\/\/127\.0\.0\.1:(\d+)/))[1];
      for (const id of [before, String((after.body.receipt as { message_id: string }).message_id)]) {
        const read = await fetch(`https://127.0.0.1:${port}/v1/payloads/${id}`, { dispatcher: agent, headers: { authorization: `Bearer ${apiKey}` } });
        expect(read.status, id).toBe(200);
        expect(((await read.json()) as { envelope: { data: unknown } }).envelope.data).toEqual(id === before ? { i: 0 } : { after: 'rotation' });
      }
    } finally {
      api3.kill('SIGTERM');
      await waitForExit(api3);
    }
  });

  it("hands a killed worker's leases to the other worker within a few heartbeats", async () => {
    hold = true;
    let victim: (typeof roles)[number];
    try {
      for (let i = 0; i < 6; i++) expect((await ingest('api1', { held: i })).status).toBe(202);
      let owner: string | undefined;
      await until(
        async () => {
          owner = (await sql<{ lease_owner: string }>(`select lease_owner from deliveries where lease_owner is not null and status = 'pending'`))[0]?.lease_owner;
          return owner !== undefined;
        },
        { timeoutMs: 20_000, intervalMs: 50, explain: undelivered },
      );
      victim = roles.find((r) => r.workerId === owner)!;
      killed = victim.name;
      victim.child.kill('SIGKILL');
      await waitForExit(victim.child);
    } finally {
      // Also on failure: later tests' deliveries must not stay held.
      hold = false;
    }
    const killedAt = Date.now();
    // The dead worker's leases stay in its name until another worker claims them (its heartbeat is
    // declared stale only after 3 s). Read from the database, not from the receiver's sockets: the
    // receiver may not have seen the killed process's connections close yet.
    const victims = new Set(
      (await sql<{ payload_id: string }>(`select payload_id from deliveries where lease_owner = '${victim.workerId}' and status = 'pending'`)).map((r) => r.payload_id),
    );
    expect(victims.size).toBeGreaterThan(0);
    // Answered only where the sender is still alive to read it.
    for (const { id, res } of held.splice(0)) {
      if (victims.has(id)) {
        res.destroy();
        continue;
      }
      delivered.set(id, (delivered.get(id) ?? 0) + 1);
      res.writeHead(204).end();
    }
    const lostAttempts = async (): Promise<number> =>
      Number((await sql<{ n: string }>(`select count(*) as n from delivery_attempts where worker = '${victim.workerId}' and error_class = 'lease_expired'`))[0]?.n);
    await until(async () => allDelivered() && (await lostAttempts()) >= victims.size, { timeoutMs: 30_000, intervalMs: 50, explain: undelivered });
    // The leases (destination timeout 15 s + 30 s) would have held them 45 s; heartbeats free them in ~4 s.
    expect(Date.now() - killedAt).toBeLessThan(45_000);
    // Every payload the dead worker held was sent again by the survivor, which recorded each lost attempt.
    for (const id of victims) expect(delivered.get(id), id).toBeGreaterThan(0);
  });

  it('answers 503 SP_ERR_DB_UNAVAILABLE within the bound and fails /readyz while PostgreSQL is stopped, then recovers', async () => {
    await run('bash', [SCRIPT, 'halt', clusterDir]);
    try {
      const refused = await ingest('api1', { during: 'stop' });
      expect(refused.status).toBe(503);
      expect(refused.body.code).toBe('SP_ERR_DB_UNAVAILABLE');
      for (const name of ['api2', survivor(), 'smtp', 'scheduler']) {
        await until(async () => (await ready(name)) === 503, { timeoutMs: 20_000, intervalMs: 200 });
      }
    } finally {
      await run('bash', [SCRIPT, 'restart', clusterDir]);
    }
    await until(async () => (await ingest('api1', { after: 'stop' })).status === 202, { timeoutMs: 30_000, intervalMs: 200 });
    await until(async () => (await ready('api1')) === 200, { timeoutMs: 20_000, intervalMs: 200 });
  });

  it('answers 503 within the bound while PostgreSQL is frozen (SIGSTOP), not a hang, then recovers', async () => {
    const pids = await clusterPids(clusterDir);
    for (const pid of pids) process.kill(pid, 'SIGSTOP');
    try {
      const refused = await ingest('api2', { during: 'freeze' });
      expect(refused.status).toBe(503);
      expect(refused.body.code).toBe('SP_ERR_DB_UNAVAILABLE');
      expect(await ready('api1')).toBe(503);
    } finally {
      for (const pid of pids) process.kill(pid, 'SIGCONT');
    }
    await until(async () => (await ingest('api2', { after: 'freeze' })).status === 202, { timeoutMs: 30_000, intervalMs: 200 });
    // Nothing acknowledged was lost, across the kill, the stop and the freeze.
    await until(allDelivered, { timeoutMs: 30_000, intervalMs: 50 });
    expect(role('scheduler').child.exitCode).toBeNull();
    await until(async () => (await ready('scheduler')) === 200, { timeoutMs: 20_000, intervalMs: 200 });
  });

  it('refuses to start a process whose keyring does not match the database, saying what to do', async () => {
    const result = await runCli(['start', '--role', 'worker'], { ...env, SEALPOST_DATA_DIR: otherHost });
    expect(result.code).toBe(78);
    expect(result.stderr).toContain('does not match this database (master key local:v1 is missing from it; master key local:v2 is missing from it). Every process must use the same keyring: copy the keyring directory');
  });

  it('kept every role running through the outages, and each stops cleanly on SIGTERM', async () => {
    const alive = roles.filter((r) => r.name !== killed);
    for (const { name, child } of alive) expect(child.exitCode, name).toBeNull();
    for (const { child } of alive) child.kill('SIGTERM');
    const codes = await Promise.all(alive.map(({ child }) => waitForExit(child)));
    expect(codes).toEqual(alive.map(() => 0));
  });
});
