import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Database } from '../../src/db/schema.js';
import { DeliveryRepository } from '../../src/delivery/delivery.repository.js';
import { startDeliveryWorker } from '../../src/delivery/delivery.worker.js';
import { DestinationRepository } from '../../src/delivery/destination.repository.js';
import { DestinationService } from '../../src/delivery/destination.service.js';
import { OutboxRepository, enqueueDeliveries } from '../../src/delivery/outbox.repository.js';
import type { DestinationDisabledInfo } from '../../src/delivery/request-signer.js';
import { testDialects } from '../support/test-database.js';
import { openDeliveryFixture, silentLogger, startReceiver, workerConfig, type DeliveryFixture } from './delivery-fixture.js';
import { AuditLog } from '../../src/audit/audit-log.js';
import { auditRecorder } from '../../src/audit/audit-recorder.js';
import { noSignature, testAudit } from './worker-test-deps.js';

const POLL = { timeout: 15_000, interval: 10 };
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describe.each(testDialects())('auto-disable of failing destinations on %s', (dialect) => {
  let fx: DeliveryFixture;

  beforeAll(async () => {
    fx = await openDeliveryFixture(dialect);
  });
  afterAll(async () => {
    await fx.dispose();
  });

  it('disables a destination failing continuously for destinationDisableAfterDays, holds its queue, resumes on re-enable', async () => {
    const r = await startReceiver();
    let healthy = false;
    r.handler = (_q, res) => res.writeHead(healthy ? 200 : 500).end();
    const tenant = await fx.tenant();
    const destination = await fx.destination(tenant, { url: r.url });
    let clock = Date.UTC(2030, 0, 1);
    const disabled: DestinationDisabledInfo[] = [];
    const hookSawTx: boolean[] = [];
    const worker = startDeliveryWorker({ signer: noSignature, audit: testAudit,
      db: fx.handle.db,
      dialect,
      cipher: fx.cipher,
      config: workerConfig({ retrySchedule: [0, HOUR, DAY, DAY, DAY, DAY, DAY, DAY, DAY, DAY], destinationDisableAfterDays: 5 }),
      logger: silentLogger,
      idlePollMs: 10,
      now: () => clock,
      random: () => 0.5,
      hooks: {
        async onDestinationDisabled(tx: Kysely<Database>, info) {
          const row = await tx.selectFrom('destinations').select('enabled').where('id', '=', info.destinationId).executeTakeFirstOrThrow();
          hookSawTx.push(row.enabled === 0);
          disabled.push(info);
        },
      },
    });
    const deliveryRow = (payloadId: string) => fx.handle.db.selectFrom('deliveries').selectAll().where('payload_id', '=', payloadId).executeTakeFirstOrThrow();
    const destinationRow = () => fx.handle.db.selectFrom('destinations').selectAll().where('id', '=', destination.id).executeTakeFirstOrThrow();

    try {
      const sent = await fx.ingest(tenant, { n: 1 }, clock);
      worker.poke();
      await vi.waitFor(async () => expect((await deliveryRow(sent.id)).attempts).toBe(1), POLL);
      await vi.waitFor(async () => expect((await destinationRow()).failing_since).toBe(clock), POLL);
      const failingSince = clock;

      // Four days later it is still failing, but not long enough.
      clock += 4 * DAY;
      worker.poke();
      await vi.waitFor(async () => expect(await fx.handle.db.selectFrom('delivery_attempts').select('id').where('tenant_id', '=', tenant).execute()).toHaveLength(2), POLL);
      expect(await destinationRow()).toMatchObject({ enabled: 1, failing_since: failingSince });

      // Past five days of continuous failure, the next failed attempt disables it.
      clock += 1 * DAY + HOUR;
      worker.poke();
      await vi.waitFor(async () => expect((await destinationRow()).enabled).toBe(0), POLL);
      expect(disabled).toEqual([{ tenantId: tenant, destinationId: destination.id, reason: 'failing continuously for 5 days' }]);
      expect(hookSawTx).toEqual([true]);
      expect((await destinationRow()).disabled_reason).toBe('failing continuously for 5 days');

      // Its delivery stays pending and is not claimed, even when due; new payloads are not queued to it.
      await vi.waitFor(async () => expect((await deliveryRow(sent.id)).lease_owner).toBeNull(), POLL);
      expect((await deliveryRow(sent.id)).status).toBe('pending');
      clock += 2 * DAY;
      expect(await new OutboxRepository(fx.handle.db, dialect, fx.cipher).claim('probe', clock, 10)).toEqual([]);
      const later = await fx.payload(tenant);
      expect(await fx.handle.db.transaction().execute((tx) => enqueueDeliveries(tx, { tenantId: tenant, payloadId: later.id, type: 'payload.received', now: clock }))).toBe(0);

      // Re-enabling (PATCH enabled=true) resumes the queue at once.
      healthy = true;
      const requestsBefore = r.requests.length;
      const service = new DestinationService(new DestinationRepository(fx.handle.db, fx.cipher), new DeliveryRepository(fx.handle.db, fx.cipher), {
        config: { allowPrivateDestinations: true, allowHttpDestinations: true, deliveryTimeoutSeconds: 5 },
        poke: () => worker.poke(),
        now: () => clock,
        audit: auditRecorder(new AuditLog(), () => clock),
      });
      // Not yet due by its schedule: re-enabling must make it due now.
      await fx.handle.db.updateTable('deliveries').set({ next_attempt_at: clock + 10 * DAY }).where('payload_id', '=', sent.id).execute();
      const resumed = await service.update(tenant, destination.id, { enabled: true }, { type: 'operator', id: 'op_test' });
      expect(resumed).toMatchObject({ enabled: true, disabledReason: null, failingSince: null });
      await vi.waitFor(async () => expect((await deliveryRow(sent.id)).status).toBe('succeeded'), POLL);
      expect(r.requests.length).toBe(requestsBefore + 1);
      expect((await destinationRow()).failing_since).toBeNull();
    } finally {
      await worker.stop();
      await r.close();
    }
  });

  it('a success clears failing_since', async () => {
    const r = await startReceiver();
    let healthy = false;
    r.handler = (_q, res) => res.writeHead(healthy ? 200 : 500).end();
    const tenant = await fx.tenant();
    const destination = await fx.destination(tenant, { url: r.url });
    // Enough retries that the delivery is still being retried when the test has seen the failure
    // and made the receiver healthy (four retries 10 ms apart could all fail before that on a busy
    // machine, leaving the delivery dead and failing_since set for good).
    const retrySchedule = [0, ...Array<number>(40).fill(50)];
    const worker = startDeliveryWorker({ signer: noSignature, audit: testAudit, db: fx.handle.db, dialect, cipher: fx.cipher, config: workerConfig({ retrySchedule }), logger: silentLogger, idlePollMs: 10 });
    const failingSince = async () => (await fx.handle.db.selectFrom('destinations').select('failing_since').where('id', '=', destination.id).executeTakeFirstOrThrow()).failing_since;
    try {
      await fx.ingest(tenant);
      worker.poke();
      await vi.waitFor(async () => expect(await failingSince()).not.toBeNull(), POLL);
      healthy = true;
      await vi.waitFor(async () => expect(await failingSince()).toBeNull(), POLL);
    } finally {
      await worker.stop();
      await r.close();
    }
  });
});
