import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { sql } from 'kysely';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killSpawnedClis, runCli, spawnCli, waitForExit, waitForOutput } from '../support/cli.js';
import { createTestDatabase, testDialects, type TestDatabase } from '../support/test-database.js';
import { until } from '../support/poll.js';

const TOTAL = 2_000;
const CONCURRENCY = 16;
/** Kill once this many payloads were acknowledged, so the crash lands mid-stream. */
const KILL_AFTER = 500;

const poll = (check: () => Promise<boolean> | boolean, timeoutMs: number, explain: () => Promise<string> | string): Promise<void> =>
  until(check, { timeoutMs, intervalMs: 100, explain });

describe.each(testDialects())('kill -9 during ingest and delivery on %s', (dialect) => {
  let testDb: TestDatabase;
  let receiver: http.Server;
  const delivered = new Map<string, number>();

  beforeAll(async () => {
    testDb = await createTestDatabase(dialect);
    receiver = http.createServer((req, res) => {
      const id = String(req.headers['webhook-id']);
      req.resume();
      req.on('end', () => {
        delivered.set(id, (delivered.get(id) ?? 0) + 1);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  });
  afterAll(async () => {
    // A timed-out test never reaches its `finally`: stop any `sealpost start` it left running.
    await killSpawnedClis();
    await new Promise((r) => receiver.close(r));
    await testDb.dispose();
  });

  it('delivers every acknowledged payload after a crash, and stores none half-way', async () => {
    const env = {
      SEALPOST_DATA_DIR: path.join(testDb.dir, 'data'),
      SEALPOST_DATABASE_URL: testDb.config.dialect === 'postgres' ? testDb.config.url : `sqlite:${testDb.config.file}`,
      SEALPOST_HTTP_HOST: '127.0.0.1',
      SEALPOST_HTTP_PORT: '0',
      // Required on PostgreSQL (attachment links); never a destination here.
      SEALPOST_PUBLIC_URL: 'https://sealpost.test',
      SEALPOST_SMTP_HOST: '127.0.0.1',
      SEALPOST_SMTP_PORT: '0',
      SEALPOST_LOG_LEVEL: 'error',
      SEALPOST_ALLOW_PRIVATE_DESTINATIONS: 'true',
      SEALPOST_ALLOW_HTTP_DESTINATIONS: 'true',
      SEALPOST_RATE_LIMIT_PER_KEY: '1000000',
      SEALPOST_RATE_LIMIT_PER_IP: '1000000',
      SEALPOST_RETRY_SCHEDULE: '0,100ms,200ms,500ms,1s,1s,1s,1s,1s,1s',
    };
    const created = await runCli(['tenants', 'create', '--name', 'crash'], env);
    expect(created.code, created.stderr).toBe(0);
    const { api_key: apiKey } = JSON.parse(created.stdout) as { api_key: string };
    const headers = { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' };

    const start = async (): Promise<{ child: ReturnType<typeof spawnCli>; base: string; agent: Agent }> => {
      const child = spawnCli(['start'], env);
      const [, port] = await waitForOutput(child, /listening on https:\/\/127\.0\.0\.1:(\d+)/);
      const ca = readFileSync(path.join(env.SEALPOST_DATA_DIR, 'tls', 'self-signed.crt'));
      return { child, base: `https://127.0.0.1:${port}`, agent: new Agent({ connect: { ca, servername: 'localhost' } }) };
    };

    let server = await start();
    const dst = await request(`${server.base}/v1/destinations`, {
      method: 'POST',
      headers,
      dispatcher: server.agent,
      // A short request timeout keeps the dead process's leases (timeout + margin) short.
      body: JSON.stringify({ url: `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hook`, timeout_ms: 2000 }),
    });
    expect(dst.statusCode).toBe(201);
    await dst.body.dump();

    const acknowledged = new Set<string>();
    let next = 0;
    let killed = false;
    const sender = async (): Promise<void> => {
      while (next < TOTAL && !killed) {
        const n = next++;
        try {
          const res = await request(`${server.base}/v1/payloads`, { method: 'POST', headers, dispatcher: server.agent, body: JSON.stringify({ n, pad: 'x'.repeat(1500) }) });
          const body = (await res.body.json()) as { id?: string };
          if (res.statusCode === 202 && body.id) acknowledged.add(body.id);
        } catch {
          // The process died under this request: no 202, so no promise was made.
        }
        if (!killed && acknowledged.size >= KILL_AFTER) {
          killed = true;
          server.child.kill('SIGKILL');
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, sender));
    expect(killed).toBe(true);
    await waitForExit(server.child);
    await server.agent.close();

    // Restart: the new process finds the committed outbox rows and the dead process's leases.
    server = await start();
    try {
      const handle = testDb.open();
      const { db } = handle;
      const state = async (): Promise<string> =>
        JSON.stringify(
          (await sql`select status, lease_owner is not null as leased, count(*) as n, min(lease_expires_at) as lease_until from deliveries group by status, lease_owner is not null`.execute(db)).rows,
        ) + ` at ${Date.now()}`;
      await poll(() => [...acknowledged].every((id) => delivered.has(id)), 150_000, async () => `${[...acknowledged].filter((id) => delivered.has(id)).length}/${acknowledged.size} delivered; ${await state()}`);

      // Every stored payload is whole: its envelope and its outbox row were committed together.
      const payloads = await db.selectFrom('payloads').select('id').execute();
      const deliveries = await db.selectFrom('deliveries').select(['id', 'payload_id', 'attempts', 'status']).execute();
      expect(payloads.length).toBeGreaterThanOrEqual(acknowledged.size);
      expect(new Set(deliveries.map((d) => d.payload_id))).toEqual(new Set(payloads.map((p) => p.id)));
      for (const id of acknowledged) expect(payloads.some((p) => p.id === id)).toBe(true);

      // Let every stored (even unacknowledged) payload finish, then check the attempt record has no gaps.
      await poll(async () => {
        const pending = await db.selectFrom('deliveries').select('id').where('status', '=', 'pending').execute();
        return pending.length === 0;
      }, 150_000, state);
      const counts = await sql<{ delivery_id: string; n: number; max: number }>`select delivery_id, count(*) as n, max(attempt) as max from delivery_attempts group by delivery_id`.execute(db);
      const byDelivery = new Map(counts.rows.map((r) => [r.delivery_id, r]));
      const finished = await db.selectFrom('deliveries').select(['id', 'attempts', 'status']).execute();
      for (const d of finished) {
        expect(d.status).toBe('succeeded');
        const recorded = byDelivery.get(d.id);
        expect(Number(recorded?.n), d.id).toBe(d.attempts);
        expect(Number(recorded?.max), d.id).toBe(d.attempts);
      }
    } finally {
      server.child.kill('SIGTERM');
      await waitForExit(server.child);
      await server.agent.close();
    }
  }, 400_000);
});
