import { verify } from 'node:crypto';
import { canonicalize } from './canonical-json.js';
import { VerifyError } from './errors.js';
import { hasDuplicateNames, isJsonObject, ownMembers } from './json-text.js';
import { isKeyValidAt, isWellFormedKid, resolveKey, type JwkSet } from './jwks.js';
import { checkTenant, expectedTenant, isTenantId } from './tenant.js';

/**
 * A receipt's signature member (DESIGN §5).
 *
 * @example
 * ```ts
 * import type { ReceiptSignature } from '@sealpost/verify';
 * const sig: ReceiptSignature = { alg: 'Ed25519', kid: 'sk_2026q4', value: '…86 base64url characters…' };
 * ```
 */
export interface ReceiptSignature {
  readonly alg: 'Ed25519';
  readonly kid: string;
  /** Ed25519 signature, base64url without padding. */
  readonly value: string;
}

interface ReceiptBase {
  readonly v: 1;
  /** `rcp_…` */
  readonly id: string;
  /** `msg_<ULID>`, the `webhook-id` of the message. */
  readonly message_id: string;
  /** `ten_…` */
  readonly tenant: string;
  /** Lowercase hex SHA-256 of the canonical envelope. */
  readonly body_sha256: string;
  /** RFC 3339 date-time. */
  readonly issued_at: string;
  readonly sig: ReceiptSignature;
}

/**
 * Returned to the sender once a payload is durably stored.
 *
 * @example
 * ```ts
 * import type { AcceptedReceipt, Receipt } from '@sealpost/verify';
 * const isAccepted = (r: Receipt): r is AcceptedReceipt => r.kind === 'accepted';
 * ```
 */
export interface AcceptedReceipt extends ReceiptBase {
  readonly kind: 'accepted';
}

/**
 * Written when a destination answered 2xx.
 *
 * @example
 * ```ts
 * import type { DeliveredReceipt } from '@sealpost/verify';
 * const summary = (r: DeliveredReceipt): string => `${r.destination}: ${r.status} on attempt ${r.attempt}`;
 * ```
 */
export interface DeliveredReceipt extends ReceiptBase {
  readonly kind: 'delivered';
  /** `dst_…` */
  readonly destination: string;
  /** 1 for the first attempt. */
  readonly attempt: number;
  /** The destination's 2xx status. */
  readonly status: number;
}

/**
 * A signed receipt document (DESIGN §5), discriminated by `kind`.
 *
 * @example
 * ```ts
 * import type { Receipt } from '@sealpost/verify';
 * const when = (r: Receipt): Date => new Date(r.issued_at);
 * ```
 */
export type Receipt = AcceptedReceipt | DeliveredReceipt;

/**
 * Options of {@link verifyReceipt}.
 *
 * @example
 * ```ts
 * import type { VerifyReceiptOptions } from '@sealpost/verify';
 * const options: VerifyReceiptOptions = { tenant: 'ten_01JDG3ZK8Q4W7N2M5R9T6V3X1Z', now: new Date(), maxFutureSeconds: 300 };
 * ```
 */
export interface VerifyReceiptOptions {
  /** Your tenant id (`ten_…`). A receipt of another tenant is refused, even with a valid signature. */
  readonly tenant: string;
  /** The current time; defaults to the system clock. */
  readonly now?: Date;
  /** How far `issued_at` may lie ahead of `now` (clock skew), in seconds; default 300. */
  readonly maxFutureSeconds?: number;
}

/**
 * What {@link verifyReceipt} returns for an authentic receipt.
 *
 * @example
 * ```ts
 * const { receipt, issuedAt } = verifyReceipt(doc, jwks, { tenant: 'ten_01JDG3ZK8Q4W7N2M5R9T6V3X1Z' });
 * if (receipt.kind === 'delivered') console.log(receipt.destination, issuedAt.toISOString());
 * ```
 */
export interface VerifiedReceipt {
  /** The authenticated receipt. Use this, not a second parse of the input. */
  readonly receipt: Receipt;
  /** The key that signed it. */
  readonly kid: string;
  /** `issued_at` as a Date (millisecond precision). */
  readonly issuedAt: Date;
}

/** Clock skew allowed between Sealpost and the verifier, as for webhook timestamps. */
const DEFAULT_MAX_FUTURE_SECONDS = 300;

const RECEIPT_ID = /^rcp_[0-9A-Za-z]{1,64}$/;
const DESTINATION_ID = /^dst_[0-9A-Za-z]{1,64}$/;
// The webhook-id of the message: msg_ + ULID (DESIGN §4).
const MESSAGE_ID = /^msg_[0-7][0-9A-HJKMNP-TV-Z]{25}$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;
// RFC 3339 §5.6 date-time; the fraction is bounded to nanoseconds.
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d{1,9}|)(?:[Zz]|([+-])(\d{2}):(\d{2}))$/;
// base64url without padding of a 64-byte Ed25519 signature: the last character carries 2
// bits, so its low 4 bits are zero.
const SIGNATURE_VALUE = /^[A-Za-z0-9_-]{85}[AQgw]$/;
const DELIVERY_MEMBERS = ['destination', 'attempt', 'status'] as const;

