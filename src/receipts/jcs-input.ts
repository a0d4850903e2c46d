import { canonicalizeToBuffer, hasDuplicateNames, isVerifyError } from '@sealpost/verify';

/** Why a JSON text has no RFC 8785 canonical form; the message is for the person debugging. */
export class JcsInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JcsInputError';
  }
}

// ignoreBOM keeps a leading U+FEFF in the text, so it is refused below rather than silently dropped.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * The RFC 8785 canonical form of JSON text given as bytes (`sealpost jcs`). The input must be
 * I-JSON (RFC 7493, which RFC 8785 §3.1 requires): UTF-8 without a byte order mark, no repeated
 * member names, no lone surrogates, numbers within IEEE 754 double range.
 *
 * @throws {JcsInputError} saying what is wrong with the input.
 */
export function canonicalizeJsonText(input: Uint8Array): Buffer {
  let text: string;
  try {
    text = utf8.decode(input);
  } catch {
    throw new JcsInputError('input is not valid UTF-8');
  }
  if (text.startsWith('\ufeff')) throw new JcsInputError('input starts with a byte order mark (U+FEFF); JSON text must not (RFC 8259 §8.1)');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const reason = err instanceof RangeError ? 'nested too deeply' : (err as Error).message;
    throw new JcsInputError(`invalid JSON: ${reason}`);
  }
  // Canonicalise first: it refuses values nested too deeply, which the duplicate-name check
  // (a count over the whole value) must not walk.
  let canonical: Buffer;
  try {
    canonical = canonicalizeToBuffer(value);
  } catch (err) {
    if (isVerifyError(err)) {
      const reason = err.code === 'SP_VERIFY_JCS_NON_FINITE' ? 'a number is outside the IEEE 754 double range (RFC 8785 §3.2.2.3)' : err.message;
      throw new JcsInputError(`${reason} (${err.code})`);
    }
    throw err;
  }
  if (hasDuplicateNames(text, value)) throw new JcsInputError('an object repeats a member name (I-JSON, RFC 7493 §2.3)');
  return canonical;
}
