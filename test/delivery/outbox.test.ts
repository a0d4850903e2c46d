import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DestinationRepository } from '../../src/delivery/destination.repository.js';
import { OutboxRepository, enqueueDeliveries } from '../../src/delivery/outbox.repository.js';
import { testDialects } from '../support/test-database.js';
import { openDeliveryFixture, type DeliveryFixture } from './delivery-fixture.js';

describe.each(testDialects())('outbox on %s', (dialect) => {
  let fx: DeliveryFixture;

  beforeAll(async () => {
    fx = await openDeliveryFixture(dialect);
  });
  afterAll(async () => {
    await fx.dispose();
  });

  it('writes one pending, due delivery per enabled, live, matching destination of the tenant only', async () => {
    const tenant = await fx.tenant();
    const other = await fx.tenant();
    const all = await fx.destination(tenant, { url: 'https://a.example/' });
    const payloadsOnly = await fx.destination(tenant, { url: 'https://b.example/', eventTypes: ['payload.received'] });
    await fx.destination(tenant, { url: 'https://c.example/', eventTypes: ['email.received'] });
    await fx.destination(tenant, { url: 'https://d.example/', enabled: false });
    const deleted = await fx.destination(tenant, { url: 'https://e.example/' });
    await new DestinationRepository(fx.handle.db, fx.cipher).delete(tenant, deleted.id, Date.now());
    await fx.destination(other, { url: 'https://f.example/' });

    const stored = await fx.payload(tenant);
    const now = 1_900_000_000_000;
    const count = await fx.handle.db.transaction().execute((tx) => enqueueDeliveries(tx, { tenantId: tenant, payloadId: stored.id, type: 'payload.received', now }));
    expect(count).toBe(2);
    const rows = await fx.handle.db.selectFrom('deliveries').selectAll().where('payload_id', '=', stored.id).execute();
    expect(new Set(rows.map((r) => r.destination_id))).toEqual(new Set([all.id, payloadsOnly.id]));
    for (const r of rows) {
      expect(r).toMatchObject({ tenant_id: tenant, status: 'pending', attempts: 0, next_attempt_at: now, lease_owner: null, created_at: now });
      expect(r.id).toMatch(/^dlv_[0-9A-HJKMNP-TV-Z]{26}$/);
    }
  });

  it('refuses a payload that matches more destinations than the fan-out cap, writing no delivery', async () => {
    const tenant = await fx.tenant();
    for (const host of ['a', 'b', 'c']) await fx.destination(tenant, { url: `https://${host}.example/` });
    const stored = await fx.payload(tenant);
    const enqueue = (maxFanout: number) =>
      fx.handle.db.transaction().execute((tx) => enqueueDeliveries(tx, { tenantId: tenant, payloadId: stored.id, type: 'payload.received', now: Date.now() }, { maxFanout }));
    await expect(enqueue(2)).rejects.toMatchObject({ code: 'SP_ERR_INGEST_FANOUT_EXCEEDED' });
    expect(await fx.handle.db.selectFrom('deliveries').select('id').where('payload_id', '=', stored.id).execute()).toHaveLength(0);
    expect(await enqueue(3)).toBe(3);
    // Not left due: other tests here claim across tenants.
    await fx.handle.db.deleteFrom('deliveries').where('payload_id', '=', stored.id).execute();
  });

  it('writes nothing when the ingest transaction rolls back', async () => {
    const tenant = await fx.tenant();
    await fx.destination(tenant, { url: 'https://a.example/' });
    const stored = await fx.payload(tenant);
    await expect(
      fx.handle.db.transaction().execute(async (tx) => {
        await enqueueDeliveries(tx, { tenantId: tenant, payloadId: stored.id, type: 'payload.received', now: Date.now() });
        throw new Error('ingest failed');
      }),
    ).rejects.toThrow('ingest failed');
    expect(await fx.handle.db.selectFrom('deliveries').select('id').where('payload_id', '=', stored.id).execute()).toEqual([]);
  });

  it('stops pending deliveries when their destination is deleted', async () => {
    const tenant = await fx.tenant();
    const d = await fx.destination(tenant, { url: 'https://a.example/' });
    const sent = await fx.ingest(tenant);
    await new DestinationRepository(fx.handle.db, fx.cipher).delete(tenant, d.id, Date.now());
    const row = await fx.handle.db.selectFrom('deliveries').select(['status', 'last_error']).where('payload_id', '=', sent.id).executeTakeFirstOrThrow();
    expect(row).toEqual({ status: 'stopped', last_error: 'destination deleted' });
  });

  it('does not let a destination at its concurrency limit with a long backlog starve another one', { timeout: 120_000 }, async () => {
    const slow = await fx.tenant();
    await fx.destination(slow, { url: 'http://127.0.0.1:9/slow', maxConcurrency: 1 });
    const other = await fx.tenant();
    const waiting = await fx.destination(other, { url: 'http://127.0.0.1:9/other' });
    const start = Date.now() - 3_600_000;
    // A backlog far longer than one claim takes, all of it older than the other tenant's delivery.
    for (let i = 0; i < 520; i++) await fx.ingest(slow, { i }, start + i);
    await fx.ingest(other, { late: true }, start + 10_000);

    const outbox = new OutboxRepository(fx.handle.db, dialect, fx.cipher);
    const first = await outbox.claim('worker-a', Date.now(), 1);
    expect(first.map((c) => c.destinationId)).not.toContain(waiting.id);
    // The slow destination now has its one lease in flight; the next claim must reach past its backlog.
    const next = await outbox.claim('worker-a', Date.now(), 10);
    expect(next.map((c) => c.destinationId)).toEqual([waiting.id]);
    expect(await outbox.claim('worker-a', Date.now(), 10)).toEqual([]);
  });

  it.runIf(dialect === 'sqlite')('leaves every other commit synchronous=FULL after a claim, failed or not', async () => {
    const synchronous = async (): Promise<number> => {
      const { rows } = await sql<{ synchronous: number }>`pragma synchronous`.execute(fx.handle.db);
      return Number(rows[0]?.synchronous);
    };
    const FULL = 2;
    expect(await synchronous()).toBe(FULL);
    const outbox = new OutboxRepository(fx.handle.db, dialect, fx.cipher);
    await outbox.claim('worker-a', Date.now(), 10);
    expect(await synchronous()).toBe(FULL);
    // A claim that fails inside its transaction (the table is gone) restores it too.
    await fx.handle.db.transaction().execute(async (tx) => {
      await sql`alter table deliveries rename to deliveries_away`.execute(tx);
    });
    try {
      await expect(outbox.claim('worker-a', Date.now(), 10)).rejects.toThrow();
    } finally {
      await sql`alter table deliveries_away rename to deliveries`.execute(fx.handle.db);
    }
    expect(await synchronous()).toBe(FULL);
  });
});
