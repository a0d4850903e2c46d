import { verify, type KeyObject } from 'node:crypto';
import { canonicalize } from './canonical-json.js';
import { VerifyError } from './errors.js';
import { hasDuplicateNames, isJsonObject } from './json-text.js';
import { isKeyValidAt, isWellFormedKid, resolveKey, type JwkSet } from './jwks.js';
import { checkTenant, expectedTenant } from './tenant.js';

/**
 * Request headers as frameworks hand them over: a fetch `Headers` (or anything with
 * `get(name)`), or a record such as Node's `IncomingHttpHeaders`. Record names are matched
 * case-insensitively.
 *
 * @example
 * ```ts
 * import type { WebhookHeaders } from '@sealpost/verify';
 * const fromNode: WebhookHeaders = req.headers; // node:http / Express / Fastify
 * const fromFetch: WebhookHeaders = request.headers; // fetch Request / Hono / Next.js
 * ```
 */
export type WebhookHeaders =
  | { get(name: string): string | null | undefined }
  | Readonly<Record<string, string | readonly string[] | undefined>>;

/**
 * The JSON envelope Sealpost forwards (DESIGN §4). Its content is authenticated once
 * {@link verifyWebhook} returns it; its exact members depend on `type` and `source.channel`.
 *
 * @example
 * ```ts
 * import type { WebhookEnvelope } from '@sealpost/verify';
 * const isMail = (e: WebhookEnvelope): boolean => e.type === 'email.received';
 * ```
 */
export interface WebhookEnvelope {
  readonly id: string;
  /**
   * `sealpost.test`: a destination's "send test event" from the console or API; it carries no payload.
   * `status.notice` and `status.subscription_confirmation`: a deployment's status page to its webhook
   * subscribers (source channel `system`), signed with the deployment tenant's key.
   */
  readonly type: 'payload.received' | 'email.received' | 'sealpost.test' | 'status.notice' | 'status.subscription_confirmation';
  /** Set (true) on test events only. */
  readonly test?: true;
  readonly tenant: string;
  readonly received_at: string;
  readonly source: Readonly<Record<string, unknown>> & { readonly channel: 'https' | 'smtp' | 'test' | 'system' };
  /** The JSON payload, or for e-mail its parsed fields. */
  readonly data: unknown;
  readonly attachments?: readonly {
    readonly id: string;
    readonly filename: string;
    readonly content_type: string;
    readonly size: number;
    readonly sha256: string;
    readonly url: string;
  }[];
}

/**
 * Arguments of {@link verifyWebhook}.
 *
 * @example
 * ```ts
 * import type { VerifyWebhookInput } from '@sealpost/verify';
 * const input: VerifyWebhookInput = { headers: req.headers, body: rawBody, jwks, tenant: 'ten_01JDG3ZK8Q4W7N2M5R9T6V3X1Z', toleranceSeconds: 300 };
 * ```
 */
export interface VerifyWebhookInput {
  readonly headers: WebhookHeaders;
  /** The body exactly as received (raw bytes, or their UTF-8 text); see {@link verifyWebhook} for re-serialised bodies. */
  readonly body: string | Uint8Array;
  /** Your tenant's JWKS: `/.well-known/sealpost/tenants/<tenant>/jwks.json` (the `jwks_url` of `GET /v1/signing-keys`). */
  readonly jwks: JwkSet;
  /** Your tenant id (`ten_…`). A request whose envelope names another tenant is refused, even with a valid signature. */
  readonly tenant: string;
  /** Largest accepted |now − webhook-timestamp| in seconds; default 300, as Standard Webhooks recommends. */
  readonly toleranceSeconds?: number;
  /** The current time; defaults to the system clock. */
  readonly now?: Date;
}

/**
 * What {@link verifyWebhook} returns for an authentic request.
 *
 * @example
 * ```ts
 * const { id, envelope } = verifyWebhook({ headers, body, jwks, tenant: 'ten_01JDG3ZK8Q4W7N2M5R9T6V3X1Z' });
 * if (await alreadyProcessed(id)) return; // delivery is at-least-once: de-duplicate on id
 * ```
 */
export interface VerifiedWebhook {
  /** `webhook-id`: the message id, stable across retries. */
  readonly id: string;
  /** `webhook-timestamp`, unix seconds. */
  readonly timestamp: number;
  /** The key that signed it. */
  readonly kid: string;
  /** The authenticated envelope. Use this, not a second parse of the body. */
  readonly envelope: WebhookEnvelope;
}

/** Standard Webhooks' recommended tolerance: five minutes either way. */
const DEFAULT_TOLERANCE_SECONDS = 300;
/** Each v1a signature costs an Ed25519 verification; more than this only serves to burn CPU. */
const MAX_V1A_SIGNATURES = 8;

