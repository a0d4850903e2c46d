import { sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { TenantMismatchError, verifyReceipt, VerifyError, type VerifyErrorCode } from '../src/index.js';
import { jwksOf, makeKey, NOW, NOW_S, OTHER_TENANT, signReceipt, TENANT, unsignedReceipt } from './fixtures.js';

const DAY = 86_400;
const key = makeKey('sk_2026q4');
const jwks = jwksOf(key);
const options = { tenant: TENANT, now: NOW };

function codeOf(fn: () => unknown): VerifyErrorCode | undefined {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(VerifyError);
    return (err as VerifyError).code;
  }
  return undefined;
}

describe('verifyReceipt: authentic receipts', () => {
  it.each(['accepted', 'delivered'] as const)('verifies a signed %s receipt, as an object and as text', (kind) => {
    const receipt = signReceipt(unsignedReceipt(kind), key);
    for (const given of [receipt, JSON.stringify(receipt)]) {
      const result = verifyReceipt(given, jwks, options);
      expect(result.receipt).toEqual(receipt);
      expect(result.kid).toBe('sk_2026q4');
      expect(result.issuedAt.toISOString()).toBe('2026-11-24T21:07:29.456Z');
    }
  });

  it('verifies a receipt that was parsed and re-serialised with other whitespace and member order', () => {
    const receipt = signReceipt(unsignedReceipt('delivered'), key);
    const reversed = Object.fromEntries(Object.entries(receipt).reverse());
    expect(verifyReceipt(JSON.stringify(reversed, null, 4), jwks, options).receipt.id).toBe(receipt.id);
    expect(verifyReceipt(reversed, jwks, options).receipt.id).toBe(receipt.id);
  });

  it.each([
    ['2026-11-24T22:07:29.456+01:00', '2026-11-24T21:07:29.456Z'],
    ['2026-11-24T20:37:29.456-00:30', '2026-11-24T21:07:29.456Z'],
    ['2026-11-24t21:07:29.456789123z', '2026-11-24T21:07:29.456Z'],
    ['2026-11-24T21:07:29Z', '2026-11-24T21:07:29.000Z'],
    ['2026-11-24T21:07:29.4Z', '2026-11-24T21:07:29.400Z'],
    ['2024-02-29T00:00:00Z', '2024-02-29T00:00:00.000Z'],
    ['2016-12-31T23:59:60Z', '2017-01-01T00:00:00.000Z'],
  ])('reads issued_at %s as %s (RFC 3339)', (issuedAt, iso) => {
    const wide = makeKey('sk_wide', { nbf: 0, exp: NOW_S });
    const receipt = signReceipt(unsignedReceipt('accepted', { issued_at: issuedAt }), wide);
    expect(verifyReceipt(receipt, jwksOf(wide), options).issuedAt.toISOString()).toBe(iso);
  });
});

