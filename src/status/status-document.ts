import { createHash } from 'node:crypto';
import { canonicalJson } from '../crypto/canonical-json.js';

/** A signature as receipts and drill reports carry it: Ed25519 over the canonical JSON of the document without `sig`. */
export interface DocumentSignature {
  readonly alg: 'Ed25519';
  /** The audit log key's id (`alk_…`); its public key is /.well-known/sealpost-log-key. */
  readonly kid: string;
  readonly value: string;
}

/** Signs canonical bytes with the deployment's audit log key (built in src/app/status-services.ts). */
export type LogKeySigner = (bytes: Buffer) => Promise<DocumentSignature>;

export interface SignedDocument {
  /** The document with its `sig` member, RFC 8785 canonical JSON: what is stored and served. */
  readonly text: string;
  /** SHA-256 (hex) of `text`: what the audit event records, so the log commits to the exact document. */
  readonly sha256: string;
}

/**
 * Signs a status document (DESIGN §5's receipt rule, with the log key): `sig.value` is Ed25519
 * over the RFC 8785 canonical JSON of the object without its `sig` member. Anyone verifies it
 * with @sealpost/verify (`parseVerifierKey`, `canonicalize`) and node:crypto or openssl.
 */
export async function signDocument(unsigned: Record<string, unknown>, sign: LogKeySigner): Promise<SignedDocument> {
  const sig = await sign(canonicalJson(unsigned));
  const text = canonicalJson({ ...unsigned, sig }).toString('utf8');
  return { text, sha256: createHash('sha256').update(text).digest('hex') };
}