// msg_ + a ULID: 26 Crockford base32 characters, the first ≤ 7 (48-bit timestamp).
const WEBHOOK_ID = /^msg_[0-7][0-9A-HJKMNP-TV-Z]{25}$/;
// Decimal unix seconds, no sign, no leading zero, no spaces; 12 digits reach year 33658.
const TIMESTAMP = /^(?:0|[1-9][0-9]{0,11})$/;
// Standard base64 with padding of a 64-byte Ed25519 signature: 85 free characters, then one
// whose low 4 bits are zero, then "==".
const V1A_SIGNATURE = /^[A-Za-z0-9+/]{85}[AQgw]==$/;

const utf8 = new TextDecoder('utf-8', { fatal: true });

function malformed(message: string): never {
  throw new VerifyError('SP_VERIFY_MALFORMED_INPUT', message);
}

function badSignature(): never {
  throw new VerifyError('SP_VERIFY_BAD_SIGNATURE', 'invalid signature');
}

function header(headers: WebhookHeaders, name: string): string | undefined {
  if (typeof headers.get === 'function') {
    const value: unknown = (headers as { get(name: string): unknown }).get(name);
    return typeof value === 'string' ? value : undefined;
  }
  const record = headers as Readonly<Record<string, unknown>>;
  let value: unknown = record[name];
  if (value === undefined) {
    let matches = 0;
    for (const key of Object.keys(record)) {
      if (key.toLowerCase() === name) {
        value = record[key];
        matches++;
      }
    }
    if (matches > 1) malformed(`${name} header given more than once`);
  }
  if (Array.isArray(value)) {
    if (value.length > 1) malformed(`${name} header given more than once`);
    value = value[0];
  }
  return typeof value === 'string' ? value : undefined;
}

function requiredHeader(headers: WebhookHeaders, name: string): string {
  const value = header(headers, name);
  if (value === undefined) malformed(`missing ${name} header`);
  return value;
}

// Standard Webhooks: a space-separated list of `<version>,<signature>`; versions other than
// v1a (the symmetric `v1`, future ones) are not ours to check and are skipped.
function v1aSignatures(value: string): Buffer[] {
  const signatures: Buffer[] = [];
  for (const entry of value.split(' ')) {
    if (entry === '') continue;
    const comma = entry.indexOf(',');
    if (comma <= 0) malformed('malformed webhook-signature header');
    if (entry.slice(0, comma) !== 'v1a') continue;
    const encoded = entry.slice(comma + 1);
    if (!V1A_SIGNATURE.test(encoded)) malformed('malformed v1a signature');
    if (signatures.length === MAX_V1A_SIGNATURES) malformed('too many v1a signatures');
    signatures.push(Buffer.from(encoded, 'base64'));
  }
  if (signatures.length === 0) malformed('no v1a signature in webhook-signature header');
  return signatures;
}

function anyVerifies(prefix: Buffer, body: Uint8Array, signatures: readonly Buffer[], key: KeyObject): boolean {
  const signed = Buffer.concat([prefix, body]);
  return signatures.some((signature) => verify(null, signed, key, signature));
}

function parseJson(bytes: Uint8Array): { text: string; value: unknown } | undefined {
  try {
    const text = utf8.decode(bytes);
    return { text, value: JSON.parse(text) };
  } catch {
    return undefined;
  }
}

