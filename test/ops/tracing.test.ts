import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorker } from '../../src/app/worker.js';
import { capturingLogger } from '../http/http-test-support.js';
import { until } from '../support/poll.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

interface Listener {
  readonly port: number;
  readonly requests: { path: string; headers: http.IncomingHttpHeaders; body: string }[];
  close(): Promise<void>;
}

/** A plain HTTP server on loopback that keeps every request and answers 200. */
async function listener(): Promise<Listener> {
  const requests: Listener['requests'] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      requests.push({ path: req.url ?? '', headers: req.headers, body });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/;

describe('OpenTelemetry tracing', () => {
  const captured = capturingLogger('info');
  let collector: Listener;
  let receiver: Listener;
  let app: TestApp;
  let closed = false;

  beforeAll(async () => {
    collector = await listener();
    receiver = await listener();
    app = await startTestApp('sqlite', {
      env: {
        SEALPOST_OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${collector.port}/v1/traces`,
        SEALPOST_ALLOW_PRIVATE_DESTINATIONS: '127.0.0.1/32',
        SEALPOST_ALLOW_HTTP_DESTINATIONS: 'true',
      },
      overrides: { logger: captured.logger },
    });
  });
  afterAll(async () => {
    if (!closed) await app?.close();
    await collector?.close();
    await receiver?.close();
  });

  it('continues the caller\'s trace, logs its trace id, sends traceparent to the destination and exports the spans over OTLP', async () => {
    const { apiKey } = await app.createTenant();
    const headers = { 'content-type': 'application/json' };
    const created = await app.fetch('/v1/destinations', { method: 'POST', token: apiKey, headers, body: JSON.stringify({ url: `http://127.0.0.1:${receiver.port}/hook` }) });
    expect(created.status).toBe(201);
    await created.arrayBuffer();

    const callerTrace = '4bf92f3577b34da6a3ce929d0e0e4736';
    const sent = await app.fetch('/v1/payloads', {
      method: 'POST',
      token: apiKey,
      headers: { ...headers, traceparent: `00-${callerTrace}-00f067aa0ba902b7-01` },
      body: '{"traced":true}',
    });
    expect(sent.status).toBe(202);
    await sent.arrayBuffer();
    // The request's log lines carry the caller's trace id ("request completed" is written after the answer).
    const traced = (): boolean => captured.lines.some((l) => (JSON.parse(l) as { trace_id?: string }).trace_id === callerTrace);
    await until(traced);

    const worker = startWorker(app.context, { idlePollMs: 10 });
    try {
      await until(() => receiver.requests.length === 1);
    } finally {
      await worker.stop();
    }
    const traceparent = receiver.requests[0]!.headers.traceparent;
    expect(traceparent).toMatch(TRACEPARENT);
    const attemptTrace = TRACEPARENT.exec(String(traceparent))![1]!;

    // Closing flushes the batch: the collector receives both traces.
    await app.close();
    closed = true;
    const exported = collector.requests.filter((r) => r.path === '/v1/traces').map((r) => r.body).join('\n');
    expect(exported).toContain(callerTrace);
    expect(exported).toContain(attemptTrace);
    expect(exported).toContain('delivery.attempt');
    expect(exported).toContain('POST /v1/payloads');
  });
});
