import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDeliveryWorker } from '../../src/delivery/delivery.worker.js';
import { capturingLogger } from '../http/http-test-support.js';
import { until } from '../support/poll.js';
import { testDialects } from '../support/test-database.js';
import { openDeliveryFixture, startReceiver, workerConfig, type DeliveryFixture } from './delivery-fixture.js';
import { noSignature, testAudit } from './worker-test-deps.js';

describe.each(testDialects())('delivery logs on %s', (dialect) => {
  let fx: DeliveryFixture;
  beforeAll(async () => {
    fx = await openDeliveryFixture(dialect);
  });
  afterAll(async () => {
    await fx.dispose();
  });

  it('logs each dead-lettered and each 410-stopped delivery at info or above, with destination and reason, never the payload or the answer', async () => {
    const r = await startReceiver();
    r.handler = (q, res) => {
      const gone = q.body.toString().includes('"gone":true');
      res.writeHead(gone ? 410 : 500).end('answer-body-SECRET');
    };
    const { logger, lines } = capturingLogger('info');
    // Two tenants: a 410 also disables its destination, which would hold back the other delivery.
    const tenant = await fx.tenant();
    const destination = await fx.destination(tenant, { url: r.url });
    const goneTenant = await fx.tenant();
    const goneDestination = await fx.destination(goneTenant, { url: r.url });
    const dead = await fx.ingest(tenant, { marker: 'payload-SECRET' });
    await fx.ingest(goneTenant, { gone: true, marker: 'payload-SECRET' });
    const worker = startDeliveryWorker({ signer: noSignature, audit: testAudit, db: fx.handle.db, dialect, cipher: fx.cipher, config: workerConfig({ retrySchedule: [0] }), logger, idlePollMs: 20 });
    try {
      await until(() => lines.filter((l) => /dead-lettered|delivery stopped/.test(l)).length === 2, { timeoutMs: 20_000 });
    } finally {
      await worker.stop();
      await r.close();
    }
    const deadLine = JSON.parse(lines.find((l) => l.includes('dead-lettered'))!) as Record<string, unknown>;
    expect(deadLine).toMatchObject({ level: 'warn', destination: destination.id, tenant, status: 500, reason: 'HTTP 500', attempts: 1 });
    const deliveryId = (await fx.handle.db.selectFrom('deliveries').select('id').where('payload_id', '=', dead.id).executeTakeFirstOrThrow()).id;
    expect(deadLine.delivery).toBe(deliveryId);
    expect(JSON.parse(lines.find((l) => l.includes('delivery stopped'))!)).toMatchObject({ level: 'info', destination: goneDestination.id, tenant: goneTenant, status: 410 });
    expect(lines.join('')).not.toMatch(/SECRET/);
  });
});
