import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OutboxRepository } from '../../src/delivery/outbox.repository.js';
import { testDialects } from '../support/test-database.js';
import { openDeliveryFixture, type DeliveryFixture } from './delivery-fixture.js';

describe.each(testDialects())('claiming on %s', { timeout: 120_000 }, (dialect) => {
  let fx: DeliveryFixture;
  beforeAll(async () => {
    fx = await openDeliveryFixture(dialect);
  });
  afterAll(async () => {
    await fx.dispose();
  });

  it('does not let a destination at its concurrency limit with a long backlog starve another one', async () => {
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
});
