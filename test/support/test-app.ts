import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Agent, fetch, type RequestInit, type Response } from 'undici';
import { startApi, type ApiOptions, type ApiServices } from '../../src/app/api.js';
import { createLogger } from '../../src/logging/logger.js';
import { createSealpost, type Sealpost, type SealpostOverrides } from '../../src/app/sealpost.js';
import { loadConfig } from '../../src/config/config.load.js';
import type { Dialect } from '../../src/db/database.js';
import { enqueueDeliveries } from '../../src/delivery/outbox.repository.js';
import type { HttpServer } from '../../src/http/server.js';
import type { Plan } from '../../src/identity/scopes.js';
import { createTestDatabase, type TestDatabase } from './test-database.js';

export interface TestApp {
  readonly url: string;
  /** The composition root the app runs on (src/app/sealpost.ts). */
  readonly context: Sealpost;
  readonly services: ApiServices;
  readonly server: HttpServer;
  readonly testDb: TestDatabase;
  /** fetch against the app over real TLS, trusting only its self-signed certificate. */
  fetch(pathname: string, init?: RequestInit & { token?: string }): Promise<Response>;
  createTenant(plan?: Plan): Promise<{ tenant: string; apiKey: string }>;
  close(): Promise<void>;
}

/**
 * A complete Sealpost API (real database, keyring, blob store, TLS) on 127.0.0.1 with a free
 * port, built by the same composition root as `sealpost start`.
 */
export async function startTestApp(
  dialect: Dialect,
  options: { env?: Record<string, string>; api?: ApiOptions; overrides?: SealpostOverrides } = {},
): Promise<TestApp> {
  const testDb = await createTestDatabase(dialect);
  const dataDir = path.join(testDb.dir, 'data');
  const config = loadConfig({
    SEALPOST_DATA_DIR: dataDir,
    SEALPOST_DATABASE_URL: testDb.config.dialect === 'postgres' ? testDb.config.url : `sqlite:${testDb.config.file}`,
    SEALPOST_HTTP_HOST: '127.0.0.1',
    SEALPOST_HTTP_PORT: '0',
    SEALPOST_LOG_LEVEL: 'silent',
    ...options.env,
  });
  const context = await createSealpost(config, {
    logger: createLogger('silent'),
    publicUrl: 'https://localhost',
    enqueue: enqueueDeliveries,
    ...options.overrides,
  });
  const { server, services, listening } = await startApi(context, { readiness: async () => {}, ...options.api });
  const ca = readFileSync(path.join(dataDir, 'tls', 'self-signed.crt'));
  const dispatcher = new Agent({ connect: { ca, servername: 'localhost' } });
  const url = `https://127.0.0.1:${listening.port}`;
  const tenants = context.tenants;

  return {
    url,
    context,
    services,
    server,
    testDb,
    fetch(pathname, init = {}) {
      const { token, headers, ...rest } = init;
      return fetch(`${url}${pathname}`, {
        ...rest,
        dispatcher,
        headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(headers as Record<string, string> | undefined) },
      });
    },
    async createTenant(plan = 'starter') {
      const created = await tenants.create('Test tenant', plan);
      return { tenant: created.tenant.id, apiKey: created.apiKey };
    },
    async close() {
      await server.close();
      await dispatcher.close();
      await context.close();
      await testDb.dispose();
    },
  };
}