function malformed(message: string, cause?: unknown): never {
  throw new VerifyError('SP_VERIFY_MALFORMED_INPUT', message, { cause });
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] as const;

function daysInMonth(year: number, month: number): number {
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return month === 2 && leap ? 29 : (DAYS_IN_MONTH[month - 1] ?? 0);
}

/** Milliseconds since the epoch of an RFC 3339 date-time, or NaN if it is not one. */
function parseDateTime(text: string): number {
  const m = DATE_TIME.exec(text);
  if (m === null) return Number.NaN;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const offsetHours = m[9] === undefined ? 0 : Number(m[9]);
  const offsetMinutes = m[10] === undefined ? 0 : Number(m[10]);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return Number.NaN;
  // RFC 3339 §5.7 allows second 60 for a leap second; setUTCHours carries it into the next minute.
  if (hour > 23 || minute > 59 || second > 60 || offsetHours > 23 || offsetMinutes > 59) return Number.NaN;
  // m[7] is '' or '.' and 1–9 digits; milliseconds are its first three, truncated.
  const millis = Number((m[7] ?? '').slice(1).padEnd(3, '0').slice(0, 3));
  const offsetMs = (m[8] === '-' ? -1 : 1) * (offsetHours * 60 + offsetMinutes) * 60_000;
  const utc = new Date(0);
  utc.setUTCFullYear(year, month - 1, day); // Date.UTC would map years 0–99 to 1900–1999
  utc.setUTCHours(hour, minute, second, 0);
  return utc.getTime() + millis - offsetMs;
}

function isPositiveInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 1;
}

function checkShape(receipt: Record<string, unknown>): { receipt: Receipt; issuedMs: number } {
  // Own members only: a polluted Object.prototype must not supply a field the signature does not cover.
  const doc = ownMembers(receipt);
  if (doc.v !== 1) malformed('unsupported receipt version');
  if (doc.kind !== 'accepted' && doc.kind !== 'delivered') malformed('malformed receipt kind');
  if (typeof doc.id !== 'string' || !RECEIPT_ID.test(doc.id)) malformed('malformed receipt id');
  if (typeof doc.message_id !== 'string' || !MESSAGE_ID.test(doc.message_id)) malformed('malformed receipt message_id');
  if (!isTenantId(doc.tenant)) malformed('malformed receipt tenant');
  if (typeof doc.body_sha256 !== 'string' || !SHA256_HEX.test(doc.body_sha256)) malformed('malformed receipt body_sha256');
  const issuedMs = typeof doc.issued_at === 'string' ? parseDateTime(doc.issued_at) : Number.NaN;
  if (!Number.isFinite(issuedMs)) malformed('malformed receipt issued_at');
  if (doc.kind === 'delivered') {
    if (typeof doc.destination !== 'string' || !DESTINATION_ID.test(doc.destination)) malformed('malformed receipt destination');
    if (!isPositiveInteger(doc.attempt)) malformed('malformed receipt attempt');
    if (!isPositiveInteger(doc.status) || doc.status < 200 || doc.status > 299) malformed('malformed receipt status');
  } else if (DELIVERY_MEMBERS.some((name) => Object.hasOwn(doc, name))) {
    malformed('accepted receipt with delivery members');
  }
  if (!isJsonObject(doc.sig) || Object.keys(doc.sig).length !== 3) malformed('malformed receipt sig');
  const sig = ownMembers(doc.sig);
  if (sig.alg !== 'Ed25519') malformed('unsupported receipt sig.alg');
  if (!isWellFormedKid(sig.kid)) malformed('malformed receipt sig.kid');
  if (typeof sig.value !== 'string' || !SIGNATURE_VALUE.test(sig.value)) malformed('malformed receipt sig.value');
  return { receipt: receipt as unknown as Receipt, issuedMs };
}

// A fresh object holding exactly the JSON members of the input: own, enumerable, after toJSON,
// so what is checked below is what gets canonicalised and signed.
function toDocument(input: object | string): Record<string, unknown> {
  let text: string;
  if (typeof input === 'string') {
    text = input;
  } else {
    if (!isJsonObject(input)) malformed('receipt must be a JSON object or its text');
    try {
      text = canonicalize(input);
    } catch (cause) {
      malformed('receipt is not canonicalisable JSON', cause);
    }
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    malformed('receipt is not valid JSON', cause);
  }
  if (!isJsonObject(parsed)) malformed('receipt must be a JSON object');
  if (hasDuplicateNames(text, parsed)) malformed('receipt repeats a member name');
  return parsed;
}

