import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Dialect } from '../../src/db/database.js';
import { testDialects } from '../support/test-database.js';
import { openDeliveryFixture, startReceiver, type DeliveryFixture, type Receiver } from './delivery-fixture.js';

const root = path.resolve(import.meta.dirname, '../..');
const SCRIPT = path.join(import.meta.dirname, 'worker-process.ts');
const POLL = { timeout: 45_000, interval: 20 };
/** Worker processes are cold starts of Node and tsx, and each test waits up to twice POLL.timeout. */
const PROCESS_TEST_TIMEOUT_MS = 180_000;

describe.each(testDialects())('worker processes on %s', { timeout: PROCESS_TEST_TIMEOUT_MS }, (dialect: Dialect) => {
  let fx: DeliveryFixture;
  const children: ChildProcess[] = [];
  const cleanups: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    fx = await openDeliveryFixture(dialect);
  });
  afterEach(async () => {
    await Promise.all(children.splice(0).map((c) => kill(c)));
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  afterAll(async () => {
    await fx.dispose();
  });

  function kill(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    return exited;
  }

  /** Starts a worker process and resolves once it is polling. */
  async function workerProcess(workerId: string): Promise<ChildProcess> {
    const child = spawn(process.execPath, ['--conditions=sealpost-source', '--import', 'tsx', SCRIPT], {
      cwd: root,
      env: {
        PATH: process.env.PATH,
        SP_TEST_DATABASE: JSON.stringify(fx.testDb.config),
        SP_TEST_KEYRING: fx.keyringDir,
        SP_TEST_WORKER_ID: workerId,
      },
      // stdin stays open while this process lives; the worker exits when it closes.
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    children.push(child);
    let stderr = '';
    await new Promise<void>((resolve, reject) => {
      child.stderr?.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        if (stderr.includes('worker ready')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`worker ${workerId} exited with ${code}: ${stderr}`)));
    });
    return child;
  }

  async function receiver(): Promise<Receiver> {
    const r = await startReceiver();
    cleanups.push(() => r.close());
    return r;
  }

  async function statuses(tenantId: string): Promise<Record<string, number>> {
    const rows = await fx.handle.db
      .selectFrom('deliveries')
      .select(['status', (eb) => eb.fn.countAll<number>().as('n')])
      .where('tenant_id', '=', tenantId)
      .groupBy('status')
      .execute();
    return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
  }

  async function attemptsOf(tenantId: string) {
    return fx.handle.db
      .selectFrom('delivery_attempts')
      .select(['delivery_id', 'attempt', 'error_class', 'status_code', 'worker'])
      .where('tenant_id', '=', tenantId)
      .orderBy('delivery_id')
      .orderBy('attempt')
      .execute();
  }

  it('two worker processes send each of 200 deliveries exactly once per attempt', async () => {
    const r = await receiver();
    const seen = new Set<string>();
    r.handler = (q, res) => {
      const id = String(q.headers['webhook-id']);
      const first = !seen.has(id);
      seen.add(id);
      setTimeout(() => res.writeHead(first ? 503 : 204).end(), 2);
    };
    const tenant = await fx.tenant();
    await fx.destination(tenant, { url: r.url, maxConcurrency: 100 });
    const a = await workerProcess('process-a');
    const b = await workerProcess('process-b');
    for (let i = 0; i < 200; i++) await fx.ingest(tenant, { i });

    await vi.waitFor(async () => expect(await statuses(tenant)).toEqual({ succeeded: 200 }), POLL);
    const perId = new Map<string, number>();
    for (const q of r.requests) perId.set(String(q.headers['webhook-id']), (perId.get(String(q.headers['webhook-id'])) ?? 0) + 1);
    expect(perId.size).toBe(200);
    expect([...perId.values()].filter((n) => n !== 2)).toEqual([]);
    const attempts = await attemptsOf(tenant);
    expect(attempts).toHaveLength(400);
    expect(new Set(attempts.map((x) => `${x.delivery_id}:${x.attempt}`)).size).toBe(400);
    expect(new Set(attempts.map((x) => x.worker))).toEqual(new Set(['process-a', 'process-b']));

    // Graceful stop: both exit 0 on SIGTERM.
    const codes = await Promise.all([a, b].map((c) => new Promise<number | null>((resolve) => (c.once('exit', (code) => resolve(code)), c.kill('SIGTERM')))));
    expect(codes).toEqual([0, 0]);
  });

  it('after kill -9 of a worker mid-send, another worker delivers everything and the record has every attempt', async () => {
    const r = await receiver();
    let answering = false;
    // Hold every request until the victim is dead; then answer normally.
    r.handler = (_q, res) => {
      if (answering) res.writeHead(200).end();
    };
    const tenant = await fx.tenant();
    // The victim must die while its requests are still open, before their timeout ends them (and
    // its lease, timeout + margin, is what the rescuer waits out). So everything is queued before
    // the victim starts, and it sends its first 16 at once instead of as ingest trickles them in.
    await fx.destination(tenant, { url: r.url, maxConcurrency: 100, timeoutMs: 5_000 });
    const sent = [];
    for (let i = 0; i < 40; i++) sent.push(await fx.ingest(tenant, { i }));
    const victim = await workerProcess('victim');
    await vi.waitFor(() => expect(r.requests.length).toBeGreaterThanOrEqual(16), POLL);
    await kill(victim, 'SIGKILL');
    answering = true;

    await workerProcess('rescuer');
    await vi.waitFor(async () => expect(await statuses(tenant)).toEqual({ succeeded: 40 }), POLL);

    const received = new Set(r.requests.map((q) => String(q.headers['webhook-id'])));
    for (const s of sent) expect(received.has(s.id)).toBe(true);
    const attempts = await attemptsOf(tenant);
    const lost = attempts.filter((x) => x.error_class === 'lease_expired');
    expect(lost.length).toBeGreaterThanOrEqual(16);
    expect(lost.every((x) => x.worker === 'victim')).toBe(true);
    // No gap in any delivery's record: attempts 1..n, the last one the success.
    const byDelivery = new Map<string, typeof attempts>();
    for (const x of attempts) byDelivery.set(x.delivery_id, [...(byDelivery.get(x.delivery_id) ?? []), x]);
    const rows = await fx.handle.db.selectFrom('deliveries').select(['id', 'attempts']).where('tenant_id', '=', tenant).execute();
    for (const d of rows) {
      const list = byDelivery.get(d.id) ?? [];
      expect(list.map((x) => x.attempt)).toEqual(Array.from({ length: d.attempts }, (_, i) => i + 1));
      expect(list.at(-1)).toMatchObject({ status_code: 200, worker: 'rescuer' });
    }
  });
});
