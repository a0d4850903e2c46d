import { sign } from 'node:crypto';
import type { AcceptedReceipt, DeliveredReceipt, Receipt } from '@sealpost/verify';
import { canonicalJson } from '../crypto/canonical-json.js';
import type { ActiveSigningKey } from '../crypto/signing-key.js';
import { SealpostError } from '../errors/sealpost-error.js';
import { newId } from '../crypto/ids.js';

export type { AcceptedReceipt, DeliveredReceipt, Receipt } from '@sealpost/verify';

/** A receipt before it is signed: everything the signature covers (DESIGN §5). */
export type UnsignedReceipt = Omit<AcceptedReceipt, 'sig'> | Omit<DeliveredReceipt, 'sig'>;

export interface AcceptedReceiptInput {
  readonly tenantId: string;
  /** The payload's id, `msg_<ULID>`: the `webhook-id` of its deliveries. */
  readonly messageId: string;
  /** Hex SHA-256 of the canonical envelope. */
  readonly bodySha256: string;
  /** Milliseconds since the epoch. */
  readonly issuedAt: number;
}

export interface DeliveredReceiptInput extends AcceptedReceiptInput {
  readonly destinationId: string;
  /** 1 for the first attempt. */
  readonly attempt: number;
  /** The destination's 2xx answer. */
  readonly status: number;
}

// The formats @sealpost/verify accepts; a receipt that would not verify is never issued.
const ULID = '[0-7][0-9A-HJKMNP-TV-Z]{25}';
const MESSAGE_ID = new RegExp(`^msg_${ULID}$`);
const TENANT_ID = /^ten_[0-9A-Za-z]{1,64}$/;
const DESTINATION_ID = /^dst_[0-9A-Za-z]{1,64}$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;

function invalid(field: string): never {
  throw new SealpostError('SP_ERR_RECEIPT_INVALID', 'A receipt could not be issued', { logDetail: { field } });
}

function base(kind: 'accepted' | 'delivered', input: AcceptedReceiptInput): Omit<UnsignedReceipt, 'kind'> & { kind: typeof kind } {
  if (!TENANT_ID.test(input.tenantId)) invalid('tenant');
  if (!MESSAGE_ID.test(input.messageId)) invalid('message_id');
  if (!SHA256_HEX.test(input.bodySha256)) invalid('body_sha256');
  if (!Number.isSafeInteger(input.issuedAt) || input.issuedAt < 0) invalid('issued_at');
  return {
    v: 1,
    kind,
    id: newId('receipt', input.issuedAt),
    message_id: input.messageId,
    tenant: input.tenantId,
    body_sha256: input.bodySha256,
    issued_at: new Date(input.issuedAt).toISOString(),
  };
}

export function acceptedReceipt(input: AcceptedReceiptInput): Omit<AcceptedReceipt, 'sig'> {
  return { ...base('accepted', input), kind: 'accepted' };
}

export function deliveredReceipt(input: DeliveredReceiptInput): Omit<DeliveredReceipt, 'sig'> {
  if (!DESTINATION_ID.test(input.destinationId)) invalid('destination');
  if (!Number.isSafeInteger(input.attempt) || input.attempt < 1) invalid('attempt');
  if (!Number.isInteger(input.status) || input.status < 200 || input.status > 299) invalid('status');
  const { issued_at, ...rest } = base('delivered', input);
  return { ...rest, kind: 'delivered', destination: input.destinationId, attempt: input.attempt, status: input.status, issued_at };
}

/**
 * Signs a receipt (DESIGN §5): `sig.value` is the base64url Ed25519 signature over the RFC 8785
 * canonical JSON of the receipt without its `sig` member.
 */
export function signReceipt<R extends UnsignedReceipt>(unsigned: R, key: ActiveSigningKey): R & { sig: Receipt['sig'] } {
  const value = sign(null, canonicalJson(unsigned), key.privateKey).toString('base64url');
  return { ...unsigned, sig: { alg: 'Ed25519', kid: key.kid, value } };
}
