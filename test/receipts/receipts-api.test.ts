import { createHash } from 'node:crypto';
import { verifyReceipt, type JwkSet, type Receipt } from '@sealpost/verify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/crypto/canonical-json.js';
import type { ReceiptServices } from '../../src/app/receipt-services.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { testDialects } from '../support/test-database.js';

describe.each(testDialects())('receipts API on %s', (dialect) => {
  let app: TestApp;
  let services: ReceiptServices;
  let tenant: { tenant: string; apiKey: string };
  let other: { tenant: string; apiKey: string };

  beforeAll(async () => {
    // The app wires receipts itself (src/app/api.ts): ingest signs, /v1/receipts and the JWKS are served.
    app = await startTestApp(dialect);
    services = app.context.receipts;
    tenant = await app.createTenant();
    other = await app.createTenant();
  });
  afterAll(async () => {
    await app?.close();
  });

  async function jwks(of = tenant.tenant): Promise<JwkSet> {
    const res = await app.fetch(`/.well-known/sealpost/tenants/${of}/jwks.json`);
    expect(res.status).toBe(200);
    return (await res.json()) as JwkSet;
  }

  async function ingest(data: unknown, headers: Record<string, string> = {}): Promise<{ id: string; receipt: Receipt }> {
    const res = await app.fetch('/v1/payloads', { method: 'POST', token: tenant.apiKey, body: JSON.stringify(data), headers: { 'content-type': 'application/json', ...headers } });
    expect(res.status).toBe(202);
    return (await res.json()) as { id: string; receipt: Receipt };
  }

  it('answers POST /v1/payloads with a signed accepted receipt over the canonical envelope', async () => {
    const { id, receipt } = await ingest({ invoice: 'INV-4711', vendor: 'ACME Ünïcode' });
    expect(receipt).toMatchObject({ v: 1, kind: 'accepted', message_id: id, tenant: tenant.tenant });
    expect(verifyReceipt(receipt, await jwks(), { tenant: tenant.tenant }).receipt.id).toBe(receipt.id);

    const payload = (await (await app.fetch(`/v1/payloads/${id}`, { token: tenant.apiKey })).json()) as { envelope: unknown; body_sha256: string };
    expect(receipt.body_sha256).toBe(payload.body_sha256);
    expect(receipt.body_sha256).toBe(createHash('sha256').update(canonicalJson(payload.envelope)).digest('hex'));
  });

  it('serves receipts by id and per payload, byte for byte as signed, and stores them encrypted', async () => {
    const { id, receipt } = await ingest({ n: 1 });
    const delivered = await services.receipts.prepareDelivered({
      tenantId: tenant.tenant,
      messageId: id,
      deliveryId: 'dlv_01JDG3ZK8Q4W7N2M5R9T6V3X1Y',
      destinationId: 'dst_01JDG3ZK8Q4W7N2M5R9T6V3X1Y',
      attempt: 1,
      status: 200,
      bodySha256: receipt.body_sha256,
      // Receipts are listed by issue time, then id (a ULID, random within a millisecond): a
      // delivered receipt issued in the accepted one's millisecond could be listed first.
      now: Math.max(Date.now(), Date.parse(receipt.issued_at) + 1),
    });
    await app.context.database.db.transaction().execute((tx) => delivered.store(tx));

    const one = await app.fetch(`/v1/receipts/${receipt.id}`, { token: tenant.apiKey });
    expect(one.status).toBe(200);
    expect(one.headers.get('content-type')).toMatch(/^application\/json/);
    const text = await one.text();
    expect(text).toBe(canonicalJson(receipt).toString('utf8'));
    const keys = await jwks();
    expect(verifyReceipt(text, keys, { tenant: tenant.tenant }).receipt).toEqual(receipt);

    const list = await app.fetch(`/v1/payloads/${id}/receipts`, { token: tenant.apiKey });
    expect(list.status).toBe(200);
    const { data } = (await list.json()) as { data: Receipt[] };
    expect(data.map((r) => r.kind)).toEqual(['accepted', 'delivered']);
    for (const r of data) expect(verifyReceipt(r, keys, { tenant: tenant.tenant }).receipt.message_id).toBe(id);

    const rows = await app.context.database.db.selectFrom('receipts').select(['id', 'receipt_sealed']).where('message_id', '=', id).execute();
    expect(rows).toHaveLength(2);
    for (const row of rows) {
      expect(Buffer.from(row.receipt_sealed).includes(Buffer.from(row.id))).toBe(false);
      expect(Buffer.from(row.receipt_sealed).includes(Buffer.from('"kind"'))).toBe(false);
    }
  });

  it('refuses another tenant\'s receipt and payload receipts with 404', async () => {
    const { id, receipt } = await ingest({ secret: true });
    expect((await app.fetch(`/v1/receipts/${receipt.id}`, { token: other.apiKey })).status).toBe(404);
    expect((await app.fetch(`/v1/payloads/${id}/receipts`, { token: other.apiKey })).status).toBe(404);
    expect((await app.fetch('/v1/receipts/rcp_01JDG3ZK8Q4W7N2M5R9T6V3X1Y', { token: tenant.apiKey })).status).toBe(404);
    expect((await app.fetch('/v1/payloads/msg_01JDG3ZK8Q4W7N2M5R9T6V3X1Y/receipts', { token: tenant.apiKey })).status).toBe(404);
    expect((await app.fetch(`/v1/receipts/${receipt.id}`)).status).toBe(401);
  });

  it('requires the payloads:read scope', async () => {
    const { receipt } = await ingest({ n: 2 });
    const writeOnly = await app.services.keys.issue(tenant.tenant, { name: 'ingest only', scopes: ['payloads:write'] });
    const res = await app.fetch(`/v1/receipts/${receipt.id}`, { token: writeOnly.token });
    expect(res.status).toBe(403);
  });

  it('answers an idempotent retry with the same receipt', async () => {
    const first = await ingest({ n: 3 }, { 'idempotency-key': 'receipt-retry-1' });
    const again = await ingest({ n: 3 }, { 'idempotency-key': 'receipt-retry-1' });
    expect(again).toEqual(first);
  });

  it("a tenant's receipt does not verify for another tenant, with either tenant's JWKS", async () => {
    const { receipt } = await ingest({ n: 4 });
    const otherKeys = await jwks(other.tenant);
    expect(otherKeys.keys.map((k) => k.kid)).not.toContain(receipt.sig.kid);
    expect(() => verifyReceipt(receipt, otherKeys, { tenant: other.tenant })).toThrow(expect.objectContaining({ code: 'SP_VERIFY_UNKNOWN_KEY' }));
    // Even a receiver that (wrongly) trusts both tenants' keys refuses it for the other tenant.
    const both = { keys: [...(await jwks()).keys, ...otherKeys.keys] };
    expect(() => verifyReceipt(receipt, both, { tenant: other.tenant })).toThrow(expect.objectContaining({ code: 'SP_VERIFY_TENANT_MISMATCH' }));
  });

  it('the tenant JWKS lists only that tenant\'s keys, and the deployment-wide JWKS none of them', async () => {
    const activeMine = (await services.keys.currentKey(tenant.tenant)).kid;
    const activeTheirs = (await services.keys.currentKey(other.tenant)).kid;
    const mine = await jwks();
    const theirs = await jwks(other.tenant);
    expect(mine.keys.map((k) => k.kid)).toEqual([activeMine]);
    expect(theirs.keys.map((k) => k.kid)).toEqual([activeTheirs]);
    const rows = await app.context.database.db.selectFrom('signing_keys').select(['kid', 'tenant_id']).execute();
    for (const k of mine.keys) expect(rows.find((r) => r.kid === k.kid)?.tenant_id).toBe(tenant.tenant);
    const deployment = (await (await app.fetch('/.well-known/jwks.json')).json()) as JwkSet;
    expect(deployment.keys.map((k) => k.kid)).not.toContain(activeMine);
    expect(deployment.keys.map((k) => k.kid)).not.toContain(activeTheirs);
  });

  it('answers an unknown tenant\'s JWKS with 404 and a malformed tenant id with 400, saying nothing more', async () => {
    for (const file of ['jwks.json', 'jwks-archive.json']) {
      const unknown = await app.fetch(`/.well-known/sealpost/tenants/ten_01JDG3ZK8Q4W7N2M5R9T6V3X99/${file}`);
      expect(unknown.status).toBe(404);
      expect(await unknown.text()).not.toMatch(/ten_01JDG3ZK8Q4W7N2M5R9T6V3X99|signing|kid/);
      expect((await app.fetch(`/.well-known/sealpost/tenants/..%2F..%2Fetc/${file}`)).status).toBe(400);
      expect((await app.fetch(`/.well-known/sealpost/tenants/${'ten_' + 'a'.repeat(65)}/${file}`)).status).toBe(400);
    }
  });

  it('GET /v1/signing-keys shows the caller\'s tenant keys and JWKS URL to any valid key of the tenant', async () => {
    const writeOnly = await app.services.keys.issue(tenant.tenant, { name: 'ingest only', scopes: ['payloads:write'] });
    const res = await app.fetch('/v1/signing-keys', { token: writeOnly.token });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { tenant: string; current_kid: string; previous_kid: string | null; next_rotation_at: string; jwks_url: string; jwks_archive_url: string; keys: JwkSet['keys'] };
    expect(body.tenant).toBe(tenant.tenant);
    expect(body.current_kid).toBe((await services.keys.currentKey(tenant.tenant)).kid);
    expect(body.keys.map((k) => k.kid)).toEqual((await jwks()).keys.map((k) => k.kid));
    expect(new URL(body.jwks_url).pathname).toBe(`/.well-known/sealpost/tenants/${tenant.tenant}/jwks.json`);
    expect(new URL(body.jwks_archive_url).pathname).toBe(`/.well-known/sealpost/tenants/${tenant.tenant}/jwks-archive.json`);
    expect(Date.parse(body.next_rotation_at)).toBeGreaterThan(Date.now() + 80 * 86_400_000);
    const otherView = (await (await app.fetch('/v1/signing-keys', { token: other.apiKey })).json()) as { tenant: string; current_kid: string };
    expect(otherView.tenant).toBe(other.tenant);
    expect(otherView.current_kid).not.toBe(body.current_kid);
    expect((await app.fetch('/v1/signing-keys')).status).toBe(401);
  });

  it('publishes each tenant\'s jwks.json and jwks-archive.json with cache headers', async () => {
    const live = await app.fetch(`/.well-known/sealpost/tenants/${tenant.tenant}/jwks.json`);
    expect(live.headers.get('content-type')).toMatch(/^application\/jwk-set\+json/);
    expect(live.headers.get('cache-control')).toBe('public, max-age=60');
    const { keys } = (await live.json()) as JwkSet;
    expect(keys.length).toBeGreaterThan(0);
    for (const k of keys) {
      expect(Object.keys(k).sort()).toEqual(['crv', 'exp', 'kid', 'kty', 'nbf', 'use', 'x']);
      expect(k).toMatchObject({ kty: 'OKP', crv: 'Ed25519', use: 'sig' });
      expect(Buffer.from(k.x, 'base64url')).toHaveLength(32);
      expect(k.nbf).toBeLessThan(k.exp);
    }
    const archive = await app.fetch(`/.well-known/sealpost/tenants/${tenant.tenant}/jwks-archive.json`);
    expect(archive.status).toBe(200);
    expect(archive.headers.get('cache-control')).toBe('public, max-age=3600');
    expect(await archive.json()).toEqual({ keys: [] });
  });
});
