// One signing-key set per tenant (DESIGN §6): what each tenant signs with, what is published for
// it, how its keys rotate and are audited, and that receipts signed by the deployment-wide keys
// of before the change keep verifying.
import { generateKeyPairSync } from 'node:crypto';
import path from 'node:path';
import { verifyReceipt, verifyWebhook } from '@sealpost/verify';
import { sql } from 'kysely';
import { ulid } from 'ulid';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logging/logger.js';
import { DataKeyRepository } from '../../src/crypto/data-key.repository.js';
import { LocalKeyring } from '../../src/crypto/local-keyring.js';
import { RecordCipher } from '../../src/crypto/record-cipher.js';
import { rawPublicKey, signingKeySealContext, type ActiveSigningKey } from '../../src/crypto/signing-key.js';
import { SigningKeyRepository } from '../../src/crypto/signing-key.repository.js';
import { startSigningKeyScheduler } from '../../src/crypto/signing-key.scheduler.js';
import { SigningKeyService } from '../../src/crypto/signing-key.service.js';
import { migrateToLatest } from '../../src/db/migrator.js';
import { acceptedReceipt, signReceipt } from '../../src/receipts/receipt.js';
import { createReceiptServices } from '../../src/app/receipt-services.js';
import { webhookSignatureHeaders } from '../../src/receipts/webhook-signer.js';
import { createTestDatabase, testDialects, type TestDatabase } from '../support/test-database.js';
import { DAY_MS, manualClock, openReceiptsFixture, type Clock, type ReceiptsFixture } from './receipts-fixture.js';

const S = (ms: number): number => Math.floor(ms / 1000);
const SHA = 'a'.repeat(64);

