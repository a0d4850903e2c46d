import { canonicalize } from '@sealpost/verify/canonical-json';
import { hasDuplicateNames } from '@sealpost/verify/json-text';

/**
 * Receipt verification in the browser (DESIGN §5): an Ed25519 signature (WebCrypto), by the key
 * `sig.kid` of the tenant's published JWKS, over the RFC 8785 canonical JSON of the receipt
 * without `sig` — canonicalised by @sealpost/verify's own code. Mirrors `verifyReceipt` of
 * @sealpost/verify (whose signature step needs node:crypto) check for check.
 */

export interface PublishedJwk {
  readonly kty: string;
  readonly crv?: string;
  readonly x?: string;
  readonly kid?: string;
  readonly nbf?: number;
  readonly exp?: number;
}

export interface VerifiedReceipt {
  readonly ok: true;
  readonly kind: string;
  readonly id: string;
  readonly messageId: string;
  readonly tenant: string;
  readonly kid: string;
  readonly issuedAt: string;
}

export interface FailedReceipt {
  readonly ok: false;
  /** Why, in words an operator can act on (never which byte differed). */
  readonly reason: string;
}

export type ReceiptOutcome = VerifiedReceipt | FailedReceipt;

const TENANT_ID = /^ten_[0-9A-HJKMNP-TV-Z]{26}$/;
const KID = /^[A-Za-z0-9_-]{1,128}$/;
const SIGNATURE = /^[A-Za-z0-9_-]{86}$/;

/** The tenant's keys as published: the live set, then the archive of retired ones. */
export async function fetchTenantKeys(tenant: string): Promise<PublishedJwk[]> {
  const base = `/.well-known/sealpost/tenants/${encodeURIComponent(tenant)}`;
  const keys: PublishedJwk[] = [];
  for (const file of ['jwks.json', 'jwks-archive.json']) {
    const res = await fetch(`${base}/${file}`, { credentials: 'omit', redirect: 'error' });
    if (!res.ok) continue;
    const body = (await res.json()) as { keys?: unknown };
    if (Array.isArray(body.keys)) keys.push(...(body.keys as PublishedJwk[]));
  }
  return keys;
}

function base64urlBytes(text: string): Uint8Array<ArrayBuffer> {
  const b64 = text.replace(/-/g, '+').replace(/_/g, '/');
  const raw = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
  return bytes;
}

const fail = (reason: string): FailedReceipt => ({ ok: false, reason });

/**
 * Verifies a receipt's JSON text. `expectedTenant`, when given, must be the receipt's tenant
 * (a receipt of another tenant is refused even with a good signature). `keysOf` fetches the
 * receipt's tenant's published keys.
 */
export async function verifyReceiptText(text: string, options: { expectedTenant?: string; keysOf?: (tenant: string) => Promise<PublishedJwk[]> } = {}): Promise<ReceiptOutcome> {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return fail('This is not JSON.');
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) return fail('A receipt is a JSON object.');
  if (hasDuplicateNames(text, doc)) return fail('The receipt repeats a member name.');
  const receipt = doc as Record<string, unknown>;
  const sig = receipt.sig as Record<string, unknown> | undefined;
  if (receipt.v !== 1 || (receipt.kind !== 'accepted' && receipt.kind !== 'delivered')) return fail('This is not a Sealpost receipt (v 1, kind accepted or delivered).');
  if (typeof receipt.tenant !== 'string' || !TENANT_ID.test(receipt.tenant)) return fail('The receipt names no valid tenant.');
  if (typeof receipt.issued_at !== 'string' || Number.isNaN(Date.parse(receipt.issued_at))) return fail('The receipt has no valid issued_at.');
  if (!sig || typeof sig !== 'object' || sig.alg !== 'Ed25519' || typeof sig.kid !== 'string' || !KID.test(sig.kid) || typeof sig.value !== 'string' || !SIGNATURE.test(sig.value)) {
    return fail('The receipt has no well-formed Ed25519 signature.');
  }
  if (options.expectedTenant && receipt.tenant !== options.expectedTenant) return fail(`The receipt belongs to tenant ${receipt.tenant}, not ${options.expectedTenant}.`);

  const keys = await (options.keysOf ?? fetchTenantKeys)(receipt.tenant);
  const jwk = keys.find((k) => k.kid === sig.kid);
  if (!jwk || jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') return fail(`Key ${sig.kid} is not among the tenant's published keys.`);
  const issued = Date.parse(receipt.issued_at) / 1000;
  if ((jwk.nbf !== undefined && issued < jwk.nbf) || (jwk.exp !== undefined && issued > jwk.exp)) return fail(`Key ${sig.kid} was not valid when the receipt was issued.`);

  const { sig: _sig, ...unsigned } = receipt;
  let signed: Uint8Array<ArrayBuffer>;
  try {
    signed = new TextEncoder().encode(canonicalize(unsigned));
  } catch {
    return fail('The receipt is not canonicalisable JSON.');
  }
  let valid = false;
  try {
    const key = await crypto.subtle.importKey('jwk', { kty: 'OKP', crv: 'Ed25519', x: jwk.x }, { name: 'Ed25519' }, false, ['verify']);
    valid = await crypto.subtle.verify({ name: 'Ed25519' }, key, base64urlBytes(sig.value), signed);
  } catch {
    return fail('This browser cannot check Ed25519 signatures (WebCrypto), or the key is malformed.');
  }
  if (!valid) return fail('Invalid signature: the receipt was altered or not signed by this key.');
  return { ok: true, kind: receipt.kind, id: String(receipt.id), messageId: String(receipt.message_id), tenant: receipt.tenant, kid: sig.kid, issuedAt: receipt.issued_at };
}
