import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../logging/logger.js';
import { withTimeout } from '../util/timeout.js';
import { READINESS_TIMEOUT_MS } from './health.routes.js';

/** One dependency or job of a process, as `/readyz` reports it. */
export interface ReadinessCheck {
  readonly ok: boolean;
  readonly detail?: unknown;
}

/** What `/readyz` on the health listener answers: ready when every check is ok. */
export interface ReadinessReport {
  readonly ready: boolean;
  readonly checks: Readonly<Record<string, ReadinessCheck>>;
}

export interface HealthListener {
  readonly port: number;
  close(): Promise<void>;
}

/** A request that is not a probe: refused before any work, so the listener costs nothing to abuse. */
const MAX_URL_LENGTH = 64;

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

/**
 * The health listener of every role (`SEALPOST_HEALTH_PORT`): plain HTTP, meant for loopback or a
 * private network, for a supervisor or orchestrator. `GET /healthz` answers while the event loop
 * runs; `GET /readyz` runs the process's readiness checks (database, keyring, the role's
 * periodic jobs) and answers 200 or 503 with each check, so an operator sees which one failed.
 * Nothing in the report is secret (names, times, error messages of dependencies).
 */
export function startHealthListener(options: {
  host: string;
  port: number;
  readiness: () => Promise<ReadinessReport>;
  logger: Logger;
  timeoutMs?: number;
}): Promise<HealthListener> {
  const timeoutMs = options.timeoutMs ?? READINESS_TIMEOUT_MS;
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const url = req.url ?? '';
    if ((req.method !== 'GET' && req.method !== 'HEAD') || url.length > MAX_URL_LENGTH) return send(res, 405, { status: 'method not allowed' });
    const path = url.split('?')[0];
    if (path === '/healthz') return send(res, 200, { status: 'ok' });
    if (path !== '/readyz') return send(res, 404, { status: 'not found' });
    withTimeout(options.readiness(), timeoutMs, (): ReadinessReport => ({ ready: false, checks: { readiness: { ok: false, detail: `no answer within ${timeoutMs} ms` } } }))
      .catch((err: unknown): ReadinessReport => ({ ready: false, checks: { readiness: { ok: false, detail: err instanceof Error ? err.message : String(err) } } }))
      .then((report) => {
        if (!report.ready) options.logger.warn({ checks: report.checks }, 'not ready');
        send(res, report.ready ? 200 : 503, { status: report.ready ? 'ok' : 'not ready', checks: report.checks });
      })
      .catch((err: unknown) => options.logger.error({ err }, 'health listener failed to answer'));
  };
  const server = createServer(handle);
  // Probes are short; a client that holds a socket open gets nothing from it.
  server.requestTimeout = timeoutMs + 1_000;
  server.headersTimeout = timeoutMs + 1_000;
  server.keepAliveTimeout = 1_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve({
        port: (server.address() as AddressInfo).port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