describe.each(testDialects())('per-tenant signing keys on %s', (dialect) => {
  let fx: ReceiptsFixture;
  let clock: Clock;
  let tenantA: string;
  let tenantB: string;

  beforeEach(async () => {
    fx = await openReceiptsFixture(dialect);
    clock = manualClock();
    tenantA = await fx.tenant();
    tenantB = await fx.tenant();
  });
  afterEach(async () => {
    await fx.dispose();
  });

  async function rotationEvents(tenant: string): Promise<{ actor_id: string | null; resource: string | null; event: Record<string, unknown> }[]> {
    const rows = await fx.handle.db
      .selectFrom('audit_events')
      .select(['actor_id', 'resource', 'event'])
      .where('action', '=', 'signing_key.rotated')
      .where('tenant_id', '=', tenant)
      .orderBy('log_index')
      .execute();
    return rows.map((r) => ({ actor_id: r.actor_id, resource: r.resource, event: JSON.parse(r.event!) as Record<string, unknown> }));
  }

  it('each tenant signs with its own key', async () => {
    const { keys, signer, receipts } = fx.services({ now: clock });
    const [keyA, keyB] = [await keys.currentKey(tenantA), await keys.currentKey(tenantB)];
    expect(keyA.kid).not.toBe(keyB.kid);
    expect(keyA.publicKey.equals(keyB.publicKey)).toBe(false);

    const headersB = await signer.sign({ tenantId: tenantB, webhookId: 'msg_01JDG3ZK8Q4W7N2M5R9T6V3X1Y', timestamp: S(clock()), body: Buffer.from('{}') });
    expect(headersB['sealpost-key-id']).toBe(keyB.kid);
    const receiptA = await receipts.prepareAccepted({ tenantId: tenantA, messageId: 'msg_01JDG3ZK8Q4W7N2M5R9T6V3X1Y', bodySha256: SHA, now: clock() });
    expect(receiptA.receipt.sig.kid).toBe(keyA.kid);

    const rows = await fx.handle.db.selectFrom('signing_keys').select(['kid', 'tenant_id', 'state']).orderBy('tenant_id').execute();
    expect(rows.map((r) => [r.tenant_id, r.kid, r.state]).sort()).toEqual(
      [
        [tenantA, keyA.kid, 'active'],
        [tenantB, keyB.kid, 'active'],
      ].sort(),
    );
  });

  it('the tenant JWKS lists only that tenant\'s keys', async () => {
    const { keys } = fx.services({ now: clock });
    const a1 = (await keys.currentKey(tenantA)).kid;
    clock.advance(DAY_MS);
    const a2 = (await keys.rotate(tenantA)).active;
    const b1 = (await keys.currentKey(tenantB)).kid;
    expect((await keys.jwks(tenantA)).keys.map((k) => k.kid)).toEqual([a2, a1]);
    expect((await keys.jwks(tenantB)).keys.map((k) => k.kid)).toEqual([b1]);
    expect((await keys.jwksArchive(tenantA)).keys).toEqual([]);
    // The deployment-wide set lists no tenant's key.
    expect((await keys.legacyJwks()).live.keys).toEqual([]);
    // A tenant that does not exist has no set at all.
    await expect(keys.jwks('ten_01JDG3ZK8Q4W7N2M5R9T6V3X99')).rejects.toMatchObject({ code: 'SP_ERR_RESOURCE_NOT_FOUND' });
    await expect(keys.jwksArchive('ten_01JDG3ZK8Q4W7N2M5R9T6V3X99')).rejects.toMatchObject({ code: 'SP_ERR_RESOURCE_NOT_FOUND' });
  });

  it('rotation keeps the previous key valid 90 days, and leaves other tenants\' keys alone', async () => {
    const { keys, signer } = fx.services({ now: clock });
    const oldA = await keys.currentKey(tenantA);
    const keyB = await keys.currentKey(tenantB);
    const body = Buffer.from(JSON.stringify({ tenant: tenantA }));
    const signedBefore = { 'webhook-id': 'msg_01JDG3ZK8Q4W7N2M5R9T6V3X1Y', 'webhook-timestamp': String(S(clock())), ...(await signer.sign({ tenantId: tenantA, webhookId: 'msg_01JDG3ZK8Q4W7N2M5R9T6V3X1Y', timestamp: S(clock()), body })) };
    const receiptBefore = (await fx.services({ now: clock }).receipts.prepareAccepted({ tenantId: tenantA, messageId: 'msg_01JDG3ZK8Q4W7N2M5R9T6V3X1Y', bodySha256: SHA, now: clock() })).receipt;

    clock.advance(DAY_MS);
    const rotatedAt = clock();
    const rotation = await keys.rotate(tenantA);
    expect(rotation).toMatchObject({ tenant: tenantA, rotated: true, replaced: oldA.kid });
    expect((await keys.currentKey(tenantA)).kid).toBe(rotation.active);
    expect((await keys.currentKey(tenantB)).kid).toBe(keyB.kid);
    expect((await keys.status(tenantB)).map((k) => k.state)).toEqual(['active']);

    // 89 days later the replaced key still verifies what it signed; 90 days later it is retired.
    clock.set(rotatedAt + 89 * DAY_MS);
    const live = await keys.jwks(tenantA);
    expect(live.keys.map((k) => k.kid)).toEqual([rotation.active, oldA.kid]);
    expect(live.keys[1]!.exp).toBe(Math.ceil((rotatedAt + 90 * DAY_MS) / 1000));
    expect(verifyReceipt(receiptBefore, live, { tenant: tenantA, now: new Date(clock()) }).kid).toBe(oldA.kid);
    expect(verifyWebhook({ headers: signedBefore, body, jwks: live, tenant: tenantA, toleranceSeconds: 100 * 86_400, now: new Date(clock()) }).kid).toBe(oldA.kid);
    clock.set(rotatedAt + 90 * DAY_MS + 1_000);
    expect((await keys.jwks(tenantA)).keys.map((k) => k.kid)).toEqual([rotation.active]);
    expect((await keys.jwksArchive(tenantA)).keys.map((k) => k.kid)).toEqual([oldA.kid]);
    expect(await keys.retireExpired()).toEqual([{ kid: oldA.kid, tenantId: tenantA }]);
  });

  it('a signing-key rotation is audited, in the transaction that makes it', async () => {
    const { keys } = fx.services({ now: clock });
    const first = (await keys.currentKey(tenantA)).kid;
    await keys.currentKey(tenantB);
    const scheduler = startSigningKeyScheduler({ keys, logger: createLogger('silent'), intervalMs: 3_600_000 });
    let second: string;
    try {
      clock.advance(90 * DAY_MS);
      await scheduler.runOnce();
      second = (await keys.currentKey(tenantA)).kid;
      expect(second).not.toBe(first);
    } finally {
      await scheduler.stop();
    }

    const events = await rotationEvents(tenantA);
    expect(events.map((e) => [e.resource, e.actor_id])).toEqual([
      [first, 'sealpost'],
      [second, 'scheduler'],
    ]);
    expect(events[1]!.event).toMatchObject({ tenant: tenantA, action: 'signing_key.rotated', details: { kid: second, replaced: first, reason: 'rotated', overlap_days: 90 } });
    // Ids only: no key material of any form in the event.
    expect(Object.keys(events[1]!.event.details as object).sort()).toEqual(['kid', 'overlap_days', 'reason', 'replaced']);
    const row = await fx.handle.db.selectFrom('signing_keys').select(['public_key', 'private_key_sealed']).where('kid', '=', second).executeTakeFirstOrThrow();
    const text = JSON.stringify(events);
    expect(text).not.toContain(Buffer.from(row.public_key).toString('base64url'));
    expect(text).not.toContain(Buffer.from(row.private_key_sealed!).toString('base64'));
    // B was rotated by the same scheduler run, under B.
    expect((await rotationEvents(tenantB)).map((e) => e.actor_id)).toEqual(['sealpost', 'scheduler']);

    // A rotation whose audit event cannot be written does not happen.
    const failing = new SigningKeyService(new SigningKeyRepository(fx.handle.db), fx.cipherFor(fx.handle), { append: () => Promise.reject(new Error('audit log unavailable')) }, { now: clock });
    await expect(failing.rotate(tenantA)).rejects.toThrow('audit log unavailable');
    expect((await keys.status(tenantA)).filter((k) => k.state === 'active').map((k) => k.kid)).toEqual([second]);
    const otherTenant = await fx.tenant();
    await expect(failing.currentKey(otherTenant)).rejects.toThrow('audit log unavailable');
    expect(await keys.status(otherTenant)).toEqual([]);
  });

  it.runIf(dialect === 'postgres')('several connections creating one tenant\'s first key agree on one, and each tenant gets its own', async () => {
    const processes = Array.from({ length: 6 }, () => fx.services({ now: clock, handle: fx.testDb.open() }));
    const kids = await Promise.all(processes.flatMap((p) => [tenantA, tenantB].map(async (t) => [t, (await p.keys.currentKey(t)).kid] as const)));
    const byTenant = new Map<string, Set<string>>();
    for (const [t, kid] of kids) byTenant.set(t, (byTenant.get(t) ?? new Set()).add(kid));
    expect(byTenant.get(tenantA)!.size).toBe(1);
    expect(byTenant.get(tenantB)!.size).toBe(1);
    expect([...byTenant.get(tenantA)!][0]).not.toBe([...byTenant.get(tenantB)!][0]);
    expect(await fx.handle.db.selectFrom('signing_keys').select('kid').execute()).toHaveLength(2);
    expect(await rotationEvents(tenantA)).toHaveLength(1);
  });
});

