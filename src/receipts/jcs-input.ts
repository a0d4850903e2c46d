import { canonicalizeToBuffer, isVerifyError, MAX_CANONICAL_DEPTH } from '@sealpost/verify';

/** Why a JSON text has no RFC 8785 canonical form; the message is for the person debugging. */
export class JcsInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JcsInputError';
  }
}

// ignoreBOM keeps a leading U+FEFF in the text, so it is refused below rather than silently dropped.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Members (by name) in a parsed value, or NaN deeper than the canonicaliser goes. */
function countMembers(value: unknown, depth: number): number {
  if (typeof value !== 'object' || value === null) return 0;
  if (depth >= MAX_CANONICAL_DEPTH) return Number.NaN;
  let count = 0;
  if (Array.isArray(value)) {
    for (const item of value as unknown[]) count += countMembers(item, depth + 1);
    return count;
  }
  for (const key of Object.keys(value)) count += 1 + countMembers((value as Record<string, unknown>)[key], depth + 1);
  return count;
}

/**
 * Whether valid JSON text repeats a member name in an object. Outside strings every ':'
 * separates exactly one member, so fewer parsed members than colons means a name occurred
 * twice (JSON.parse silently keeps the last).
 */
function repeatsMemberName(text: string, parsed: unknown): boolean {
  let colons = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x3a) colons++;
  }
  return colons !== countMembers(parsed, 0);
}

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
  if (repeatsMemberName(text, value)) {
    throw new JcsInputError(
      Number.isNaN(countMembers(value, 0)) ? `JSON nested deeper than ${MAX_CANONICAL_DEPTH} levels` : 'an object repeats a member name (I-JSON, RFC 7493 §2.3)',
    );
  }
  try {
    return canonicalizeToBuffer(value);
  } catch (err) {
    if (isVerifyError(err)) {
      const reason = err.code === 'SP_VERIFY_JCS_NON_FINITE' ? 'a number is outside the IEEE 754 double range (RFC 8785 §3.2.2.3)' : err.message;
      throw new JcsInputError(`${reason} (${err.code})`);
    }
    throw err;
  }
}
