// Test keys and signers that follow DESIGN §4–§6 literally, independently of the code under
// test: canonical JSON comes from the reference `canonicalize` package, signatures from
// crypto.sign(null, bytes, privateKey).
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import referenceCanonicalize from 'canonicalize';
import type { Ed25519Jwk, JwkSet } from '../src/index.js';

export const NOW = new Date('2026-11-24T21:07:30.000Z');
export const NOW_S = Math.floor(NOW.getTime() / 1000);
const DAY = 86_400;

export const MESSAGE_ID = 'msg_01JDG3ZK8Q4W7N2M5R9T6V3X1Y';
/** The tenant every fixture is signed for. */
export const TENANT = 'ten_01JDG3ZK8Q4W7N2M5R9T6V3X1Z';
/** Another tenant of the same relay. */
export const OTHER_TENANT = 'ten_01JDG3ZK8Q4W7N2M5R9T6V3X99';

export interface TestKey {
  readonly kid: string;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly jwk: Ed25519Jwk;
}

/** An Ed25519 key valid from `nbf` to `exp` (unix seconds); by default 90 days either side of NOW. */
export function makeKey(kid: string, window: { nbf?: number; exp?: number } = {}): TestKey {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const exported = publicKey.export({ format: 'jwk' });
  const jwk: Ed25519Jwk = {
    kty: 'OKP',
    crv: 'Ed25519',
    x: exported.x as string,
    kid,
    use: 'sig',
    nbf: window.nbf ?? NOW_S - 90 * DAY,
    exp: window.exp ?? NOW_S + 90 * DAY,
  };
  return { kid, privateKey, publicKey, jwk };
}

export function jwksOf(...keys: TestKey[]): JwkSet {
  return { keys: keys.map((k) => k.jwk) };
}

export function reference(value: unknown): string {
  const text = referenceCanonicalize(value);
  if (text === undefined) throw new Error('reference canonicalize returned undefined');
  return text;
}

export function envelope(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: MESSAGE_ID,
    type: 'payload.received',
    tenant: TENANT,
    received_at: '2026-11-24T21:07:28.123Z',
    source: { channel: 'https', api_key: 'key_01JDG3ZK8Q4W7N2M5R9T6V3X20' },
    data: { order: 4711, total: 1234.56, note: 'Grüße 😀', lines: [{ sku: 'A-1', qty: 3 }] },
    attachments: [],
    ...overrides,
  };
}

export interface SignedWebhook {
  readonly headers: Record<string, string>;
  readonly body: Buffer;
  /** The bytes the signature covers: `<id>.<timestamp>.<body>`. */
  readonly signedBytes: Buffer;
  readonly signature: Buffer;
}

/** A forwarded request exactly as DESIGN §4 describes it. */
export function signWebhook(
  key: TestKey,
  options: { id?: string; timestamp?: number; body?: Record<string, unknown> } = {},
): SignedWebhook {
  const id = options.id ?? MESSAGE_ID;
  const timestamp = String(options.timestamp ?? NOW_S);
  const body = Buffer.from(reference(options.body ?? envelope()), 'utf8');
  const signedBytes = Buffer.concat([Buffer.from(`${id}.${timestamp}.`, 'utf8'), body]);
  const signature = sign(null, signedBytes, key.privateKey);
  return {
    headers: {
      'content-type': 'application/json',
      'webhook-id': id,
      'webhook-timestamp': timestamp,
      'webhook-signature': `v1a,${signature.toString('base64')}`,
      'sealpost-key-id': key.kid,
      'user-agent': 'Sealpost/0.1.0',
    },
    body,
    signedBytes,
    signature,
  };
}

export function unsignedReceipt(kind: 'accepted' | 'delivered' = 'delivered', overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const base: Record<string, unknown> = {
    v: 1,
    kind,
    id: 'rcp_01JDG3ZK8Q4W7N2M5R9T6V3X22',
    message_id: MESSAGE_ID,
    tenant: TENANT,
    body_sha256: createHash('sha256').update(reference(envelope())).digest('hex'),
    issued_at: '2026-11-24T21:07:29.456Z',
  };
  if (kind === 'delivered') Object.assign(base, { destination: 'dst_01JDG3ZK8Q4W7N2M5R9T6V3X23', attempt: 2, status: 200 });
  return { ...base, ...overrides };
}

/** A receipt signed as DESIGN §5 says: over the canonical JSON of the object without `sig`. */
export function signReceipt(unsigned: Record<string, unknown>, key: TestKey): Record<string, unknown> {
  const value = sign(null, Buffer.from(reference(unsigned), 'utf8'), key.privateKey).toString('base64url');
  return { ...unsigned, sig: { alg: 'Ed25519', kid: key.kid, value } };
}
