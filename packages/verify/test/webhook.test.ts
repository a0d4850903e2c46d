import { sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { TenantMismatchError, verifyWebhook, VerifyError, type VerifyErrorCode, type VerifyWebhookInput } from '../src/index.js';
import { envelope, jwksOf, makeKey, MESSAGE_ID, NOW, NOW_S, OTHER_TENANT, signWebhook, TENANT, type SignedWebhook } from './fixtures.js';

const key = makeKey('sk_2026q4');
const jwks = jwksOf(key);

function codeOf(fn: () => unknown): VerifyErrorCode | undefined {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(VerifyError);
    return (err as VerifyError).code;
  }
  return undefined;
}

function input(signed: SignedWebhook, overrides: Partial<VerifyWebhookInput> = {}): VerifyWebhookInput {
  return { headers: signed.headers, body: signed.body, jwks, tenant: TENANT, now: NOW, ...overrides };
}

function withHeader(signed: SignedWebhook, name: string, value: string | undefined): Record<string, string> {
  const headers: Record<string, string> = { ...signed.headers };
  if (value === undefined) delete headers[name];
  else headers[name] = value;
  return headers;
}

describe('verifyWebhook: authentic requests', () => {
  it('verifies a request signed as DESIGN §4 describes and returns the envelope', () => {
    const signed = signWebhook(key);
    const result = verifyWebhook(input(signed));
    expect(result).toEqual({ id: MESSAGE_ID, timestamp: NOW_S, kid: 'sk_2026q4', envelope: envelope() });
  });

  it('accepts the body as a Buffer, a Uint8Array or a string', () => {
    const signed = signWebhook(key);
    expect(verifyWebhook(input(signed, { body: new Uint8Array(signed.body) })).id).toBe(MESSAGE_ID);
    expect(verifyWebhook(input(signed, { body: signed.body.toString('utf8') })).id).toBe(MESSAGE_ID);
  });

  it('reads a fetch Headers object and mixed-case header records', () => {
    const signed = signWebhook(key);
    expect(verifyWebhook(input(signed, { headers: new Headers(signed.headers) })).id).toBe(MESSAGE_ID);
    const shouting = Object.fromEntries(Object.entries(signed.headers).map(([k, v]) => [k.toUpperCase(), v]));
    expect(verifyWebhook(input(signed, { headers: shouting })).id).toBe(MESSAGE_ID);
  });

  it('still verifies a body that was parsed and re-serialised', () => {
    const signed = signWebhook(key);
    const parsed = JSON.parse(signed.body.toString('utf8')) as Record<string, unknown>;
    const reordered = { data: parsed.data, attachments: parsed.attachments, ...parsed };
    for (const body of [JSON.stringify(parsed, null, 2), JSON.stringify(reordered), Buffer.from(JSON.stringify(parsed))]) {
      expect(verifyWebhook(input(signed, { body })).envelope).toEqual(envelope());
    }
  });

  it('ignores a v1 HMAC signature alongside', () => {
    const signed = signWebhook(key);
    const hmac = `v1,${Buffer.alloc(32, 7).toString('base64')}`;
    const headers = withHeader(signed, 'webhook-signature', `${hmac} ${signed.headers['webhook-signature']}`);
    expect(verifyWebhook(input(signed, { headers })).id).toBe(MESSAGE_ID);
  });

  it('passes when a later v1a signature verifies and an earlier one does not', () => {
    const signed = signWebhook(key);
    const other = makeKey('sk_other');
    const wrong = sign(null, signed.signedBytes, other.privateKey).toString('base64');
    const headers = withHeader(signed, 'webhook-signature', `v1a,${wrong} ${signed.headers['webhook-signature']}`);
    expect(verifyWebhook(input(signed, { headers })).id).toBe(MESSAGE_ID);
  });

  it('accepts timestamps exactly at the tolerance, either way', () => {
    for (const timestamp of [NOW_S - 300, NOW_S + 300]) {
      expect(verifyWebhook(input(signWebhook(key, { timestamp }))).timestamp).toBe(timestamp);
    }
    const old = signWebhook(key, { timestamp: NOW_S - 3600 });
    expect(verifyWebhook(input(old, { toleranceSeconds: 3600 })).timestamp).toBe(NOW_S - 3600);
  });
});

