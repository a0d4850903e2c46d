import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Agent, fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startApi, type ApiRole } from '../../src/app/api.js';
import { processReadiness, readinessGate } from '../../src/app/readiness.js';
import { createSealpost, type Sealpost } from '../../src/app/sealpost.js';
import { startSmtp } from '../../src/app/smtp.js';
import { loadConfig } from '../../src/config/config.load.js';
import { enqueueDeliveries } from '../../src/delivery/outbox.repository.js';
import type { SmtpServerHandle } from '../../src/ingest/smtp/smtp.server.js';
import { createLogger } from '../../src/logging/logger.js';
import { RawSmtpClient, fixedResolver } from '../ingest/smtp/smtp-test-support.js';
import { until } from '../support/poll.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

/** SEALPOST_DATABASE_TIMEOUT_SECONDS in this test. */
const TIMEOUT_S = 1;
/**
 * A request during an outage must be answered, not hang: a connection wait plus one statement,
 * each bounded by the timeout, with room for a loaded machine. Far below the 20 s freeze the
 * issue saw hang a request, and below the test's own timeout.
 */
const ANSWER_WITHIN_MS = 4 * TIMEOUT_S * 1000 + 4_000;

describe.skipIf(!inject('pgUrl'))('PostgreSQL outages', { timeout: 90_000 }, () => {
  let testDb: TestDatabase;
  let proxy: TcpProxy;
  let sealpost: Sealpost;
  let api: ApiRole;
  let smtp: SmtpServerHandle;
  let agent: Agent;
  let ca: Buffer;
  let apiKey: string;
  let inbox: string;
  let accepted = 0;

  beforeAll(async () => {
    testDb = await createTestDatabase('postgres');
    const target = new URL(testDb.config.dialect === 'postgres' ? testDb.config.url : '');
    proxy = await startTcpProxy(target.hostname, Number(target.port));
    const viaProxy = new URL(target);
    viaProxy.port = String(proxy.port);
    const dataDir = path.join(testDb.dir, 'data');
    const config = loadConfig({
      SEALPOST_DATA_DIR: dataDir,
      SEALPOST_DATABASE_URL: viaProxy.toString(),
      SEALPOST_DATABASE_TIMEOUT_SECONDS: String(TIMEOUT_S),
      SEALPOST_PUBLIC_URL: 'https://sealpost.test',
      SEALPOST_INBOUND_DOMAIN: 'in.sealpost.test',
      SEALPOST_HTTP_HOST: '127.0.0.1',
      SEALPOST_HTTP_PORT: '0',
    });
    sealpost = await createSealpost(config, { logger: createLogger('silent'), enqueue: enqueueDeliveries });
    api = await startApi(sealpost, { readiness: readinessGate(processReadiness(sealpost, () => ({}))) });
    smtp = await startSmtp(sealpost, { port: 0, host: '127.0.0.1', name: 'mx.sealpost.test', resolver: fixedResolver({}) });
    ca = readFileSync(path.join(dataDir, 'tls', 'self-signed.crt'));
    agent = new Agent({ connect: { ca, servername: 'localhost' } });
    const created = await sealpost.tenants.create('Outage', 'starter');
    apiKey = created.apiKey;
    inbox = sealpost.inboxes.address(await sealpost.inboxes.create(created.tenant.id, {}, { type: 'system', id: 'test' }));
  });
  afterAll(async () => {
    proxy?.restore();
    await api?.close();
    await smtp?.close();
    await agent?.close();
    await sealpost?.close();
    await proxy?.close();
    await testDb?.dispose();
  });

  const call = (pathname: string, init: { method?: string; body?: string } = {}) =>
    fetch(`https://127.0.0.1:${api.listening.port}${pathname}`, {
      ...init,
      dispatcher: agent,
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      signal: AbortSignal.timeout(ANSWER_WITHIN_MS),
    });
  const ingest = async (): Promise<number> => {
    const res = await call('/v1/payloads', { method: 'POST', body: JSON.stringify({ n: accepted }) });
    await res.arrayBuffer();
    if (res.status === 202) accepted++;
    return res.status;
  };
  const storedPayloads = async (): Promise<number> => {
    const handle = testDb.open();
    const rows = await handle.db.selectFrom('payloads').select('id').execute();
    await handle.close();
    return rows.length;
  };

  async function expectUnavailable(): Promise<void> {
    const res = await call('/v1/payloads', { method: 'POST', body: JSON.stringify({ during: 'outage' }) });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('5');
    expect(((await res.json()) as { code: string }).code).toBe('SP_ERR_DB_UNAVAILABLE');
    const ready = await call('/readyz');
    await ready.arrayBuffer();
    expect(ready.status).toBe(503);
    const client = await RawSmtpClient.secure(smtp.port, ca);
    expect((await client.command('MAIL FROM:<billing@vendor.example>')).code).toBe(250);
    expect((await client.command(`RCPT TO:<${inbox}>`)).text).toMatch(/^451 4\.3\.0 /);
    await client.quit().catch(() => undefined);
  }

  async function expectRecovery(): Promise<void> {
    await until(async () => (await ingest()) === 202, { timeoutMs: 30_000, intervalMs: 200 });
    const ready = await call('/readyz');
    await ready.arrayBuffer();
    expect(ready.status).toBe(200);
  }

  it('answers 503 SP_ERR_DB_UNAVAILABLE with retry-after, and SMTP 451 4.3.0, while PostgreSQL is frozen, then recovers', async () => {
    expect(await ingest()).toBe(202);
    proxy.freeze();
    await expectUnavailable();
    proxy.restore();
    await expectRecovery();
  });

  it('answers the same while PostgreSQL is down, then recovers and has lost nothing it acknowledged', async () => {
    proxy.cut();
    await expectUnavailable();
    proxy.restore();
    await expectRecovery();
    expect(await storedPayloads()).toBe(accepted);
  });
});