/**
 * Verifies a signed receipt (DESIGN §5): an Ed25519 signature, by the key `sig.kid`, over the
 * RFC 8785 canonical JSON of the receipt without its `sig` member. Because the receipt is
 * re-canonicalised, one that was parsed and re-serialised (other whitespace, other member
 * order) still verifies.
 *
 * Checks, in order: the receipt's shape (`SP_VERIFY_MALFORMED_INPUT`), `issued_at` not more
 * than `maxFutureSeconds` ahead of `now` (`SP_VERIFY_STALE_TIMESTAMP`), `sig.kid` in the JWKS
 * (`SP_VERIFY_UNKNOWN_KEY`), the key valid when the receipt was issued, `nbf` ≤ `issued_at` ≤
 * `exp` (`SP_VERIFY_EXPIRED_KEY`), the signature (`SP_VERIFY_BAD_SIGNATURE`), and last the
 * receipt's `tenant` equal to `options.tenant` (`SP_VERIFY_TENANT_MISMATCH`, a
 * {@link TenantMismatchError}).
 *
 * The key's window is checked at `issued_at`, not at `now`: a receipt stays a proof after its
 * key is retired. Each tenant's keys are listed in
 * `/.well-known/sealpost/tenants/<tenant>/jwks.json` until 90 days after they are replaced, then
 * in `jwks-archive.json` beside it, which also lists the deployment-wide keys that signed
 * receipts before per-tenant keys (DESIGN §6). So an old receipt gives `SP_VERIFY_UNKNOWN_KEY`
 * against the live set and verifies against the archive; pass the archive (or both sets' keys
 * merged) to check receipts of any age offline.
 *
 * @param receipt - the receipt object, or its JSON text as fetched from `GET /v1/receipts/:id`.
 * @param jwks - your tenant's JWKS: the live set, the archive, or their keys merged.
 * @param options - `tenant` (required): your tenant id.
 * @throws {@link VerifyError} with one of the codes above.
 *
 * @example
 * ```ts
 * import { verifyReceipt } from '@sealpost/verify';
 *
 * const tenant = 'ten_01JDG3ZK8Q4W7N2M5R9T6V3X1Z';
 * const base = `https://relay.example.com/.well-known/sealpost/tenants/${tenant}`;
 * const live = await (await fetch(`${base}/jwks.json`)).json();
 * const archive = await (await fetch(`${base}/jwks-archive.json`)).json();
 * const { receipt } = verifyReceipt(receiptText, { keys: [...live.keys, ...archive.keys] }, { tenant });
 * console.log(receipt.kind, receipt.message_id, receipt.issued_at);
 * ```
 */
export function verifyReceipt(receipt: object | string, jwks: JwkSet, options: VerifyReceiptOptions): VerifiedReceipt {
  if (typeof options !== 'object' || options === null) malformed('options.tenant is required: your tenant id (ten_…)');
  const tenant = expectedTenant(options.tenant, 'options.tenant');
  const { now = new Date(), maxFutureSeconds = DEFAULT_MAX_FUTURE_SECONDS } = options;
  const nowMs = now instanceof Date ? now.getTime() : Number.NaN;
  if (!Number.isFinite(nowMs)) malformed('now must be a valid Date');
  if (typeof maxFutureSeconds !== 'number' || !(maxFutureSeconds >= 0)) malformed('maxFutureSeconds must be a non-negative number');

  const doc = toDocument(receipt);
  const { receipt: checked, issuedMs } = checkShape(doc);
  const { kid, value } = checked.sig;

  if (issuedMs - nowMs > maxFutureSeconds * 1000) throw new VerifyError('SP_VERIFY_STALE_TIMESTAMP', 'receipt issued_at is in the future');

  const resolved = resolveKey(jwks, kid);
  if (!isKeyValidAt(resolved, issuedMs / 1000)) throw new VerifyError('SP_VERIFY_EXPIRED_KEY', 'signing key not valid at issued_at');

  const { sig: _sig, ...unsigned } = doc;
  let signed: Buffer;
  try {
    signed = Buffer.from(canonicalize(unsigned), 'utf8');
  } catch (cause) {
    malformed('receipt is not canonicalisable JSON', cause);
  }
  if (!verify(null, signed, resolved.key, Buffer.from(value, 'base64url'))) {
    throw new VerifyError('SP_VERIFY_BAD_SIGNATURE', 'invalid signature');
  }
  checkTenant(tenant, checked.tenant);
  return { receipt: checked, kid, issuedAt: new Date(issuedMs) };
}