/**
 * Verifies a request Sealpost forwarded to your endpoint (DESIGN §4): the Standard Webhooks
 * asymmetric scheme `v1a`, an Ed25519 signature over `<webhook-id>.<webhook-timestamp>.<body>`.
 *
 * Checks, in order: the headers' format (`SP_VERIFY_MALFORMED_INPUT`), the timestamp within
 * `toleranceSeconds` of `now` (`SP_VERIFY_STALE_TIMESTAMP`), the `sealpost-key-id` in the JWKS
 * (`SP_VERIFY_UNKNOWN_KEY`: fetch jwks.json again and retry once), the key valid at the
 * timestamp, `nbf` ≤ ts ≤ `exp` (`SP_VERIFY_EXPIRED_KEY`), and a signature that verifies
 * (`SP_VERIFY_BAD_SIGNATURE`), and last the envelope's `tenant` equal to `tenant`
 * (`SP_VERIFY_TENANT_MISMATCH`, a {@link TenantMismatchError}): a genuine request Sealpost
 * signed for another tenant, replayed to your endpoint, is refused. `webhook-signature` may list
 * several signatures: `v1,` (HMAC) and other versions are ignored, and one verifying `v1a`
 * signature is enough.
 *
 * Use your tenant's own JWKS (`/.well-known/sealpost/tenants/<tenant>/jwks.json`): each tenant's
 * requests are signed with that tenant's keys only.
 *
 * Pass the raw body. If your framework already parsed it, `JSON.stringify` it and pass that:
 * the body Sealpost signs is RFC 8785 canonical JSON, so when the bytes do not verify as given
 * they are parsed, canonicalised and checked once more. Then use the returned `envelope` rather
 * than your own parse of the body.
 *
 * @throws {@link VerifyError} with one of the codes above.
 *
 * @example
 * ```ts
 * import express from 'express';
 * import { verifyWebhook, isVerifyError } from '@sealpost/verify';
 *
 * const tenant = 'ten_01JDG3ZK8Q4W7N2M5R9T6V3X1Z'; // yours: GET /v1/signing-keys shows it
 * const jwks = await (await fetch(`https://relay.example.com/.well-known/sealpost/tenants/${tenant}/jwks.json`)).json();
 * app.post('/hooks/sealpost', express.raw({ type: 'application/json' }), (req, res) => {
 *   try {
 *     const { id, envelope } = verifyWebhook({ headers: req.headers, body: req.body, jwks, tenant });
 *     enqueue(id, envelope);
 *     res.sendStatus(204);
 *   } catch (err) {
 *     res.sendStatus(isVerifyError(err) ? 401 : 500);
 *   }
 * });
 * ```
 */
export function verifyWebhook(input: VerifyWebhookInput): VerifiedWebhook {
  const { headers, body, jwks, toleranceSeconds = DEFAULT_TOLERANCE_SECONDS, now = new Date() } = input;
  if (typeof headers !== 'object' || headers === null) malformed('headers must be an object');
  const tenant = expectedTenant(input.tenant, 'tenant');
  if (typeof toleranceSeconds !== 'number' || !(toleranceSeconds >= 0)) malformed('toleranceSeconds must be a non-negative number');
  const nowMs = now instanceof Date ? now.getTime() : Number.NaN;
  if (!Number.isFinite(nowMs)) malformed('now must be a valid Date');

  const id = requiredHeader(headers, 'webhook-id');
  if (!WEBHOOK_ID.test(id)) malformed('malformed webhook-id header');
  const timestampText = requiredHeader(headers, 'webhook-timestamp');
  if (!TIMESTAMP.test(timestampText)) malformed('malformed webhook-timestamp header');
  const kid = requiredHeader(headers, 'sealpost-key-id');
  if (!isWellFormedKid(kid)) malformed('malformed sealpost-key-id header');
  const signatures = v1aSignatures(requiredHeader(headers, 'webhook-signature'));
  let bodyBytes: Uint8Array;
  if (typeof body === 'string') bodyBytes = Buffer.from(body, 'utf8');
  else if (body instanceof Uint8Array) bodyBytes = body;
  else malformed('body must be a string, Buffer or Uint8Array');

  const timestamp = Number(timestampText);
  if (Math.abs(Math.floor(nowMs / 1000) - timestamp) > toleranceSeconds) {
    throw new VerifyError('SP_VERIFY_STALE_TIMESTAMP', 'webhook-timestamp outside the tolerance');
  }

  const resolved = resolveKey(jwks, kid);
  if (!isKeyValidAt(resolved, timestamp)) throw new VerifyError('SP_VERIFY_EXPIRED_KEY', 'signing key not valid at webhook-timestamp');

  const prefix = Buffer.from(`${id}.${timestampText}.`, 'utf8');
  if (anyVerifies(prefix, bodyBytes, signatures, resolved.key)) {
    const envelope = parseJson(bodyBytes)?.value;
    if (!isJsonObject(envelope)) malformed('body is not a JSON object');
    checkTenant(tenant, envelope.tenant);
    return { id, timestamp, kid, envelope: envelope as unknown as WebhookEnvelope };
  }

  // DESIGN §4: a receiver that parsed and re-serialised the body can re-canonicalise it.
  const json = parseJson(bodyBytes);
  const parsed = json?.value;
  if (json === undefined || !isJsonObject(parsed)) badSignature();
  let canonical: Buffer;
  try {
    canonical = Buffer.from(canonicalize(parsed), 'utf8');
  } catch {
    badSignature();
  }
  if (canonical.equals(bodyBytes)) badSignature();
  if (hasDuplicateNames(json.text, parsed)) badSignature();
  if (!anyVerifies(prefix, canonical, signatures, resolved.key)) badSignature();
  checkTenant(tenant, parsed.tenant);
  return { id, timestamp, kid, envelope: parsed as unknown as WebhookEnvelope };
}
