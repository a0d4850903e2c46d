import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Agent, fetch } from 'undici';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { registerApi } from '../../src/app/api.js';
import { createSealpost } from '../../src/app/sealpost.js';
import { createLogger } from '../../src/logging/logger.js';
import { REFUSALS_STORED_PER_MINUTE } from '../../src/audit/audit-request.hook.js';
import { enqueueDeliveries } from '../../src/delivery/outbox.repository.js';
import { buildHttpServer } from '../../src/http/server.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { testDialects } from '../support/test-database.js';

const POLL = { timeout: 15_000, interval: 20 };
/** 20 s into a minute: every request of a test falls into one window of the injected clock. */
const MINUTE = 1_900_000_020_000 - (1_900_000_020_000 % 60_000);

async function inBatches<T>(count: number, width: number, one: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = [];
  for (let i = 0; i < count; i += width) {
    results.push(...(await Promise.all(Array.from({ length: Math.min(width, count - i) }, (_, j) => one(i + j)))));
  }
  return results;
}

describe.each(testDialects())('rate limits and refused requests on %s', (dialect) => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function app(env: Record<string, string>, now: () => number = () => MINUTE + 20_000): Promise<TestApp> {
    const started = await startTestApp(dialect, { env, api: { now } });
    cleanups.push(() => started.close());
    return started;
  }

  // The deployment's own tenant is made (and audited) at start: only the requests' events count here.
  const auditRows = async (a: TestApp) =>
    (await a.context.database.db.selectFrom('audit_events').select(['action', 'tenant_id', 'event']).orderBy('log_index').execute()).filter((r) => r.tenant_id !== a.context.deploymentTenant.id);

  it('refused requests are counted, not stored one by one', async () => {
    const a = await app({ SEALPOST_RATE_LIMIT_PER_IP: '50' });
    const n = 300;
    const statuses = await inBatches(n, 20, async () => (await a.fetch('/v1/payloads')).status);
    expect(statuses.filter((s) => s === 401)).toHaveLength(50);
    expect(statuses.filter((s) => s === 429)).toHaveLength(n - 50);

    // Every refusal past the first few has been counted once its onResponse hook ran.
    await vi.waitFor(() => expect(a.services.refused.pending).toBe(n - REFUSALS_STORED_PER_MINUTE), POLL);
    await a.services.refused.flush();
    await vi.waitFor(async () => expect((await auditRows(a)).filter((r) => r.action === 'api.request')).toHaveLength(REFUSALS_STORED_PER_MINUTE), POLL);
    const rows = await auditRows(a);
    expect(rows.length).toBeLessThanOrEqual(REFUSALS_STORED_PER_MINUTE + 1);
    const aggregates = rows.filter((r) => r.action === 'api.refused');
    expect(aggregates).toHaveLength(1);
    const event = JSON.parse(aggregates[0]!.event!) as { details: { ip: string; minute: string; count: number; statuses: Record<string, number> } };
    expect(event.details).toEqual({
      ip: '127.0.0.1',
      minute: new Date(MINUTE).toISOString(),
      count: n - REFUSALS_STORED_PER_MINUTE,
      statuses: { '401': 50 - REFUSALS_STORED_PER_MINUTE, '429': n - 50 },
    });
  });

  it("counts a key's refusals under its tenant", async () => {
    const a = await app({ SEALPOST_RATE_LIMIT_PER_KEY: '3' });
    const { tenant, apiKey } = await a.createTenant();
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) statuses.push((await a.fetch('/v1/payloads', { token: apiKey })).status);
    expect(statuses.filter((s) => s === 429)).toHaveLength(17);
    await vi.waitFor(() => expect(a.services.refused.pending).toBe(17 - REFUSALS_STORED_PER_MINUTE), POLL);
    await a.services.refused.flush();
    await vi.waitFor(async () => expect((await auditRows(a)).filter((r) => r.action === 'api.refused')).toHaveLength(1), POLL);
    const aggregate = (await auditRows(a)).find((r) => r.action === 'api.refused')!;
    expect(aggregate.tenant_id).toBe(tenant);
    expect(JSON.parse(aggregate.event!)).toMatchObject({ details: { count: 17 - REFUSALS_STORED_PER_MINUTE, statuses: { '429': 17 - REFUSALS_STORED_PER_MINUTE } } });
  });

  it('the per-IP limit applies before authentication', async () => {
    const a = await app({ SEALPOST_RATE_LIMIT_PER_IP: '5', SEALPOST_RATE_LIMIT_PER_KEY: '1000' });
    const { apiKey } = await a.createTenant();
    const authenticate = vi.spyOn(a.services.keys, 'authenticate');
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await a.fetch('/v1/payloads', { token: apiKey })).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429, 429]);
    // The over-limit requests never reached the key lookup.
    expect(authenticate).toHaveBeenCalledTimes(5);
  });

  it('limits /healthz, /readyz and /.well-known/* too', async () => {
    const a = await app({ SEALPOST_RATE_LIMIT_PER_IP: '3' });
    const paths = ['/healthz', '/readyz', '/.well-known/jwks.json', '/.well-known/sealpost-log-key', '/healthz'];
    const answers = [];
    for (const p of paths) answers.push(await a.fetch(p));
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200, 429, 429]);
    const refused = answers[4]!;
    expect(refused.headers.get('content-type')).toBe('application/problem+json; charset=utf-8');
    expect(Number(refused.headers.get('retry-after'))).toBe(40);
    expect(await refused.json()).toMatchObject({ code: 'SP_ERR_HTTP_RATE_LIMITED' });
    // The API has a bucket of its own: probes cannot be starved by API traffic, nor the reverse.
    expect((await a.fetch('/v1/payloads')).status).toBe(401);
  });

  it.runIf(dialect === 'postgres')('limits hold across two API processes on PostgreSQL', async () => {
    const now = (): number => MINUTE + 20_000;
    const a = await app({ SEALPOST_RATE_LIMIT_PER_IP: '10', SEALPOST_RATE_LIMIT_PER_KEY: '1000' }, now);
    // A second API process: its own context, pool and server, sharing only the database.
    const logger = createLogger('silent');
    const context = await createSealpost(a.context.config, { logger, publicUrl: 'https://localhost', enqueue: enqueueDeliveries });
    const server = await buildHttpServer({ config: a.context.config, logger, readiness: async () => {} });
    await registerApi(server.app, context, { now });
    const { port } = await server.listen();
    const dispatcher = new Agent({ connect: { ca: readFileSync(path.join(a.context.config.dataDir, 'tls', 'self-signed.crt')), servername: 'localhost' } });
    cleanups.push(async () => {
      await server.close();
      await dispatcher.close();
      await context.close();
    });
    const { apiKey } = await a.createTenant();
    const viaSecond = (p: string) => fetch(`https://127.0.0.1:${port}${p}`, { dispatcher, headers: { authorization: `Bearer ${apiKey}` } });

    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) statuses.push(i % 2 === 0 ? (await a.fetch('/v1/payloads', { token: apiKey })).status : (await viaSecond('/v1/payloads')).status);
    // Ten in all, not ten per process.
    expect(statuses.filter((s) => s === 200)).toHaveLength(10);
    expect(statuses.slice(10).every((s) => s === 429)).toBe(true);
    const row = await a.context.database.db.selectFrom('rate_limit_windows').select(['bucket', 'count']).where('bucket', '=', 'ip:127.0.0.1').executeTakeFirstOrThrow();
    // Ten granted, plus at most one refused reservation per process that found the window full.
    expect(Number(row.count)).toBeGreaterThanOrEqual(10);
    expect(Number(row.count)).toBeLessThanOrEqual(12);
  });
});
