import { mkdtemp, rm } from 'node:fs/promises';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import type { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll } from 'vitest';
import { createLogger, type Logger } from '../../src/logging/logger.js';
import { buildHttpServer, type HttpConfig, type HttpServer } from '../../src/http/server.js';
import { until } from '../support/poll.js';

export async function makeTempDir(prefix = 'sealpost-http-'): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), prefix));
}

export async function removeDirs(dirs: string[]): Promise<void> {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
}

export function testConfig(dataDir: string, overrides: Partial<HttpConfig> = {}): HttpConfig {
  return {
    httpHost: '127.0.0.1',
    httpPort: 0,
    dataDir,
    tlsMinVersion: 'TLSv1.2',
    shutdownTimeoutSeconds: 5,
    ...overrides,
  };
}

/**
 * A Sealpost HTTPS server (self-signed certificate, free port) for the tests of one describe
 * block, started before them and removed after; `routes` adds test routes before it listens.
 */
export function serveForTests(routes?: (app: FastifyInstance) => void): { readonly port: number } {
  const dirs: string[] = [];
  let server: HttpServer | undefined;
  const listening = { port: 0 };
  beforeAll(async () => {
    const dataDir = await makeTempDir();
    dirs.push(dataDir);
    server = await buildHttpServer({ config: testConfig(dataDir), logger: capturingLogger().logger, readiness: async () => {} });
    routes?.(server.app);
    ({ port: listening.port } = await server.listen());
  });
  afterAll(async () => {
    await server?.close();
    await removeDirs(dirs);
  });
  return listening;
}

/** A logger whose JSON lines are kept in memory, for assertions on what reaches the log. */
export function capturingLogger(level = 'info'): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const destination = { write: (line: string) => lines.push(line) } as unknown as Writable;
  return { logger: createLogger(level, destination), lines };
}

export interface Handshake {
  readonly protocol: string | null;
  readonly fingerprint: string;
}

/** Opens a TLS connection, reports what was negotiated, and closes it. */
export function handshake(port: number, options: tls.ConnectionOptions = {}): Promise<Handshake> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...options }, () => {
      const result = { protocol: socket.getProtocol(), fingerprint: socket.getPeerCertificate().fingerprint256 };
      socket.end();
      resolve(result);
    });
    socket.once('error', reject);
  });
}

export interface TestResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
  readonly json: () => unknown;
  readonly reusedSocket: boolean;
  readonly peerFingerprint: string;
}

/** A real HTTPS request to the server on 127.0.0.1, verifying its certificate against `ca`. */
export function request(
  port: number,
  options: { path: string; method?: string; headers?: Record<string, string>; body?: string; ca?: string; agent?: https.Agent },
): Promise<TestResponse> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        path: options.path,
        method: options.method ?? 'GET',
        headers: options.headers,
        ...(options.agent ? { agent: options.agent } : { agent: false, ca: options.ca, rejectUnauthorized: options.ca !== undefined }),
      },
      (res) => {
        // Read now: a keep-alive agent takes the socket back once the body has been read.
        const peerFingerprint = (res.socket as tls.TLSSocket).getPeerCertificate().fingerprint256;
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body,
            json: () => JSON.parse(body) as unknown,
            reusedSocket: req.reusedSocket,
            peerFingerprint,
          });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Polls `check` until it returns true (no fixed sleeps): test/support/poll.ts. */
export const waitFor = (check: () => boolean): Promise<void> => until(check);