describe('verifyWebhook: the expected tenant', () => {
  it('refuses a request signed for another tenant, even with a valid signature', () => {
    // Genuinely signed (same key, valid signature) for OTHER_TENANT, replayed to TENANT's endpoint.
    const replayed = signWebhook(key, { body: envelope({ tenant: OTHER_TENANT }) });
    let caught: unknown;
    try {
      verifyWebhook(input(replayed));
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(TenantMismatchError);
    expect(caught).toMatchObject({ code: 'SP_VERIFY_TENANT_MISMATCH', expected: TENANT, actual: OTHER_TENANT });
    // The same request verifies for the tenant it was signed for.
    expect(verifyWebhook(input(replayed, { tenant: OTHER_TENANT })).envelope.tenant).toBe(OTHER_TENANT);
  });

  it('refuses another tenant also on the re-canonicalised path', () => {
    const replayed = signWebhook(key, { body: envelope({ tenant: OTHER_TENANT }) });
    const reserialised = JSON.stringify(JSON.parse(replayed.body.toString('utf8')), null, 2);
    expect(codeOf(() => verifyWebhook(input(replayed, { body: reserialised })))).toBe('SP_VERIFY_TENANT_MISMATCH');
    expect(verifyWebhook(input(replayed, { body: reserialised, tenant: OTHER_TENANT })).id).toBe(MESSAGE_ID);
  });

  it('refuses an envelope without a tenant', () => {
    const { tenant: _t, ...rest } = envelope();
    expect(codeOf(() => verifyWebhook(input(signWebhook(key, { body: rest }))))).toBe('SP_VERIFY_TENANT_MISMATCH');
  });

  it.each([undefined, '', 'ten_', 'acme', 'ten_01JDG3ZK8Q4W7N2M5R9T6V3X1Z ', 42])('requires the expected tenant as a tenant id: %s', (tenant) => {
    const signed = signWebhook(key);
    expect(codeOf(() => verifyWebhook(input(signed, { tenant: tenant as string })))).toBe('SP_VERIFY_MALFORMED_INPUT');
  });
});

describe('verifyWebhook: tampering is detected', () => {
  it('detects any single changed byte of the body', () => {
    const signed = signWebhook(key);
    // Every position, not a sample: a flipped bit in the body must never verify, even after
    // re-canonicalisation of whatever still parses.
    for (let i = 0; i < signed.body.length; i++) {
      const body = Buffer.from(signed.body);
      body[i] = (body[i] as number) ^ 0x01;
      expect(codeOf(() => verifyWebhook(input(signed, { body })))).toBe('SP_VERIFY_BAD_SIGNATURE');
    }
  });

  it('detects a changed value that re-serialisation would carry', () => {
    const signed = signWebhook(key);
    const parsed = JSON.parse(signed.body.toString('utf8')) as Record<string, unknown>;
    const body = JSON.stringify({ ...parsed, tenant: 'ten_01JDG3ZK8Q4W7N2M5R9T6V3X99' });
    expect(codeOf(() => verifyWebhook(input(signed, { body })))).toBe('SP_VERIFY_BAD_SIGNATURE');
  });

  it('refuses a re-serialised body that repeats a member name', () => {
    const signed = signWebhook(key);
    const text = signed.body.toString('utf8');
    // JSON.parse keeps the last "tenant", so this re-canonicalises to the signed bytes, but a
    // first-wins parser would read the forged tenant.
    const body = `{"tenant":"ten_FORGED",${text.slice(1)}`;
    expect(codeOf(() => verifyWebhook(input(signed, { body })))).toBe('SP_VERIFY_BAD_SIGNATURE');
  });

  it('detects a changed webhook-id', () => {
    const signed = signWebhook(key);
    const headers = withHeader(signed, 'webhook-id', 'msg_01JDG3ZK8Q4W7N2M5R9T6V3X1Z');
    expect(codeOf(() => verifyWebhook(input(signed, { headers })))).toBe('SP_VERIFY_BAD_SIGNATURE');
  });

  it('detects a changed webhook-timestamp', () => {
    const signed = signWebhook(key);
    const headers = withHeader(signed, 'webhook-timestamp', String(NOW_S + 1));
    expect(codeOf(() => verifyWebhook(input(signed, { headers })))).toBe('SP_VERIFY_BAD_SIGNATURE');
  });

  it('detects a changed signature', () => {
    const signed = signWebhook(key);
    const forged = Buffer.from(signed.signature);
    forged[10] = (forged[10] as number) ^ 0x80;
    const headers = withHeader(signed, 'webhook-signature', `v1a,${forged.toString('base64')}`);
    expect(codeOf(() => verifyWebhook(input(signed, { headers })))).toBe('SP_VERIFY_BAD_SIGNATURE');
  });

  it('refuses a kid that is not in the JWKS', () => {
    const signed = signWebhook(key);
    const headers = withHeader(signed, 'sealpost-key-id', 'sk_2027q1');
    expect(codeOf(() => verifyWebhook(input(signed, { headers })))).toBe('SP_VERIFY_UNKNOWN_KEY');
  });

  it('refuses a kid that names another published key', () => {
    const other = makeKey('sk_2026q3');
    const signed = signWebhook(key);
    const headers = withHeader(signed, 'sealpost-key-id', 'sk_2026q3');
    expect(codeOf(() => verifyWebhook(input(signed, { headers, jwks: jwksOf(key, other) })))).toBe('SP_VERIFY_BAD_SIGNATURE');
  });

  it('refuses a signature by a key outside the JWKS under a published kid', () => {
    const impostor = makeKey('sk_2026q4');
    const signed = signWebhook(impostor);
    expect(codeOf(() => verifyWebhook(input(signed)))).toBe('SP_VERIFY_BAD_SIGNATURE');
  });
});

describe('verifyWebhook: time', () => {
  it('refuses a timestamp older or newer than the tolerance', () => {
    for (const timestamp of [NOW_S - 301, NOW_S + 301]) {
      expect(codeOf(() => verifyWebhook(input(signWebhook(key, { timestamp }))))).toBe('SP_VERIFY_STALE_TIMESTAMP');
    }
    const signed = signWebhook(key, { timestamp: NOW_S - 61 });
    expect(codeOf(() => verifyWebhook(input(signed, { toleranceSeconds: 60 })))).toBe('SP_VERIFY_STALE_TIMESTAMP');
  });

  it('uses the system clock when now is not given', () => {
    const always = makeKey('sk_always', { nbf: 0, exp: 2 ** 40 });
    const current = signWebhook(always, { timestamp: Math.floor(Date.now() / 1000) });
    expect(verifyWebhook({ headers: current.headers, body: current.body, jwks: jwksOf(always), tenant: TENANT }).kid).toBe('sk_always');
    const tenDaysOld = signWebhook(always, { timestamp: Math.floor(Date.now() / 1000) - 10 * 86_400 });
    expect(codeOf(() => verifyWebhook({ headers: tenDaysOld.headers, body: tenDaysOld.body, jwks: jwksOf(always), tenant: TENANT }))).toBe(
      'SP_VERIFY_STALE_TIMESTAMP',
    );
  });

  it('refuses a key used before its nbf or after its exp', () => {
    const notYet = makeKey('sk_next', { nbf: NOW_S + 10, exp: NOW_S + 90 * 86_400 });
    expect(codeOf(() => verifyWebhook(input(signWebhook(notYet), { jwks: jwksOf(notYet) })))).toBe('SP_VERIFY_EXPIRED_KEY');
    const retired = makeKey('sk_old', { nbf: NOW_S - 180 * 86_400, exp: NOW_S - 10 });
    expect(codeOf(() => verifyWebhook(input(signWebhook(retired), { jwks: jwksOf(retired) })))).toBe('SP_VERIFY_EXPIRED_KEY');
  });

  it('judges the key window at webhook-timestamp, not at now', () => {
    const justRetired = makeKey('sk_prev', { nbf: NOW_S - 180 * 86_400, exp: NOW_S - 10 });
    const sentBefore = signWebhook(justRetired, { timestamp: NOW_S - 20 });
    expect(verifyWebhook(input(sentBefore, { jwks: jwksOf(justRetired) })).kid).toBe('sk_prev');
  });

  it('accepts a key at the edges of its window', () => {
    const edge = makeKey('sk_edge', { nbf: NOW_S, exp: NOW_S });
    expect(verifyWebhook(input(signWebhook(edge), { jwks: jwksOf(edge) })).kid).toBe('sk_edge');
  });
});

describe('verifyWebhook: malformed input', () => {
  const signed = signWebhook(key);
  const v1a = signed.headers['webhook-signature'] as string;

  it.each([
    ['webhook-id', undefined],
    ['webhook-id', 'msg_123'],
    ['webhook-id', 'msg_01jdg3zk8q4w7n2m5r9t6v3x1y'],
    ['webhook-id', 'msg_01JDG3ZK8Q4W7N2M5R9T6V3XIY'],
    ['webhook-id', 'msg_81JDG3ZK8Q4W7N2M5R9T6V3X1Y'],
    ['webhook-id', `${MESSAGE_ID} `],
    ['webhook-id', 'evt_01JDG3ZK8Q4W7N2M5R9T6V3X1Y'],
    ['webhook-timestamp', undefined],
    ['webhook-timestamp', ''],
    ['webhook-timestamp', `+${NOW_S}`],
    ['webhook-timestamp', ` ${NOW_S}`],
    ['webhook-timestamp', `${NOW_S} `],
    ['webhook-timestamp', `0${NOW_S}`],
    ['webhook-timestamp', `${NOW_S}.0`],
    ['webhook-timestamp', '1e9'],
    ['webhook-timestamp', '-1'],
    ['webhook-timestamp', '0x6744f0b2'],
    ['sealpost-key-id', undefined],
    ['sealpost-key-id', ''],
    ['sealpost-key-id', 'two words'],
    ['webhook-signature', undefined],
    ['webhook-signature', ''],
    ['webhook-signature', 'v1a'],
    ['webhook-signature', ',abc'],
    ['webhook-signature', v1a.slice(0, -4)],
    ['webhook-signature', `${v1a.slice(0, -2)}`],
    ['webhook-signature', v1a.replace('v1a,', 'v1a,=')],
    ['webhook-signature', `v1,${Buffer.alloc(32).toString('base64')}`],
    ['webhook-signature', Array.from({ length: 9 }, () => v1a).join(' ')],
  ])('refuses %s = %j', (name, value) => {
    expect(codeOf(() => verifyWebhook(input(signed, { headers: withHeader(signed, name, value) })))).toBe('SP_VERIFY_MALFORMED_INPUT');
  });

  it('refuses a header given twice', () => {
    const twice = { ...signed.headers, 'webhook-id': [MESSAGE_ID, MESSAGE_ID] };
    expect(codeOf(() => verifyWebhook(input(signed, { headers: twice })))).toBe('SP_VERIFY_MALFORMED_INPUT');
    const twoCases = { ...signed.headers, 'Webhook-Timestamp': String(NOW_S), 'WEBHOOK-TIMESTAMP': String(NOW_S) };
    delete (twoCases as Record<string, string | undefined>)['webhook-timestamp'];
    expect(codeOf(() => verifyWebhook(input(signed, { headers: twoCases })))).toBe('SP_VERIFY_MALFORMED_INPUT');
  });

  it('refuses a body that is neither bytes nor text, and bad options', () => {
    expect(codeOf(() => verifyWebhook(input(signed, { body: { id: MESSAGE_ID } as unknown as string })))).toBe('SP_VERIFY_MALFORMED_INPUT');
    expect(codeOf(() => verifyWebhook(input(signed, { toleranceSeconds: -1 })))).toBe('SP_VERIFY_MALFORMED_INPUT');
    expect(codeOf(() => verifyWebhook(input(signed, { toleranceSeconds: Number.NaN })))).toBe('SP_VERIFY_MALFORMED_INPUT');
    expect(codeOf(() => verifyWebhook(input(signed, { now: new Date(Number.NaN) })))).toBe('SP_VERIFY_MALFORMED_INPUT');
    expect(codeOf(() => verifyWebhook(input(signed, { now: NOW_S as unknown as Date })))).toBe('SP_VERIFY_MALFORMED_INPUT');
  });

  it('refuses a malformed JWKS or key rather than skipping the check', () => {
    const cases: unknown[] = [
      null,
      { keys: 'nope' },
      { keys: [{ ...key.jwk, kty: 'EC' }] },
      { keys: [{ ...key.jwk, crv: 'Ed448' }] },
      { keys: [{ ...key.jwk, x: key.jwk.x.slice(1) }] },
      { keys: [{ ...key.jwk, use: 'enc' }] },
      { keys: [{ ...key.jwk, alg: 'RS256' }] },
      { keys: [{ ...key.jwk, key_ops: ['sign'] }] },
      { keys: [{ ...key.jwk, nbf: undefined }] },
      { keys: [{ ...key.jwk, exp: '2027' }] },
      { keys: [{ ...key.jwk, nbf: key.jwk.exp + 1 }] },
      { keys: [{ ...key.jwk, d: 'private' }] },
      { keys: [key.jwk, key.jwk] },
    ];
    for (const bad of cases) {
      expect(codeOf(() => verifyWebhook(input(signed, { jwks: bad as never })))).toBe('SP_VERIFY_MALFORMED_INPUT');
    }
  });

  it('ignores JWKS members of other kids, whatever their type', () => {
    const jwksWithOthers = { keys: [{ kty: 'RSA', kid: 'rsa-1', n: 'x', e: 'AQAB' }, 'junk', key.jwk] };
    expect(verifyWebhook(input(signed, { jwks: jwksWithOthers as never })).kid).toBe('sk_2026q4');
  });

  it('refuses an authentic signature over a body that is not a JSON object', () => {
    const nonObject = signWebhook(key);
    const body = Buffer.from('[1,2]');
    const signature = sign(null, Buffer.concat([Buffer.from(`${MESSAGE_ID}.${NOW_S}.`), body]), key.privateKey).toString('base64');
    const headers = withHeader(nonObject, 'webhook-signature', `v1a,${signature}`);
    expect(codeOf(() => verifyWebhook(input(nonObject, { headers, body })))).toBe('SP_VERIFY_MALFORMED_INPUT');
  });
});
