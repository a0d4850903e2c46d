import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { verifyReceipt, type JwkSet } from '@sealpost/verify';
import { FormData } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../../src/audit/audit-event.js';
import { verifyStoredAuditLog } from '../../../src/audit/audit-verify.js';
import { newId } from '../../../src/crypto/ids.js';
import { rawMessageBlobContext, rawMessageBlobKey } from '../../../src/ingest/smtp/raw-message.js';
import { PayloadRetention, RETENTION_BATCH } from '../../../src/ops/lifecycle/payload-retention.js';
import { PayloadRetentionRepository } from '../../../src/ops/lifecycle/payload-retention.repository.js';
import { runCli } from '../../support/cli.js';
import { startTestApp, type TestApp } from '../../support/test-app.js';
import { testDialects } from '../../support/test-database.js';

const DAY_MS = 86_400_000;
const NOW = Date.UTC(2027, 5, 1, 12, 0, 0);

describe.each(testDialects())('payload retention on %s', { timeout: 120_000 }, (dialect) => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp(dialect);
  });
  afterAll(async () => {
    await app?.close();
  });

  function retention(): PayloadRetention {
    const { context } = app;
    return new PayloadRetention(
      new PayloadRetentionRepository(context.database.db),
      context.blobs,
      async (tenantId, id) => (await context.payloadRepository.find(tenantId, id))?.canonicalEnvelope,
      context.effects.audit.payloadRetention,
      () => NOW,
    );
  }

  async function post(apiKey: string, withAttachment: boolean): Promise<{ id: string; receipt: Record<string, unknown> }> {
    const form = new FormData();
    form.append('payload', JSON.stringify({ n: Math.random() }));
    if (withAttachment) form.append('file', new Blob([Buffer.alloc(5_000, 1)], { type: 'application/octet-stream' }), 'f.bin');
    const res = await app.fetch('/v1/payloads', { method: 'POST', token: apiKey, body: form });
    expect(res.status).toBe(202);
    return (await res.json()) as { id: string; receipt: Record<string, unknown> };
  }

  async function receivedAt(id: string, at: number): Promise<void> {
    await app.context.database.db.updateTable('payloads').set({ received_at: at }).where('id', '=', id).execute();
  }

  /** A delivery with one attempt for the payload, as the worker would leave them. */
  async function deliveryFor(tenant: string, payloadId: string, destinationId: string): Promise<string> {
    const id = newId('delivery');
    const db = app.context.database.db;
    await db
      .insertInto('deliveries')
      .values({ id, tenant_id: tenant, payload_id: payloadId, destination_id: destinationId, status: 'succeeded', attempts: 1, next_attempt_at: NOW, created_at: NOW, updated_at: NOW, completed_at: NOW })
      .execute();
    await db.insertInto('delivery_attempts').values({ id: newId('attempt'), tenant_id: tenant, delivery_id: id, attempt: 1, started_at: NOW, duration_ms: 5, status_code: 200, worker: 'w' }).execute();
    return id;
  }

  async function destinationOf(tenant: string): Promise<string> {
    const id = newId('destination');
    await app.context.database.db
      .insertInto('destinations')
      .values({ id, tenant_id: tenant, config_sealed: Buffer.from('x'), event_types: null, enabled: 1, timeout_ms: 1000, max_concurrency: 1, created_at: NOW, updated_at: NOW })
      .execute();
    return id;
  }

  /** An e-mail payload with its raw message blob, as the SMTP ingress stores them. */
  async function emailPayload(tenant: string): Promise<{ id: string; rawKey: string }> {
    const { context } = app;
    const id = newId('payload');
    const rawId = newId('rawMessage');
    const raw = Buffer.from('From: a@example.com\r\n\r\nhello');
    await context.blobs.putEncrypted(rawMessageBlobKey(tenant, rawId), Readable.from([raw]), rawMessageBlobContext(tenant, rawId), tenant);
    const envelope = Buffer.from(JSON.stringify({ id, type: 'email.received', tenant, data: { raw_message: { id: rawId, size: raw.length, sha256: createHash('sha256').update(raw).digest('hex') } } }));
    const sealed = await context.payloadRepository.seal({ id, tenantId: tenant, type: 'email.received', channel: 'smtp', size: envelope.length, bodySha256: 'x'.repeat(64), receivedAt: NOW, canonicalEnvelope: envelope }, []);
    await context.database.db.transaction().execute((tx) => context.payloadRepository.insert(tx, sealed));
    return { id, rawKey: rawMessageBlobKey(tenant, rawId) };
  }

  async function exists(table: 'payloads' | 'attachments' | 'deliveries' | 'delivery_attempts', column: 'id' | 'payload_id' | 'delivery_id', value: string): Promise<boolean> {
    return (await app.context.database.db.selectFrom(table).select(column).where(column, '=', value).executeTakeFirst()) !== undefined;
  }

  it("deletes exactly what is older than each tenant's retention, with its blobs, deliveries and attempts", async () => {
    const short = await app.createTenant();
    const long = await app.createTenant();
    const patched = await app.fetch('/v1/tenant', { method: 'PATCH', token: short.apiKey, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ retention_days: 30 }) });
    expect(patched.status).toBe(200);
    expect(await patched.json()).toMatchObject({ retention_days: 30, max_retention_days: 90, plan: 'starter' });
    const cutoff = NOW - 30 * DAY_MS;

    const expired = await post(short.apiKey, true);
    const boundary = await post(short.apiKey, true);
    const young = await post(short.apiKey, false);
    const otherTenant = await post(long.apiKey, true);
    const email = await emailPayload(short.tenant);
    await receivedAt(expired.id, cutoff - 1);
    await receivedAt(boundary.id, cutoff); // exactly 30 days old: not older than the retention, kept
    await receivedAt(young.id, cutoff + 1);
    await receivedAt(otherTenant.id, cutoff - DAY_MS); // 31 days, but its tenant keeps 90
    await receivedAt(email.id, cutoff - DAY_MS);
    const destination = await destinationOf(short.tenant);
    const expiredDelivery = await deliveryFor(short.tenant, expired.id, destination);
    const youngDelivery = await deliveryFor(short.tenant, young.id, destination);
    const blobOf = async (payloadId: string): Promise<string> =>
      (await app.context.database.db.selectFrom('attachments').select('blob_key').where('payload_id', '=', payloadId).executeTakeFirstOrThrow()).blob_key;
    const [expiredBlob, boundaryBlob, otherBlob] = [await blobOf(expired.id), await blobOf(boundary.id), await blobOf(otherTenant.id)];

    const purged = await retention().purgeExpired();
    expect(purged).toEqual([{ tenant: short.tenant, before: cutoff, payloads: 2, attachments: 1, deliveries: 1, attempts: 1 }]);

    expect(await exists('payloads', 'id', expired.id)).toBe(false);
    expect(await exists('payloads', 'id', email.id)).toBe(false);
    expect(await exists('attachments', 'payload_id', expired.id)).toBe(false);
    expect(await exists('deliveries', 'id', expiredDelivery)).toBe(false);
    expect(await exists('delivery_attempts', 'delivery_id', expiredDelivery)).toBe(false);
    expect(await app.context.blobs.exists(expiredBlob)).toBe(false);
    expect(await app.context.blobs.exists(email.rawKey)).toBe(false);

    for (const kept of [boundary.id, young.id, otherTenant.id]) expect(await exists('payloads', 'id', kept)).toBe(true);
    expect(await exists('deliveries', 'id', youngDelivery)).toBe(true);
    expect(await exists('delivery_attempts', 'delivery_id', youngDelivery)).toBe(true);
    expect(await app.context.blobs.exists(boundaryBlob)).toBe(true);
    expect(await app.context.blobs.exists(otherBlob)).toBe(true);
    expect((await app.fetch(`/v1/payloads/${expired.id}`, { token: short.apiKey })).status).toBe(404);
    expect((await app.fetch(`/v1/payloads/${boundary.id}`, { token: short.apiKey })).status).toBe(200);

    // Receipts keep only hashes: the purged payload's receipt is still served and still verifies.
    const receipt = await app.fetch(`/v1/receipts/${String(expired.receipt.id)}`, { token: short.apiKey });
    expect(receipt.status).toBe(200);
    const jwks = (await (await app.fetch(`/.well-known/sealpost/tenants/${short.tenant}/jwks.json`)).json()) as JwkSet;
    expect(verifyReceipt((await receipt.json()) as Record<string, unknown>, jwks, { tenant: short.tenant }).receipt).toMatchObject({ message_id: expired.id });
    const events = await app.context.database.db.selectFrom('audit_events').select('event').where('tenant_id', '=', short.tenant).execute();
    const purgeEvents = events.map((r) => JSON.parse(r.event!) as AuditEvent).filter((e) => e.action === 'payload.purged');
    expect(purgeEvents).toEqual([
      expect.objectContaining({ actor: { type: 'system', id: 'scheduler' }, details: expect.objectContaining({ reason: 'retention', retention_days: 30, payloads: 2, attachments: 1 }) }),
    ]);
    expect((await verifyStoredAuditLog(app.context.database.db)).problems).toEqual([]);

    // A second sweep finds nothing more.
    expect(await retention().purgeExpired()).toEqual([]);
  });

  it('works through a backlog in bounded batches', async () => {
    const tenant = await app.createTenant();
    const ids: string[] = [];
    for (let i = 0; i < RETENTION_BATCH + 3; i++) {
      const id = newId('payload');
      ids.push(id);
    }
    await app.context.database.db
      .insertInto('payloads')
      .values(ids.map((id) => ({ id, tenant_id: tenant.tenant, type: 'payload.received', channel: 'https', envelope_sealed: Buffer.from('x'), body_sha256: 'x', size: 1, received_at: NOW - 91 * DAY_MS })))
      .execute();
    const purged = await retention().purgeExpired();
    expect(purged.find((p) => p.tenant === tenant.tenant)?.payloads).toBe(RETENTION_BATCH + 3);
    const events = await app.context.database.db.selectFrom('audit_events').select('event').where('tenant_id', '=', tenant.tenant).where('action', '=', 'payload.purged').execute();
    expect(events.map((r) => (JSON.parse(r.event!) as AuditEvent).details?.payloads)).toEqual([RETENTION_BATCH, 3]);
  });

  it("sweeps out every payload of an erased tenant, whatever its age", async () => {
    const tenant = await app.createTenant();
    const stored = await post(tenant.apiKey, true);
    await app.context.erasure.erase(tenant.tenant, { type: 'system', id: 'test' }, 'cli');
    const purged = await retention().purgeExpired();
    expect(purged.find((p) => p.tenant === tenant.tenant)).toMatchObject({ payloads: 1, attachments: 1 });
    expect(await exists('payloads', 'id', stored.id)).toBe(false);
  });

  it("refuses a retention outside 1 to the plan's limit, precisely, and changes nothing", async () => {
    const tenant = await app.createTenant();
    for (const days of [0, -1, 91]) {
      const res = await app.fetch('/v1/tenant', { method: 'PATCH', token: tenant.apiKey, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ retention_days: days }) });
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ code: 'SP_ERR_TENANT_RETENTION_INVALID' });
    }
    for (const body of ['{"retention_days":1.5}', '{"retention_days":"thirty"}', '{}']) {
      const res = await app.fetch('/v1/tenant', { method: 'PATCH', token: tenant.apiKey, headers: { 'content-type': 'application/json' }, body });
      expect(res.status, body).toBe(400);
    }
    const current = await app.fetch('/v1/tenant', { token: tenant.apiKey });
    expect(await current.json()).toMatchObject({ id: tenant.tenant, retention_days: 90, max_retention_days: 90 });
    // The plan is not the tenant's to set: an extra member changes nothing but the retention.
    const sneaky = await app.fetch('/v1/tenant', { method: 'PATCH', token: tenant.apiKey, headers: { 'content-type': 'application/json' }, body: '{"retention_days":30,"plan":"operation"}' });
    expect(await sneaky.json()).toMatchObject({ plan: 'starter', retention_days: 30, max_retention_days: 90 });
    // A bigger plan allows more.
    const big = await app.createTenant('operation');
    const res = await app.fetch('/v1/tenant', { method: 'PATCH', token: big.apiKey, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ retention_days: 730 }) });
    expect(await res.json()).toMatchObject({ retention_days: 730, max_retention_days: 730 });
  });

  it('needs keys:manage to change the retention', async () => {
    const tenant = await app.createTenant();
    const reader = await app.fetch('/v1/api-keys', { method: 'POST', token: tenant.apiKey, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'r', scopes: ['payloads:read'] }) });
    const readerKey = ((await reader.json()) as { api_key: string }).api_key;
    const res = await app.fetch('/v1/tenant', { method: 'PATCH', token: readerKey, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ retention_days: 10 }) });
    expect(res.status).toBe(403);
    expect(await (await app.fetch('/v1/tenant', { token: readerKey })).json()).toMatchObject({ retention_days: 90 });
  });

  it('is set from the command line too, audited, and refused out of range', async () => {
    const tenant = await app.createTenant('growth');
    const env = {
      SEALPOST_DATA_DIR: app.context.config.dataDir,
      SEALPOST_DATABASE_URL: app.testDb.config.dialect === 'postgres' ? app.testDb.config.url : `sqlite:${app.testDb.config.file}`,
      SEALPOST_LOG_LEVEL: 'warn',
    };
    const set = await runCli(['tenants', 'retention', tenant.tenant, '--days', '200', '--json'], env);
    expect(set.code, set.stderr).toBe(0);
    expect(JSON.parse(set.stdout)).toEqual({ tenant: tenant.tenant, plan: 'growth', retention_days: 200, max_retention_days: 365 });
    const refused = await runCli(['tenants', 'retention', tenant.tenant, '--days', '366'], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('SP_ERR_TENANT_RETENTION_INVALID');
    const events = await app.context.database.db.selectFrom('audit_events').select('event').where('tenant_id', '=', tenant.tenant).where('action', '=', 'tenant.retention_changed').execute();
    expect(events.map((r) => JSON.parse(r.event!) as AuditEvent)).toEqual([
      expect.objectContaining({ actor: { type: 'system', id: 'sealpost-cli' }, details: { from_days: 90, to_days: 200 } }),
    ]);
  });
});
