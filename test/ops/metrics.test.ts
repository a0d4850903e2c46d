import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMetrics } from '../../src/app/metrics.js';
import { startWorker } from '../../src/app/worker.js';
import type { MetricsServer } from '../../src/ops/metrics.server.js';
import { until } from '../support/poll.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { testDialects } from '../support/test-database.js';

function get(port: number, path: string, method = 'GET'): Promise<{ status: number; type: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .request({ host: '127.0.0.1', port, path, method }, (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], body }));
      })
      .on('error', reject)
      .end();
  });
}

/** The value of one sample of the Prometheus text format, or undefined when it is absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe.each(testDialects())('Prometheus metrics on %s', (dialect) => {
  let app: TestApp;
  let metrics: MetricsServer;
  let receiver: http.Server;
  let receiverPort: number;
  let apiKey: string;
  const scrape = async (): Promise<string> => (await get(metrics.port, '/metrics')).body;
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    app.fetch(path, { method: 'POST', token: apiKey, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

  beforeAll(async () => {
    receiver = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(200).end('ok'));
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    receiverPort = (receiver.address() as AddressInfo).port;
    app = await startTestApp(dialect, { env: { SEALPOST_ALLOW_PRIVATE_DESTINATIONS: '127.0.0.1/32', SEALPOST_ALLOW_HTTP_DESTINATIONS: 'true' } });
    metrics = (await startMetrics(app.context, { port: 0 }))!;
    ({ apiKey } = await app.createTenant());
  });
  afterAll(async () => {
    await metrics?.close();
    await app?.close();
    await new Promise<void>((resolve) => receiver.close(() => resolve()));
  });

  it('serves GET /metrics on loopback and nothing else', async () => {
    const res = await get(metrics.port, '/metrics');
    expect(res.status).toBe(200);
    expect(res.type).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(res.body).toContain('# TYPE sealpost_ingest_total counter');
    expect(res.body).toContain('sealpost_process_cpu_seconds_total');
    expect((await get(metrics.port, '/')).status).toBe(404);
    expect((await get(metrics.port, '/metrics', 'POST')).status).toBe(405);
    expect(app.context.config.metricsHost).toBe('127.0.0.1');
  });

  it('counts ingests by channel and outcome, with their latency', async () => {
    const first = await post('/v1/payloads', { n: 1 }, { 'idempotency-key': 'metrics-1' });
    expect(first.status).toBe(202);
    await first.arrayBuffer();
    const replay = await post('/v1/payloads', { n: 1 }, { 'idempotency-key': 'metrics-1' });
    expect(replay.status).toBe(202);
    await replay.arrayBuffer();
    const conflict = await post('/v1/payloads', { n: 2 }, { 'idempotency-key': 'metrics-1' });
    expect(conflict.status).toBe(409);
    await conflict.arrayBuffer();

    const text = await scrape();
    expect(sample(text, 'sealpost_ingest_total{channel="https",outcome="accepted"}')).toBe(1);
    expect(sample(text, 'sealpost_ingest_total{channel="https",outcome="replayed"}')).toBe(1);
    expect(sample(text, 'sealpost_ingest_total{channel="https",outcome="refused"}')).toBe(1);
    expect(sample(text, 'sealpost_ingest_duration_seconds_count{channel="https"}')).toBe(2);
  });

  it('reports each destination\'s queue and its oldest due delivery, then the attempts that empty it', async () => {
    const created = await post('/v1/destinations', { url: `http://127.0.0.1:${receiverPort}/hook` });
    expect(created.status).toBe(201);
    const destination = ((await created.json()) as { id: string }).id;
    for (const n of [1, 2]) {
      const res = await post('/v1/payloads', { queued: n });
      expect(res.status).toBe(202);
      await res.arrayBuffer();
    }
    let text = await scrape();
    expect(sample(text, `sealpost_delivery_queue_depth{destination="${destination}"}`)).toBe(2);
    expect(sample(text, `sealpost_delivery_oldest_due_age_seconds{destination="${destination}"}`)).toBeGreaterThanOrEqual(0);

    const worker = startWorker(app.context, { idlePollMs: 10 });
    try {
      await until(async () => sample(await scrape(), 'sealpost_delivery_attempts_total{outcome="succeeded",status_class="2xx"}') === 2);
    } finally {
      await worker.stop();
    }
    text = await scrape();
    expect(sample(text, `sealpost_delivery_queue_depth{destination="${destination}"}`)).toBeUndefined();
    expect(sample(text, 'sealpost_delivery_attempt_duration_seconds_count{outcome="succeeded"}')).toBe(2);
  });

  it('reports the age of the oldest active signing key and of the newest audit checkpoint', async () => {
    let text = await scrape();
    expect(sample(text, 'sealpost_signing_key_age_seconds')).toBeGreaterThanOrEqual(0);
    await app.context.audit.checkpoints.checkpointIfGrown();
    text = await scrape();
    const age = sample(text, 'sealpost_audit_checkpoint_age_seconds');
    expect(age).toBeGreaterThanOrEqual(0);
    expect(age).toBeLessThan(3600);
  });

  it('reports no backup and no drill yet as -1, so an alert on a missing backup fires from the start', async () => {
    const text = await scrape();
    expect(sample(text, 'sealpost_backup_age_seconds')).toBe(-1);
    expect(sample(text, 'sealpost_backup_drill_age_seconds')).toBe(-1);
    expect(sample(text, 'sealpost_backup_drill_rto_seconds')).toBe(-1);
  });
});