describe.each(testDialects())('signing keys from before per-tenant keys on %s', (dialect) => {
  let testDb: TestDatabase;

  beforeEach(async () => {
    testDb = await createTestDatabase(dialect);
  });
  afterEach(async () => {
    await testDb.dispose();
  });

  it('a receipt issued before per-tenant keys still verifies, and the legacy key never signs again', async () => {
    // The database as it was before migration 0007, with a deployment-wide key that signed a
    // receipt and a request of a tenant.
    const handle = testDb.open();
    await migrateToLatest(handle.db, handle.dialect, { stopAfter: '0006-delivery-lease-index' });
    const keyring = new LocalKeyring(path.join(testDb.dir, 'keyring'), 365);
    keyring.open();
    const cipher = new RecordCipher(keyring, new DataKeyRepository(handle.db));
    const tenant = `ten_${ulid()}`;
    await handle.db.insertInto('tenants').values({ id: tenant, name: 'Before', plan: 'starter', created_at: Date.now() }).execute();
    const issuedAt = Date.now() - 10 * DAY_MS;
    const kid = 'sp_sig_20261121_00112233445566ff';
    const pair = generateKeyPairSync('ed25519');
    const sealed = await cipher.encrypt(pair.privateKey.export({ type: 'pkcs8', format: 'der' }), signingKeySealContext(kid, null));
    await sql`insert into signing_keys (kid, public_key, private_key_sealed, state, created_at, activated_at, not_before, replaced_at, expires_at, retired_at)
      values (${kid}, ${rawPublicKey(pair.publicKey)}, ${sealed}, 'active', ${issuedAt - DAY_MS}, ${issuedAt - DAY_MS}, ${issuedAt - DAY_MS - 300_000}, null, null, null)`.execute(handle.db);
    const legacy: ActiveSigningKey = { kid, tenantId: tenant, privateKey: pair.privateKey, publicKey: rawPublicKey(pair.publicKey) };
    const oldReceipt = signReceipt(acceptedReceipt({ tenantId: tenant, messageId: `msg_${ulid(issuedAt)}`, bodySha256: SHA, issuedAt }), legacy);

    await migrateToLatest(handle.db, handle.dialect);
    const clock = manualClock(Date.now());
    const { keys, receipts } = createReceiptServices({ db: handle.db, cipher, now: clock });

    // The tenant now signs with a key of its own; the legacy key is replaced, published, never used.
    const current = await keys.currentKey(tenant);
    expect(current.kid).not.toBe(kid);
    expect((await receipts.prepareAccepted({ tenantId: tenant, messageId: `msg_${ulid()}`, bodySha256: SHA, now: clock() })).receipt.sig.kid).toBe(current.kid);
    const row = await handle.db.selectFrom('signing_keys').select(['tenant_id', 'state', 'expires_at']).where('kid', '=', kid).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ tenant_id: null, state: 'replaced' });
    expect(row.expires_at).toBeGreaterThanOrEqual(Date.now() + 89 * DAY_MS);
    expect((await keys.jwks(tenant)).keys.map((k) => k.kid)).toEqual([current.kid]);
    expect((await keys.legacyJwks()).live.keys.map((k) => k.kid)).toEqual([kid]);

    // Verifiable with the tenant's archive, and with the deployment-wide JWKS it was published in.
    const archive = await keys.jwksArchive(tenant);
    expect(archive.keys.map((k) => k.kid)).toEqual([kid]);
    expect(verifyReceipt(oldReceipt, archive, { tenant }).kid).toBe(kid);
    expect(verifyReceipt(oldReceipt, (await keys.legacyJwks()).live, { tenant }).kid).toBe(kid);
    // A request it signed then (within the tolerance of a late retry) verifies the same way.
    const body = Buffer.from(JSON.stringify({ tenant }));
    const headers = { 'webhook-id': oldReceipt.message_id, 'webhook-timestamp': String(S(issuedAt)), ...webhookSignatureHeaders(legacy, { webhookId: oldReceipt.message_id, timestamp: S(issuedAt), body }) };
    expect(verifyWebhook({ headers, body, jwks: archive, tenant, now: new Date(issuedAt) }).kid).toBe(kid);

    // Once its overlap is over it retires, and still verifies from both archives.
    clock.set(row.expires_at! + 1_000);
    expect(await keys.retireExpired()).toEqual([{ kid, tenantId: null }]);
    const later = await keys.jwksArchive(tenant);
    expect(later.keys.map((k) => k.kid)).toEqual([kid]);
    expect(verifyReceipt(oldReceipt, later, { tenant }).kid).toBe(kid);
    expect((await keys.legacyJwks()).archive.keys.map((k) => k.kid)).toEqual([kid]);
  });
});
