// A real loopback receiver gets a request the delivery worker forwarded, and checks it the ways a
// customer would: @sealpost/verify with the published JWKS, and openssl from the JWKS key alone.
// The success is recorded with a `delivered` receipt, written in the same transaction.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { verifyReceipt, verifyWebhook, type Receipt } from '@sealpost/verify';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startDeliveryWorker } from '../../src/delivery/delivery.worker.js';
import { deliveredReceiptHook } from '../../src/app/effects.js';
import { createReceiptServices, type ReceiptServices } from '../../src/app/receipt-services.js';
import { openDeliveryFixture, silentLogger, startReceiver, workerConfig, type DeliveryFixture } from '../delivery/delivery-fixture.js';
import { testDialects } from '../support/test-database.js';
import { hasOpenssl, opensslVerifies, pemFromJwkX } from './receipts-fixture.js';
import { testAudit } from '../delivery/worker-test-deps.js';

const POLL = { timeout: 15_000, interval: 10 };

describe.each(testDialects())('signed forwarding end to end on %s', (dialect) => {
  let fx: DeliveryFixture;
  let services: ReceiptServices;
  let dir: string;

  beforeAll(async () => {
    fx = await openDeliveryFixture(dialect);
    services = createReceiptServices({ db: fx.handle.db, cipher: fx.cipher });
    dir = mkdtempSync(path.join(os.tmpdir(), 'sealpost-e2e-'));
  });
  afterAll(async () => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    await fx?.dispose();
  });

  it('the receiver verifies the forwarded request with @sealpost/verify and openssl, and a delivered receipt is stored', async () => {
    const receiver = await startReceiver();
    const worker = startDeliveryWorker({ audit: testAudit,
      db: fx.handle.db,
      dialect,
      cipher: fx.cipher,
      config: workerConfig(),
      logger: silentLogger,
      idlePollMs: 20,
      signer: services.signer,
      hooks: { prepareSucceeded: deliveredReceiptHook(services.receipts) },
    });
    try {
      const tenant = await fx.tenant();
      const destination = await fx.destination(tenant, { url: receiver.url });
      const sent = await fx.ingest(tenant, { invoice: 4711, note: 'Grüße 😀', nested: { b: 1, a: [true, null] } });
      worker.poke();
      await vi.waitFor(async () => {
        const row = await fx.handle.db.selectFrom('deliveries').select('status').where('payload_id', '=', sent.id).executeTakeFirstOrThrow();
        expect(row.status).toBe('succeeded');
      }, POLL);

      expect(receiver.requests).toHaveLength(1);
      const got = receiver.requests[0]!;
      const jwks = await services.keys.jwks(tenant);
      const verified = verifyWebhook({ headers: got.headers, body: got.body, jwks, tenant });
      expect(verified).toMatchObject({ id: sent.id, kid: (await services.keys.currentKey(tenant)).kid });
      expect(verified.envelope.data).toEqual({ invoice: 4711, note: 'Grüße 😀', nested: { b: 1, a: [true, null] } });

      if (hasOpenssl) {
        const jwk = jwks.keys.find((k) => k.kid === got.headers['sealpost-key-id'])!;
        const signedBytes = Buffer.concat([Buffer.from(`${String(got.headers['webhook-id'])}.${String(got.headers['webhook-timestamp'])}.`), got.body]);
        const signature = Buffer.from(String(got.headers['webhook-signature']).slice('v1a,'.length), 'base64');
        expect(await opensslVerifies(dir, pemFromJwkX(jwk.x), signedBytes, signature)).toBe(true);
      }

      const receipts = await services.receipts.listForPayload(tenant, sent.id);
      expect(receipts.map((r) => r.kind)).toEqual(['delivered']);
      const { receipt } = verifyReceipt(receipts[0]!.json, jwks, { tenant });
      expect(receipt).toMatchObject<Partial<Receipt>>({ kind: 'delivered', message_id: sent.id, tenant, destination: destination.id, attempt: 1, status: 200 });
      expect(receipt.body_sha256).toBe(createHash('sha256').update(got.body).digest('hex'));
    } finally {
      await worker.stop();
      await receiver.close();
    }
  });

  it('a webhook signed for one tenant does not verify for another', async () => {
    // Tenant A has Sealpost sign content of its choosing, catches it at its own destination and
    // replays it, headers and body unchanged, to tenant B's receiver.
    const attackersEndpoint = await startReceiver();
    const worker = startDeliveryWorker({ audit: testAudit, db: fx.handle.db, dialect, cipher: fx.cipher, config: workerConfig(), logger: silentLogger, idlePollMs: 20, signer: services.signer });
    try {
      const tenantA = await fx.tenant();
      const tenantB = await fx.tenant();
      await fx.destination(tenantA, { url: attackersEndpoint.url });
      const sent = await fx.ingest(tenantA, { order: 'refund everything' });
      worker.poke();
      await vi.waitFor(() => expect(attackersEndpoint.requests).toHaveLength(1), POLL);
      const caught = attackersEndpoint.requests[0]!;
      const jwksA = await services.keys.jwks(tenantA);
      // B's receiver holds B's JWKS (B has signed before, so it lists B's key).
      await services.keys.currentKey(tenantB);
      const jwksB = await services.keys.jwks(tenantB);
      expect(jwksB.keys.length).toBeGreaterThan(0);

      // Genuine for A.
      expect(verifyWebhook({ headers: caught.headers, body: caught.body, jwks: jwksA, tenant: tenantA }).id).toBe(sent.id);
      // Refused by B: A's key is not among B's keys…
      expect(() => verifyWebhook({ headers: caught.headers, body: caught.body, jwks: jwksB, tenant: tenantB })).toThrow(
        expect.objectContaining({ code: 'SP_VERIFY_UNKNOWN_KEY' }),
      );
      // …and even a receiver that trusts every key of the relay refuses an envelope of another tenant.
      const everyKey = { keys: [...jwksA.keys, ...jwksB.keys] };
      expect(() => verifyWebhook({ headers: caught.headers, body: caught.body, jwks: everyKey, tenant: tenantB })).toThrow(
        expect.objectContaining({ code: 'SP_VERIFY_TENANT_MISMATCH' }),
      );
      expect(String(caught.headers['sealpost-key-id'])).toBe((await services.keys.currentKey(tenantA)).kid);
      expect((await services.keys.currentKey(tenantA)).kid).not.toBe((await services.keys.currentKey(tenantB)).kid);
    } finally {
      await worker.stop();
      await attackersEndpoint.close();
    }
  });
});