describe('verifyReceipt: tampering is detected', () => {
  const receipt = signReceipt(unsignedReceipt('delivered'), key);

  it.each([
    ['tenant', 'ten_01JDG3ZK8Q4W7N2M5R9T6V3X99'],
    ['id', 'rcp_01JDG3ZK8Q4W7N2M5R9T6V3X99'],
    ['message_id', 'msg_01JDG3ZK8Q4W7N2M5R9T6V3X99'],
    ['body_sha256', '0'.repeat(64)],
    ['destination', 'dst_01JDG3ZK8Q4W7N2M5R9T6V3X99'],
    ['attempt', 3],
    ['status', 204],
    ['issued_at', '2026-11-24T21:07:29.457Z'],
    ['extra', 'a member the signer never wrote'],
  ])('detects a changed %s', (field, value) => {
    expect(codeOf(() => verifyReceipt({ ...receipt, [field]: value }, jwks, options))).toBe('SP_VERIFY_BAD_SIGNATURE');
  });

  it.each(['accepted', 'delivered'] as const)('refuses a %s receipt of another tenant, even with a valid signature', (kind) => {
    const theirs = signReceipt(unsignedReceipt(kind, { tenant: OTHER_TENANT }), key);
    let caught: unknown;
    try {
      verifyReceipt(theirs, jwks, options);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(TenantMismatchError);
    expect(caught).toMatchObject({ code: 'SP_VERIFY_TENANT_MISMATCH', expected: TENANT, actual: OTHER_TENANT });
    expect(verifyReceipt(theirs, jwks, { ...options, tenant: OTHER_TENANT }).receipt.tenant).toBe(OTHER_TENANT);
  });

  it.each([undefined, '', 'ten_', 'acme', 42])('requires the expected tenant as a tenant id: %s', (tenant) => {
    expect(codeOf(() => verifyReceipt(receipt, jwks, { now: NOW, tenant: tenant as string }))).toBe('SP_VERIFY_MALFORMED_INPUT');
    expect(codeOf(() => (verifyReceipt as (r: unknown, j: unknown) => unknown)(receipt, jwks))).toBe('SP_VERIFY_MALFORMED_INPUT');
  });

  it('detects a delivered receipt turned into an accepted one', () => {
    const { destination: _d, attempt: _a, status: _s, ...rest } = receipt;
    expect(codeOf(() => verifyReceipt({ ...rest, kind: 'accepted' }, jwks, options))).toBe('SP_VERIFY_BAD_SIGNATURE');
  });

  it('detects a changed signature value', () => {
    const sig = receipt.sig as { value: string };
    const bytes = Buffer.from(sig.value, 'base64url');
    bytes[0] = (bytes[0] as number) ^ 0x01;
    const forged = { ...receipt, sig: { ...sig, value: bytes.toString('base64url') } };
    expect(codeOf(() => verifyReceipt(forged, jwks, options))).toBe('SP_VERIFY_BAD_SIGNATURE');
  });

  it('refuses a kid that is not in the JWKS, and a kid of another published key', () => {
    const sig = receipt.sig as Record<string, string>;
    expect(codeOf(() => verifyReceipt({ ...receipt, sig: { ...sig, kid: 'sk_unknown' } }, jwks, options))).toBe('SP_VERIFY_UNKNOWN_KEY');
    const other = makeKey('sk_2026q3');
    const swapped = { ...receipt, sig: { ...sig, kid: 'sk_2026q3' } };
    expect(codeOf(() => verifyReceipt(swapped, jwksOf(key, other), options))).toBe('SP_VERIFY_BAD_SIGNATURE');
  });

  it('refuses a receipt signed over the whole object, sig included', () => {
    const unsigned = unsignedReceipt('accepted');
    const placeholder = { ...unsigned, sig: { alg: 'Ed25519', kid: key.kid, value: '' } };
    const value = sign(null, Buffer.from(JSON.stringify(placeholder)), key.privateKey).toString('base64url');
    expect(codeOf(() => verifyReceipt({ ...unsigned, sig: { alg: 'Ed25519', kid: key.kid, value } }, jwks, options))).toBe(
      'SP_VERIFY_BAD_SIGNATURE',
    );
  });
});

describe('verifyReceipt: key windows and time', () => {
  const issuedS = Math.floor(Date.parse('2026-11-24T21:07:29.456Z') / 1000);

  it('refuses a receipt issued before the key was valid, or after it expired', () => {
    const later = makeKey('sk_later', { nbf: issuedS + 1, exp: issuedS + 90 * DAY });
    expect(codeOf(() => verifyReceipt(signReceipt(unsignedReceipt(), later), jwksOf(later), options))).toBe('SP_VERIFY_EXPIRED_KEY');
    const earlier = makeKey('sk_earlier', { nbf: issuedS - 90 * DAY, exp: issuedS - 1 });
    expect(codeOf(() => verifyReceipt(signReceipt(unsignedReceipt(), earlier), jwksOf(earlier), options))).toBe('SP_VERIFY_EXPIRED_KEY');
  });

  it('still verifies an old receipt against the archive after its key is retired (DESIGN §6)', () => {
    // Issued in 2025 with a key replaced and retired long before NOW: only the archive lists it.
    const retired = makeKey('sk_2025q1', { nbf: NOW_S - 600 * DAY, exp: NOW_S - 420 * DAY });
    const old = signReceipt(unsignedReceipt('accepted', { issued_at: new Date((NOW_S - 500 * DAY) * 1000).toISOString() }), retired);
    const live = jwksOf(key);
    const archive = jwksOf(retired);
    expect(codeOf(() => verifyReceipt(old, live, options))).toBe('SP_VERIFY_UNKNOWN_KEY');
    expect(verifyReceipt(old, archive, options).kid).toBe('sk_2025q1');
    expect(verifyReceipt(old, { keys: [...live.keys, ...archive.keys] }, options).kid).toBe('sk_2025q1');
  });

  it('refuses a receipt issued further in the future than the allowed clock skew', () => {
    const future = signReceipt(unsignedReceipt('accepted', { issued_at: new Date((NOW_S + 301) * 1000).toISOString() }), key);
    expect(codeOf(() => verifyReceipt(future, jwks, options))).toBe('SP_VERIFY_STALE_TIMESTAMP');
    expect(verifyReceipt(future, jwks, { tenant: TENANT, now: NOW, maxFutureSeconds: 302 }).kid).toBe('sk_2026q4');
    const slightlyAhead = signReceipt(unsignedReceipt('accepted', { issued_at: new Date((NOW_S + 300) * 1000).toISOString() }), key);
    expect(verifyReceipt(slightlyAhead, jwks, options).kid).toBe('sk_2026q4');
  });
});

describe('verifyReceipt: malformed input', () => {
  const receipt = signReceipt(unsignedReceipt('delivered'), key);
  const sig = receipt.sig as { alg: string; kid: string; value: string };

  it.each([
    ['v', 2],
    ['v', '1'],
    ['kind', 'bounced'],
    ['id', 'msg_01JDG3ZK8Q4W7N2M5R9T6V3X22'],
    ['id', 'rcp_'],
    ['message_id', 'msg_short'],
    ['tenant', 'tenant-1'],
    ['tenant', undefined],
    ['body_sha256', 'A'.repeat(64)],
    ['body_sha256', 'a'.repeat(63)],
    ['issued_at', '2026-11-24 21:07:29Z'],
    ['issued_at', '2026-11-24T21:07:29'],
    ['issued_at', '2026-02-30T00:00:00Z'],
    ['issued_at', '2025-02-29T00:00:00Z'],
    ['issued_at', '2026-11-24T24:00:00Z'],
    ['issued_at', '2026-11-24T21:07:29.1234567890Z'],
    ['issued_at', '2026-11-24T21:07:29+24:00'],
    ['issued_at', 1_795_000_000],
    ['destination', 'dst_'],
    ['attempt', 0],
    ['attempt', 1.5],
    ['status', 500],
    ['status', '200'],
    ['sig', undefined],
    ['sig', 'abc'],
    ['sig', { ...sig, alg: 'EdDSA' }],
    ['sig', { ...sig, kid: 'two words' }],
    ['sig', { ...sig, value: sig.value + 'A' }],
    ['sig', { ...sig, value: Buffer.from(sig.value, 'base64url').toString('base64') }],
    ['sig', { ...sig, extra: 1 }],
  ])('refuses %s = %j', (field, value) => {
    expect(codeOf(() => verifyReceipt({ ...receipt, [field]: value }, jwks, options))).toBe('SP_VERIFY_MALFORMED_INPUT');
  });

  it('refuses an accepted receipt that carries delivery members', () => {
    const accepted = signReceipt(unsignedReceipt('accepted', { status: 200 }), key);
    expect(codeOf(() => verifyReceipt(accepted, jwks, options))).toBe('SP_VERIFY_MALFORMED_INPUT');
  });

  it.each([
    ['text that is not JSON', '{"v":1,'],
    ['a JSON array', '[]'],
    ['JSON null', 'null'],
    ['an array object', [] as object],
  ])('refuses %s', (_label, given) => {
    expect(codeOf(() => verifyReceipt(given, jwks, options))).toBe('SP_VERIFY_MALFORMED_INPUT');
  });

  it('refuses receipt text that repeats a member name', () => {
    const text = JSON.stringify(receipt);
    expect(codeOf(() => verifyReceipt(`{"status":500,${text.slice(1)}`, jwks, options))).toBe('SP_VERIFY_MALFORMED_INPUT');
  });

  it('refuses delivery members that only a prototype supplies', () => {
    const { destination: _d, attempt: _a, status: _s, ...own } = unsignedReceipt('delivered');
    const signed = signReceipt(own, key);
    const inheriting = Object.assign(Object.create({ destination: 'dst_01JDG3ZK8Q4W7N2M5R9T6V3X23', attempt: 1, status: 200 }) as object, signed);
    expect(codeOf(() => verifyReceipt(inheriting, jwks, options))).toBe('SP_VERIFY_MALFORMED_INPUT');
  });

  it('ignores members a polluted Object.prototype supplies', () => {
    const { destination: _d, attempt: _a, status: _s, ...own } = unsignedReceipt('delivered');
    const signed = signReceipt(own, key);
    const polluted = { destination: 'dst_01JDG3ZK8Q4W7N2M5R9T6V3X23', attempt: 1, status: 200 };
    for (const [name, value] of Object.entries(polluted)) {
      Object.defineProperty(Object.prototype, name, { value, configurable: true, writable: true });
    }
    try {
      expect(codeOf(() => verifyReceipt(JSON.stringify(signed), jwks, options))).toBe('SP_VERIFY_MALFORMED_INPUT');
    } finally {
      for (const name of Object.keys(polluted)) delete (Object.prototype as Record<string, unknown>)[name];
    }
  });

  it('refuses an extra member that cannot be canonicalised', () => {
    expect(codeOf(() => verifyReceipt({ ...receipt, note: 'x\ud800' }, jwks, options))).toBe('SP_VERIFY_MALFORMED_INPUT');
  });

  it('refuses a bad now or maxFutureSeconds', () => {
    expect(codeOf(() => verifyReceipt(receipt, jwks, { tenant: TENANT, now: new Date('nope') }))).toBe('SP_VERIFY_MALFORMED_INPUT');
    expect(codeOf(() => verifyReceipt(receipt, jwks, { tenant: TENANT, now: NOW, maxFutureSeconds: -1 }))).toBe('SP_VERIFY_MALFORMED_INPUT');
  });
});
