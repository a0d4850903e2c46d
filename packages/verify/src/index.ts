/**
 * `@sealpost/verify`: verify what Sealpost sends you, with nothing but node:crypto.
 *
 * - {@link verifyWebhook}: a forwarded request (Standard Webhooks `v1a`, Ed25519).
 * - {@link verifyReceipt}: an `accepted` or `delivered` receipt.
 * - {@link canonicalize}: RFC 8785 canonical JSON, the form Sealpost signs.
 *
 * @example
 * ```ts
 * import { verifyWebhook, verifyReceipt } from '@sealpost/verify';
 * const tenant = 'ten_01JDG3ZK8Q4W7N2M5R9T6V3X1Z'; // yours; jwks from /.well-known/sealpost/tenants/<tenant>/jwks.json
 * const { envelope } = verifyWebhook({ headers: req.headers, body: rawBody, jwks, tenant });
 * const { receipt } = verifyReceipt(receiptJson, jwks, { tenant });
 * ```
 *
 * @packageDocumentation
 */
export { canonicalize, canonicalizeToBuffer, MAX_CANONICAL_DEPTH } from './canonical-json.js';
export { isVerifyError, JcsError, TenantMismatchError, VERIFY_ERROR_CODES, VerifyError, type JcsErrorCode, type VerifyErrorCode } from './errors.js';
export { isKeyValidAt, isWellFormedKid, resolveKey, type Ed25519Jwk, type JwkSet, type ResolvedKey } from './jwks.js';
export {
  verifyReceipt,
  type AcceptedReceipt,
  type DeliveredReceipt,
  type Receipt,
  type ReceiptSignature,
  type VerifiedReceipt,
  type VerifyReceiptOptions,
} from './receipt.js';
export {
  verifyWebhook,
  type VerifiedWebhook,
  type VerifyWebhookInput,
  type WebhookEnvelope,
  type WebhookHeaders,
} from './webhook.js';
export { EMPTY_TREE_ROOT, hashChildren, hashLeaf, MERKLE_HASH_BYTES, verifyConsistency, verifyInclusion } from './merkle.js';
export {
  CHECKPOINT_SEQUENCE_EXTENSION,
  isNoteKeyName,
  noteKeyId,
  parseCheckpointBody,
  parseVerifierKey,
  verifyCheckpoint,
  type LogVerifierKey,
  type VerifiedCheckpoint,
} from './checkpoint.js';
export { ED25519_PUBLIC_KEY_BYTES, ed25519PublicKey, rawEd25519PublicKey } from './ed25519.js';
export { verifyAuditExport, type ExportedAuditEvent, type VerifiedAuditExport } from './audit-export.js';
export {
  EVIDENCE_FORMAT,
  EVIDENCE_MANIFEST,
  EVIDENCE_SIGNATURE,
  evidenceSignedBytes,
  readEvidenceArchive,
  verifyEvidenceBundle,
  type EvidenceManifest,
} from './evidence.js';
export { hasDuplicateNames } from './json-text.js';
