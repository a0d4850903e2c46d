import { isWellFormedKid, verifyReceipt, verifyWebhook, VerifyError, type JwkSet } from '@sealpost/verify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logging/logger.js';
import { signingKeySealContext, SIGNING_KEY_NBF_LEEWAY_MS } from '../../src/crypto/signing-key.js';
import { startSigningKeyScheduler } from '../../src/crypto/signing-key.scheduler.js';
import { ACTIVE_KEY_REFRESH_MS } from '../../src/crypto/signing-key.service.js';
import { acceptedReceipt, signReceipt } from '../../src/receipts/receipt.js';
import { webhookSignatureHeaders } from '../../src/receipts/webhook-signer.js';
import { testDialects } from '../support/test-database.js';
import { DAY_MS, manualClock, openReceiptsFixture, type Clock, type ReceiptsFixture } from './receipts-fixture.js';

const S = (ms: number): number => Math.floor(ms / 1000);

function expectVerifyError(fn: () => unknown, code: VerifyError['code']): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(VerifyError);
  expect((caught as VerifyError).code).toBe(code);
}

describe.each(testDialects())('signing keys on %s', (dialect) => {
  let fx: ReceiptsFixture;
  let clock: Clock;
  let tenant: string;

  beforeEach(async () => {
    fx = await openReceiptsFixture(dialect);
    clock = manualClock();
    tenant = await fx.tenant();
  });
  afterEach(async () => {
    await fx.dispose();
  });

  it('creates one active key on first use, its private half stored only sealed', async () => {
    const { keys } = fx.services({ now: clock });
    const key = await keys.currentKey(tenant);
    expect(key.kid).toMatch(/^sp_sig_20261124_[0-9a-f]{16}$/);
    expect(isWellFormedKid(key.kid)).toBe(true);
    expect((await keys.currentKey(tenant)).kid).toBe(key.kid);

    const rows = await fx.handle.db.selectFrom('signing_keys').selectAll().execute();
    expect(rows).toHaveLength(1);
    const row = rows[0]!;
    expect(row.state).toBe('active');
    expect(row.expires_at).toBeNull();
    const pkcs8 = key.privateKey.export({ type: 'pkcs8', format: 'der' });
    const sealed = Buffer.from(row.private_key_sealed!);
    // Neither the PKCS#8 encoding nor the 32-byte seed appears in the row.
    expect(sealed.includes(pkcs8.subarray(pkcs8.length - 32))).toBe(false);
    // Bound to its kid: the ciphertext does not open as another key's.
    const cipher = fx.cipherFor(fx.handle);
    expect(Buffer.from(await cipher.decrypt(sealed, signingKeySealContext(key.kid, tenant))).equals(pkcs8)).toBe(true);
    await expect(cipher.decrypt(sealed, signingKeySealContext('sp_sig_20261124_0000000000000000', tenant))).rejects.toMatchObject({ code: 'SP_ERR_CRYPTO_DECRYPT_FAILED' });
    // Bound to its tenant: it does not open as another tenant's (or a legacy deployment-wide) key.
    await expect(cipher.decrypt(sealed, signingKeySealContext(key.kid, await fx.tenant()))).rejects.toMatchObject({ code: 'SP_ERR_CRYPTO_DECRYPT_FAILED' });
    await expect(cipher.decrypt(sealed, signingKeySealContext(key.kid, null))).rejects.toMatchObject({ code: 'SP_ERR_CRYPTO_DECRYPT_FAILED' });
  });

  it('publishes the active key as an RFC 8037 OKP JWK whose exp is 90 days after its planned replacement', async () => {
    const { keys } = fx.services({ now: clock });
    const key = await keys.currentKey(tenant);
    const jwks = await keys.jwks(tenant);
    expect(jwks.keys).toEqual([
      {
        kty: 'OKP',
        crv: 'Ed25519',
        kid: key.kid,
        x: key.publicKey.toString('base64url'),
        use: 'sig',
        nbf: S(clock() - SIGNING_KEY_NBF_LEEWAY_MS),
        exp: S(clock() + 180 * DAY_MS) + 1,
      },
    ]);
    expect(await keys.jwksArchive(tenant)).toEqual({ keys: [] });
    // Overdue replacement (scheduler down): exp moves along, so what the key signs stays inside its window.
    clock.advance(200 * DAY_MS);
    const later = (await fx.services({ now: clock }).keys.jwks(tenant)).keys[0]!;
    expect(later.exp).toBeGreaterThanOrEqual(S(clock() + 90 * DAY_MS));
  });

  it('rotates to a new key that alone signs; the replaced key stays valid for 90 days', async () => {
    const { keys, signer } = fx.services({ now: clock });
    const old = await keys.currentKey(tenant);
    clock.advance(10 * DAY_MS);
    const rotatedAt = clock();
    const result = await keys.rotate(tenant);
    expect(result).toMatchObject({ rotated: true, replaced: old.kid, reason: 'rotated' });
    const current = await keys.currentKey(tenant);
    expect(current.kid).toBe(result.active);
    expect(current.kid).not.toBe(old.kid);

    const headers = await signer.sign({ tenantId: tenant, webhookId: 'msg_01JDG3ZK8Q4W7N2M5R9T6V3X1Y', timestamp: S(clock()), body: Buffer.from('{}') });
    expect(headers['sealpost-key-id']).toBe(current.kid);
    expect(headers['webhook-signature']!.split(' ')).toHaveLength(1);

    const jwks = await keys.jwks(tenant);
    expect(jwks.keys.map((k) => k.kid)).toEqual([current.kid, old.kid]);
    expect(jwks.keys[1]!.exp).toBe(Math.ceil((rotatedAt + 90 * DAY_MS) / 1000));
    const status = await keys.status(tenant);
    expect(status.map((k) => [k.kid, k.state])).toEqual([
      [old.kid, 'replaced'],
      [current.kid, 'active'],
    ]);
  });

  it('a process that has not seen a rotation picks the new key up within the refresh interval', async () => {
    const other = fx.testDb.open();
    const processA = fx.services({ now: clock });
    const processB = fx.services({ now: clock, handle: other });
    const k1 = await processA.keys.currentKey(tenant);
    expect((await processB.keys.currentKey(tenant)).kid).toBe(k1.kid);

    clock.advance(1_000);
    const { active: k2 } = await processB.keys.rotate(tenant);
    // A still signs with k1 for a moment; k1 is replaced, not retired, so that verifies.
    const stale = await processA.signer.sign({ tenantId: tenant, webhookId: 'msg_01JDG3ZK8Q4W7N2M5R9T6V3X1Y', timestamp: S(clock()), body: Buffer.from(`{"tenant":"${tenant}"}`) });
    expect(stale['sealpost-key-id']).toBe(k1.kid);
    const jwks = await processB.keys.jwks(tenant);
    expect(
      verifyWebhook({
        headers: { 'webhook-id': 'msg_01JDG3ZK8Q4W7N2M5R9T6V3X1Y', 'webhook-timestamp': String(S(clock())), ...stale },
        body: `{"tenant":"${tenant}"}`,
        jwks,
        tenant,
        now: new Date(clock()),
      }).kid,
    ).toBe(k1.kid);

    clock.advance(ACTIVE_KEY_REFRESH_MS);
    expect(ACTIVE_KEY_REFRESH_MS).toBeLessThanOrEqual(60_000);
    expect((await processA.keys.currentKey(tenant)).kid).toBe(k2);
  });

  it('rotates only when due with ifDue, and creates the first key if there is none', async () => {
    const { keys } = fx.services({ now: clock });
    const first = await keys.rotate(tenant, { ifDue: true });
    expect(first).toMatchObject({ rotated: true, reason: 'created', replaced: null });
    clock.advance(90 * DAY_MS - 1);
    expect(await keys.rotate(tenant, { ifDue: true })).toMatchObject({ rotated: false, reason: 'not-due', active: first.active });
    clock.advance(1);
    expect(await keys.rotate(tenant, { ifDue: true })).toMatchObject({ rotated: true, reason: 'rotated', replaced: first.active });
    expect(await keys.rotate(tenant, { expectedKid: first.active })).toMatchObject({ rotated: false, reason: 'not-expected-key' });
  });

  it('a receipt signed by a replaced key verifies during its 90-day overlap and fails after it with "expired key"; the retired key moves to the archive', async () => {
    const { keys, receipts } = fx.services({ now: clock });
    const payload = await fx.payload(tenant);
    const old = await keys.currentKey(tenant);
    const before = await receipts.prepareAccepted({ tenantId: tenant, messageId: payload.id, bodySha256: payload.bodySha256, now: clock() });

    clock.advance(DAY_MS);
    const rotatedAt = clock();
    await keys.rotate(tenant);

    // A process still holding the replaced key (it has not refreshed yet) signs a receipt.
    const duringOverlap = signReceipt(acceptedReceipt({ tenantId: tenant, messageId: payload.id, bodySha256: payload.bodySha256, issuedAt: clock() + 30_000 }), old);
    clock.set(rotatedAt + 89 * DAY_MS);
    let live = await keys.jwks(tenant);
    expect(verifyReceipt(before.receipt, live, { tenant, now: new Date(clock()) }).kid).toBe(old.kid);
    expect(verifyReceipt(duringOverlap, live, { tenant, now: new Date(clock()) }).kid).toBe(old.kid);

    // The same key signing after its overlap: its window has closed (exp is rounded up to whole seconds).
    clock.set(rotatedAt + 90 * DAY_MS + 2_000);
    const afterOverlap = signReceipt(acceptedReceipt({ tenantId: tenant, messageId: payload.id, bodySha256: payload.bodySha256, issuedAt: clock() }), old);
    const archive = await keys.jwksArchive(tenant);
    live = await keys.jwks(tenant);
    const both: JwkSet = { keys: [...live.keys, ...archive.keys] };
    expectVerifyError(() => verifyReceipt(afterOverlap, both, { tenant, now: new Date(clock()) }), 'SP_VERIFY_EXPIRED_KEY');
    const webhookBody = Buffer.from('{"late":true}');
    const lateWebhook = webhookSignatureHeaders(old, { webhookId: 'msg_01JDG3ZK8Q4W7N2M5R9T6V3X1Y', timestamp: S(clock()), body: webhookBody });
    expectVerifyError(
      () =>
        verifyWebhook({
          headers: { 'webhook-id': 'msg_01JDG3ZK8Q4W7N2M5R9T6V3X1Y', 'webhook-timestamp': String(S(clock())), ...lateWebhook },
          body: webhookBody,
          jwks: both,
          tenant,
          now: new Date(clock()),
        }),
      'SP_VERIFY_EXPIRED_KEY',
    );

    // Retired: listed in the archive only, even before the scheduler records it.
    expect(live.keys.map((k) => k.kid)).not.toContain(old.kid);
    expect(archive.keys.map((k) => k.kid)).toEqual([old.kid]);
    expectVerifyError(() => verifyReceipt(before.receipt, live, { tenant, now: new Date(clock()) }), 'SP_VERIFY_UNKNOWN_KEY');
    // Receipts it signed in time remain proofs, offline, with the archive.
    expect(verifyReceipt(before.receipt, archive, { tenant, now: new Date(clock()) }).kid).toBe(old.kid);

    expect(await keys.retireExpired()).toEqual([{ kid: old.kid, tenantId: tenant }]);
    const row = await fx.handle.db.selectFrom('signing_keys').selectAll().where('kid', '=', old.kid).executeTakeFirstOrThrow();
    expect(row.state).toBe('retired');
    expect(row.private_key_sealed).toBeNull();
    expect((await keys.jwksArchive(tenant)).keys.map((k) => k.kid)).toEqual([old.kid]);
  });

  it('the scheduler replaces every 90 days and retires 90 days after replacement', async () => {
    const { keys } = fx.services({ now: clock });
    await keys.currentKey(tenant);
    const scheduler = startSigningKeyScheduler({ keys, logger: createLogger('silent'), intervalMs: 3_600_000 });
    try {
      await scheduler.runOnce();
      const [first] = await keys.status(tenant);
      expect(first).toMatchObject({ state: 'active' });

      clock.advance(90 * DAY_MS);
      await scheduler.runOnce();
      const afterRotation = await keys.status(tenant);
      expect(afterRotation.map((k) => k.state)).toEqual(['replaced', 'active']);

      clock.advance(90 * DAY_MS + 1);
      await scheduler.runOnce();
      const states = await keys.status(tenant);
      expect(states.map((k) => k.state)).toEqual(['retired', 'replaced', 'active']);
      expect(states[0]!.kid).toBe(first!.kid);
    } finally {
      await scheduler.stop();
    }
  });

  it.runIf(dialect === 'postgres')('rotation raced by several connections makes exactly one new key', async () => {
    const seed = fx.services({ now: clock });
    const original = (await seed.keys.rotate(tenant, { ifDue: true })).active;
    clock.advance(91 * DAY_MS);
    const processes = Array.from({ length: 6 }, () => fx.services({ now: clock, handle: fx.testDb.open() }));
    const results = await Promise.all(processes.map((p) => p.keys.rotate(tenant, { ifDue: true })));
    const winners = results.filter((r) => r.rotated);
    expect(winners).toHaveLength(1);
    expect(winners[0]!.replaced).toBe(original);
    const rows = await fx.handle.db.selectFrom('signing_keys').select(['kid', 'state']).execute();
    expect(rows).toHaveLength(2);
    expect(rows.filter((r) => r.state === 'active').map((r) => r.kid)).toEqual([winners[0]!.active]);
    // Every loser reports the winner's key.
    expect(new Set(results.map((r) => r.active))).toEqual(new Set([winners[0]!.active]));
  });

  it.runIf(dialect === 'postgres')('several connections creating the first key agree on one', async () => {
    const processes = Array.from({ length: 6 }, () => fx.services({ now: clock, handle: fx.testDb.open() }));
    const kids = await Promise.all(processes.map(async (p) => (await p.keys.currentKey(tenant)).kid));
    expect(new Set(kids).size).toBe(1);
    expect(await fx.handle.db.selectFrom('signing_keys').select('kid').execute()).toHaveLength(1);
  });
});
