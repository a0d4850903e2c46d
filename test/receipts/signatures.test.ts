import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { canonicalizeToBuffer, verifyReceipt, verifyWebhook, VerifyError, type JwkSet, type Receipt } from '@sealpost/verify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReceiptServices } from '../../src/app/receipt-services.js';
import { webhookSignedBytes } from '../../src/receipts/webhook-signer.js';
import { testDialects } from '../support/test-database.js';
import { hasOpenssl, manualClock, openReceiptsFixture, opensslVerifies, pemFromJwkX, type ReceiptsFixture } from './receipts-fixture.js';

function verifyCode(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof VerifyError) return err.code;
    throw err;
  }
  return 'VALID';
}

const REJECTED = ['SP_VERIFY_BAD_SIGNATURE', 'SP_VERIFY_MALFORMED_INPUT', 'SP_VERIFY_UNKNOWN_KEY'];

describe.each(testDialects())('webhook signatures and receipts on %s', (dialect) => {
  const clock = manualClock();
  let fx: ReceiptsFixture;
  let services: ReceiptServices;
  let jwks: JwkSet;
  let tenant: string;
  let payload: { id: string; body: Buffer; bodySha256: string };
  let otherKid: string;
  let dir: string;

  beforeAll(async () => {
    fx = await openReceiptsFixture(dialect);
    dir = mkdtempSync(path.join(os.tmpdir(), 'sealpost-receipts-'));
    services = fx.services({ now: clock });
    tenant = await fx.tenant();
    payload = await fx.payload(tenant, { order: 4711, total: 1234.56, note: 'Grüße 😀 \u2028', lines: [{ sku: 'A-1', qty: 3 }], pad: 'x'.repeat(1500) });
    // Two valid keys, so a swapped kid names a key that exists but did not sign.
    otherKid = (await services.keys.currentKey(tenant)).kid;
    await services.keys.rotate(tenant);
    jwks = await services.keys.jwks(tenant);
    expect(jwks.keys).toHaveLength(2);
  });
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await fx?.dispose();
  });

  async function signedWebhook(): Promise<{ headers: Record<string, string>; body: Buffer }> {
    const timestamp = Math.floor(clock() / 1000);
    const signed = await services.signer.sign({ tenantId: tenant, webhookId: payload.id, timestamp, body: payload.body });
    return { headers: { 'webhook-id': payload.id, 'webhook-timestamp': String(timestamp), ...signed }, body: payload.body };
  }

  const verifyHook = (headers: Record<string, string>, body: Buffer | string): string => verifyCode(() => verifyWebhook({ headers, body, jwks, tenant, now: new Date(clock()) }));

  it('signs forwarded requests in the DESIGN §4 format, verified by @sealpost/verify', async () => {
    const { headers, body } = await signedWebhook();
    expect(headers['webhook-signature']).toMatch(/^v1a,[A-Za-z0-9+/]{86}==$/);
    expect(headers['sealpost-key-id']).toBe(jwks.keys[0]!.kid);
    const verified = verifyWebhook({ headers, body, jwks, tenant, now: new Date(clock()) });
    expect(verified).toMatchObject({ id: payload.id, kid: headers['sealpost-key-id'] });
    expect(verified.envelope.data).toMatchObject({ order: 4711 });
    // A receiver that parsed and re-serialised the body still verifies (it is canonical JSON).
    expect(verifyHook(headers, JSON.stringify(JSON.parse(body.toString('utf8')), null, 2))).toBe('VALID');
  });

  it('detects every tampering of a forwarded request: any byte of the body, the id, the timestamp, the kid, the signature', async () => {
    const { headers, body } = await signedWebhook();
    for (let i = 0; i < body.length; i++) {
      const tampered = Buffer.from(body);
      tampered[i] = tampered[i]! ^ 0x01;
      expect(verifyHook(headers, tampered), `body byte ${i}`).toBe('SP_VERIFY_BAD_SIGNATURE');
    }
    const otherId = `${payload.id.slice(0, -1)}${payload.id.endsWith('A') ? 'B' : 'A'}`;
    expect(verifyHook({ ...headers, 'webhook-id': otherId }, body)).toBe('SP_VERIFY_BAD_SIGNATURE');
    const ts = Number(headers['webhook-timestamp']);
    expect(verifyHook({ ...headers, 'webhook-timestamp': String(ts + 1) }, body)).toBe('SP_VERIFY_BAD_SIGNATURE');
    expect(verifyHook({ ...headers, 'webhook-timestamp': String(ts - 1) }, body)).toBe('SP_VERIFY_BAD_SIGNATURE');
    expect(verifyHook({ ...headers, 'sealpost-key-id': otherKid }, body)).toBe('SP_VERIFY_BAD_SIGNATURE');
    expect(verifyHook({ ...headers, 'sealpost-key-id': 'sp_sig_20261124_ffffffffffffffff' }, body)).toBe('SP_VERIFY_UNKNOWN_KEY');
    const sig = Buffer.from(headers['webhook-signature']!.slice(4), 'base64');
    sig[10] = sig[10]! ^ 0x80;
    expect(verifyHook({ ...headers, 'webhook-signature': `v1a,${sig.toString('base64')}` }, body)).toBe('SP_VERIFY_BAD_SIGNATURE');
  });

  it('signs each attempt afresh with its own timestamp', async () => {
    const first = await signedWebhook();
    clock.advance(60_000);
    const retry = await signedWebhook();
    expect(retry.headers['webhook-signature']).not.toBe(first.headers['webhook-signature']);
    expect(verifyHook(retry.headers, retry.body)).toBe('VALID');
  });

  it.skipIf(!hasOpenssl)('openssl accepts a forwarded request built from the wire and the JWKS key', async () => {
    const { headers, body } = await signedWebhook();
    const jwk = jwks.keys.find((k) => k.kid === headers['sealpost-key-id'])!;
    const signedBytes = Buffer.concat([Buffer.from(`${headers['webhook-id']}.${headers['webhook-timestamp']}.`), body]);
    expect(signedBytes.equals(webhookSignedBytes(payload.id, Number(headers['webhook-timestamp']), body))).toBe(true);
    const signature = Buffer.from(headers['webhook-signature']!.slice('v1a,'.length), 'base64');
    expect(await opensslVerifies(dir, pemFromJwkX(jwk.x), signedBytes, signature)).toBe(true);
    const tampered = Buffer.from(signedBytes);
    tampered[tampered.length - 3] = tampered[tampered.length - 3]! ^ 0x01;
    expect(await opensslVerifies(dir, pemFromJwkX(jwk.x), tampered, signature)).toBe(false);
  });

  it('issues accepted and delivered receipts exactly as DESIGN §5, verified by @sealpost/verify', async () => {
    const accepted = await services.receipts.prepareAccepted({ tenantId: tenant, messageId: payload.id, bodySha256: payload.bodySha256, now: clock() });
    const delivered = await services.receipts.prepareDelivered({
      tenantId: tenant,
      messageId: payload.id,
      deliveryId: 'dlv_01JDG3ZK8Q4W7N2M5R9T6V3X1Y',
      destinationId: 'dst_01JDG3ZK8Q4W7N2M5R9T6V3X1Y',
      attempt: 2,
      status: 200,
      bodySha256: payload.bodySha256,
    });
    expect(Object.keys(accepted.receipt).sort()).toEqual(['body_sha256', 'id', 'issued_at', 'kind', 'message_id', 'sig', 'tenant', 'v']);
    expect(accepted.receipt).toMatchObject({ v: 1, kind: 'accepted', message_id: payload.id, tenant, body_sha256: createHash('sha256').update(payload.body).digest('hex') });
    expect(accepted.receipt.id).toMatch(/^rcp_[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(accepted.receipt.issued_at).toBe(new Date(clock()).toISOString());
    expect(delivered.receipt).toMatchObject({ kind: 'delivered', destination: 'dst_01JDG3ZK8Q4W7N2M5R9T6V3X1Y', attempt: 2, status: 200 });
    for (const { receipt } of [accepted, delivered]) {
      expect(receipt.sig).toMatchObject({ alg: 'Ed25519', kid: jwks.keys[0]!.kid });
      expect(receipt.sig.value).toMatch(/^[A-Za-z0-9_-]{86}$/);
      expect(verifyReceipt(receipt, jwks, { tenant, now: new Date(clock()) }).receipt.kind).toBe(receipt.kind);
      // Re-serialised with other whitespace and member order, it still verifies.
      const reordered = JSON.stringify(Object.fromEntries(Object.entries(receipt).reverse()), null, 2);
      expect(verifyReceipt(reordered, jwks, { tenant, now: new Date(clock()) }).receipt.id).toBe(receipt.id);
    }
    await expect(
      services.receipts.prepareDelivered({ tenantId: tenant, messageId: payload.id, deliveryId: 'dlv_x', destinationId: 'dst_x', attempt: 1, status: 302, bodySha256: payload.bodySha256 }),
    ).rejects.toMatchObject({ code: 'SP_ERR_RECEIPT_INVALID' });
  });

  it('detects every tampering of a receipt: each field, an added or removed member, the kid, the signature', async () => {
    const { receipt } = await services.receipts.prepareDelivered({
      tenantId: tenant,
      messageId: payload.id,
      deliveryId: 'dlv_01JDG3ZK8Q4W7N2M5R9T6V3X1Z',
      destinationId: 'dst_01JDG3ZK8Q4W7N2M5R9T6V3X1Y',
      attempt: 1,
      status: 204,
      bodySha256: payload.bodySha256,
    });
    const check = (doc: object): string => verifyCode(() => verifyReceipt(doc, jwks, { tenant, now: new Date(clock()) }));
    expect(check(receipt)).toBe('VALID');
    const flipLast = (s: string, alphabet: string): string => s.slice(0, -1) + (s.endsWith(alphabet[0]!) ? alphabet[1]! : alphabet[0]!);
    const tampered: Record<string, Partial<Record<keyof Receipt | 'destination' | 'attempt' | 'status', unknown>>> = {
      id: { id: flipLast(receipt.id, 'AB') },
      message_id: { message_id: flipLast(receipt.message_id, 'AB') },
      tenant: { tenant: flipLast(receipt.tenant, 'AB') },
      body_sha256: { body_sha256: flipLast(receipt.body_sha256, '01') },
      issued_at: { issued_at: new Date(Date.parse(receipt.issued_at) - 1).toISOString() },
      kind: { kind: 'accepted' },
      destination: { destination: flipLast(receipt.destination, 'AB') },
      attempt: { attempt: 2 },
      status: { status: 200 },
      v: { v: 2 },
    };
    for (const [field, change] of Object.entries(tampered)) {
      expect(REJECTED, field).toContain(check({ ...receipt, ...change }));
      expect(check({ ...receipt, ...change }), field).not.toBe('VALID');
    }
    expect(check({ ...receipt, extra: true })).toBe('SP_VERIFY_BAD_SIGNATURE');
    const { attempt: _attempt, ...missing } = receipt;
    expect(check(missing)).toBe('SP_VERIFY_MALFORMED_INPUT');
    expect(check({ ...receipt, sig: { ...receipt.sig, kid: otherKid } })).toBe('SP_VERIFY_BAD_SIGNATURE');
    expect(check({ ...receipt, sig: { ...receipt.sig, kid: 'sp_sig_20261124_ffffffffffffffff' } })).toBe('SP_VERIFY_UNKNOWN_KEY');
    const value = Buffer.from(receipt.sig.value, 'base64url');
    value[0] = value[0]! ^ 0x01;
    expect(check({ ...receipt, sig: { ...receipt.sig, value: value.toString('base64url') } })).toBe('SP_VERIFY_BAD_SIGNATURE');
  });

  it.skipIf(!hasOpenssl)('openssl accepts a receipt signature over its canonical JSON without sig', async () => {
    const { receipt } = await services.receipts.prepareAccepted({ tenantId: tenant, messageId: payload.id, bodySha256: payload.bodySha256, now: clock() });
    const { sig, ...unsigned } = receipt;
    const jwk = jwks.keys.find((k) => k.kid === sig.kid)!;
    expect(await opensslVerifies(dir, pemFromJwkX(jwk.x), canonicalizeToBuffer(unsigned), Buffer.from(sig.value, 'base64url'))).toBe(true);
  });
});
