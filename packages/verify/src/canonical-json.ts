import { JcsError } from './errors.js';

/**
 * Objects and arrays nested deeper than this are refused. JSON.parse accepts any depth, and
 * without a bound a hostile body would end in a RangeError from the stack instead of a typed
 * error; 1,000 is far beyond any envelope Sealpost signs. A circular value also ends here.
 *
 * @example
 * ```ts
 * import { MAX_CANONICAL_DEPTH } from '@sealpost/verify';
 * console.log(MAX_CANONICAL_DEPTH); // 1000
 * ```
 */
export const MAX_CANONICAL_DEPTH = 1000;

// String.prototype.isWellFormed is in Node 20 (V8 11.3) but not in TypeScript's ES2023 lib.
interface MaybeWellFormed {
  isWellFormed(): boolean;
}

// JS `<` on strings compares UTF-16 code units, which is the RFC 8785 §3.2.3 order. Member
// names of one object are distinct, so equality never occurs.
function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : 1;
}

// Strings with none of these need no escaping and cannot hold a lone surrogate, so they skip
// both checks below: one native regex scan instead of two passes.
// eslint-disable-next-line no-control-regex -- control characters are exactly what must be escaped
const NEEDS_CARE = /["\\\u0000-\u001f\ud800-\udfff]/;

function quote(s: string): string {
  if (!NEEDS_CARE.test(s)) return '"' + s + '"';
  // RFC 8785 §3.2.2.2: lone surrogates cannot be represented as UTF-8 and must be rejected.
  if (!(s as unknown as MaybeWellFormed).isWellFormed()) {
    throw new JcsError('SP_VERIFY_JCS_LONE_SURROGATE', 'lone surrogate in string');
  }
  // JSON.stringify escapes exactly as RFC 8785 §3.2.2.2 prescribes (ECMA-262 QuoteJSONString).
  return JSON.stringify(s);
}

function unsupported(what: string): never {
  throw new JcsError('SP_VERIFY_JCS_UNSUPPORTED', `${what} has no JSON form`);
}

function isBoxedPrimitive(value: object): boolean {
  return (
    value instanceof Number || value instanceof String || value instanceof Boolean || value instanceof BigInt || value instanceof Symbol
  );
}

function serialize(value: unknown, depth: number): string {
  switch (typeof value) {
    case 'string':
      return quote(value);
    case 'number':
      if (!Number.isFinite(value)) throw new JcsError('SP_VERIFY_JCS_NON_FINITE', 'NaN and Infinity are not allowed');
      // RFC 8785 §3.2.2.3 is ECMAScript Number::toString; String(-0) is "0" as required.
      return String(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object':
      return value === null ? 'null' : serializeObject(value, depth);
    default:
      return unsupported(typeof value);
  }
}

function serializeObject(value: object, depth: number): string {
  if (depth >= MAX_CANONICAL_DEPTH) {
    throw new JcsError('SP_VERIFY_JCS_TOO_DEEP', `nested deeper than ${MAX_CANONICAL_DEPTH} levels, or circular`);
  }
  // As the reference implementation (canonicalize@4) does: toJSON is called without a key,
  // and what it returns is canonicalised in turn (Date becomes its ISO string).
  const toJSON: unknown = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') return serialize(toJSON.call(value), depth + 1);

  if (Array.isArray(value)) {
    const length = value.length;
    if (length === 0) return '[]';
    let out = '[';
    for (let i = 0; i < length; i++) {
      const item: unknown = value[i];
      if (i > 0) out += ',';
      // undefined and holes become null, as in JSON.stringify.
      out += item === undefined ? 'null' : serialize(item, depth + 1);
    }
    return out + ']';
  }

  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null && isBoxedPrimitive(value)) unsupported('a boxed primitive');

  const keys = Object.keys(value);
  // Input that was canonical already (the common case when re-verifying) skips the sort.
  for (let i = 1; i < keys.length; i++) {
    if ((keys[i - 1] as string) > (keys[i] as string)) {
      keys.sort(byCodeUnits);
      break;
    }
  }
  let out = '{';
  for (const key of keys) {
    const member: unknown = (value as Record<string, unknown>)[key];
    // Members whose value is undefined are left out, as in JSON.stringify.
    if (member === undefined) continue;
    if (out.length > 1) out += ',';
    out += quote(key);
    out += ':';
    out += serialize(member, depth + 1);
  }
  return out + '}';
}

/**
 * Serialises a JSON value as RFC 8785 (JSON Canonicalization Scheme) text: members sorted by
 * UTF-16 code units, numbers as ECMAScript prints them, strings escaped minimally, no
 * whitespace. Byte-identical to the `canonicalize` npm package (by the RFC's author) for every
 * value that package handles correctly, and faster.
 *
 * Where the reference prints something that is not JSON, or silently drops data, this throws
 * instead: functions, symbols, bigints and boxed primitives (`SP_VERIFY_JCS_UNSUPPORTED`), a
 * `toJSON` that returns one of those or `undefined`, and circular or over-deep values
 * (`SP_VERIFY_JCS_TOO_DEEP`, see {@link MAX_CANONICAL_DEPTH}). Array holes become `null`, as
 * in `JSON.stringify`. Lone surrogates throw `SP_VERIFY_JCS_LONE_SURROGATE` and NaN or
 * ±Infinity throw `SP_VERIFY_JCS_NON_FINITE`, as RFC 8785 requires. Object members whose value
 * is `undefined` are skipped, and `toJSON` is honoured, both as the reference does.
 *
 * @param value - a JSON value (typically the result of `JSON.parse`, or plain objects).
 * @returns the canonical JSON text; encode it as UTF-8 before hashing or signing.
 * @throws {@link JcsError} for a value RFC 8785 cannot represent.
 *
 * @example
 * ```ts
 * import { canonicalize } from '@sealpost/verify';
 * canonicalize({ b: [1e21, -0, 'é'], a: null }); // '{"a":null,"b":[1e+21,0,"é"]}'
 * ```
 */
export function canonicalize(value: unknown): string {
  if (value === undefined) unsupported('undefined');
  return serialize(value, 0);
}

/**
 * {@link canonicalize}, encoded as UTF-8: the exact bytes Sealpost hashes and signs.
 *
 * @throws {@link JcsError} for a value RFC 8785 cannot represent.
 *
 * @example
 * ```ts
 * import { createHash } from 'node:crypto';
 * import { canonicalizeToBuffer } from '@sealpost/verify';
 * const digest = createHash('sha256').update(canonicalizeToBuffer(envelope)).digest('hex');
 * ```
 */
export function canonicalizeToBuffer(value: unknown): Buffer {
  return Buffer.from(canonicalize(value), 'utf8');
}
