import { canonicalizeToBuffer } from '@sealpost/verify';

/**
 * RFC 8785 (JCS) canonical JSON of a value, as UTF-8 bytes: the exact bytes that are signed
 * and forwarded. The implementation lives in @sealpost/verify so that customers' verifier and
 * our signer cannot disagree; its property tests hold it byte-identical to the reference
 * `canonicalize` package.
 */
export function canonicalJson(value: unknown): Buffer {
  return canonicalizeToBuffer(value);
}
