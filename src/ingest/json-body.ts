import { SealpostError } from '../errors/sealpost-error.js';

/** Deeper input only serves to exhaust the parser and every consumer after it. */
export const MAX_JSON_DEPTH = 64;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/**
 * Decodes and parses a JSON body, refusing what RFC 8259, I-JSON (RFC 7493) or our limits do
 * not allow, with an error that says which rule failed: bytes that are not UTF-8 (§8.1),
 * nesting deeper than MAX_JSON_DEPTH (checked on the text before parsing, so a hostile body
 * never reaches JSON.parse), syntax errors, and members that JSON.parse would silently change
 * before we sign them (a repeated member name, an integer beyond ±(2^53−1)). Payloads must be
 * JSON objects, the envelope's `data`. Values canonical JSON cannot encode at all (lone
 * surrogates, 1e400) are refused when the envelope is canonicalised (`unrepresentable`).
 */
export function parseJsonBody(bytes: Buffer): Record<string, unknown> {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw new SealpostError('SP_ERR_INGEST_NOT_UTF8', 'The body is not valid UTF-8');
  }
  const scan = scanJson(text);
  if (scan.tooDeep) {
    throw new SealpostError('SP_ERR_INGEST_TOO_DEEP', `JSON is nested more than ${MAX_JSON_DEPTH} levels deep; the limit is ${MAX_JSON_DEPTH}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new SealpostError('SP_ERR_INGEST_INVALID_JSON', `The body is not valid JSON: ${(err as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new SealpostError('SP_ERR_INGEST_INVALID_JSON', 'The payload must be a JSON object');
  }
  // Reported only once the text is known to be valid JSON: on invalid text the scan's findings mean nothing.
  if (scan.problem) throw unrepresentable(scan.problem.pointer, scan.problem.reason);
  return value as Record<string, unknown>;
}

/** The error for a member Sealpost cannot sign exactly; `pointer` is an RFC 6901 JSON Pointer into the payload. */
export function unrepresentable(pointer: string, reason: string): SealpostError {
  return new SealpostError('SP_ERR_INGEST_JSON_UNREPRESENTABLE', `The member at "${pointer || '/'}" cannot be signed exactly: ${reason}`);
}

/**
 * Where canonical JSON (RFC 8785 §3.2.2) cannot encode a value: a lone surrogate in a string
 * or a member name, or a number that is not finite (JSON text such as 1e400 parses to
 * Infinity). Walks the value only when canonicalisation already failed, to name the member.
 */
export function findUnencodable(value: unknown, pointer = ''): { pointer: string; reason: string } | undefined {
  if (typeof value === 'string') return value.isWellFormed() ? undefined : { pointer, reason: 'a string holds a lone UTF-16 surrogate' };
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : { pointer, reason: 'the number is out of the range of IEEE 754 doubles' };
  if (typeof value !== 'object' || value === null) return undefined;
  const entries: [string, unknown][] = Array.isArray(value) ? value.map((v, i) => [String(i), v]) : Object.entries(value);
  for (const [name, member] of entries) {
    const at = `${pointer}/${escapePointer(name)}`;
    if (!name.isWellFormed()) return { pointer: at, reason: 'the member name holds a lone UTF-16 surrogate' };
    const found = findUnencodable(member, at);
    if (found) return found;
  }
  return undefined;
}

declare global {
  // Node 20 has these (V8 11.3); TypeScript's ES2023 lib does not declare them yet.
  interface String {
    isWellFormed(): boolean;
  }
}

function escapePointer(name: string): string {
  return name.replace(/~/g, '~0').replace(/\//g, '~1');
}

type Frame = { readonly kind: 'object'; readonly names: Set<string>; name: string; expectName: boolean } | { readonly kind: 'array'; index: number };

export interface Scan {
  readonly tooDeep: boolean;
  readonly problem?: { readonly pointer: string; readonly reason: string };
}

const INTEGER_LITERAL = /^-?\d+$/;

// Character codes the scan dispatches on: charCodeAt and a switch, not a regex per character,
// because the scan runs over every byte of every body (it was 5 % of ingest CPU written with regexes).
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;
const MINUS = 0x2d;

function isNumberChar(c: number): boolean {
  // 0-9 e E + . -
  return (c >= 0x30 && c <= 0x39) || c === 0x65 || c === 0x45 || c === 0x2b || c === 0x2e || c === MINUS;
}

function isWhitespace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

/**
 * One pass over JSON text, before JSON.parse: nesting depth (stops past MAX_JSON_DEPTH), and
 * the first member JSON.parse would change silently. The text may be invalid JSON; the scan
 * then never throws and its result is disregarded.
 */
export function scanJson(text: string): Scan {
  const stack: Frame[] = [];
  let problem: Scan['problem'];
  const pointer = (last?: string): string => {
    const parts = stack.map((f) => (f.kind === 'object' ? escapePointer(f.name) : String(f.index)));
    if (last !== undefined) parts[parts.length - 1] = escapePointer(last);
    return parts.length ? `/${parts.join('/')}` : '';
  };
  const length = text.length;
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i);
    // Never stack[-1]: on an empty stack that is a named-property lookup, tens of ns per character.
    const top = stack.length > 0 ? stack[stack.length - 1] : undefined;
    switch (c) {
      case QUOTE: {
        const start = i;
        let escaped = false;
        for (i++; i < length; i++) {
          const s = text.charCodeAt(i);
          if (s === QUOTE) break;
          if (s === BACKSLASH) {
            escaped = true;
            i++;
          }
        }
        if (top?.kind === 'object' && top.expectName && !problem) {
          const name = escaped ? parseName(text.slice(start, i + 1)) : text.slice(start + 1, i);
          if (name !== undefined) {
            if (top.names.has(name)) problem = { pointer: pointer(name), reason: 'the member name is repeated in its object (RFC 7493 §2.3)' };
            top.names.add(name);
            top.name = name;
          }
        }
        break;
      }
      case OPEN_OBJECT:
      case OPEN_ARRAY:
        if (stack.length >= MAX_JSON_DEPTH) return { tooDeep: true };
        stack.push(c === OPEN_OBJECT ? { kind: 'object', names: new Set(), name: '', expectName: true } : { kind: 'array', index: 0 });
        break;
      case CLOSE_OBJECT:
      case CLOSE_ARRAY:
        stack.pop();
        break;
      case COMMA:
        if (top?.kind === 'array') top.index++;
        else if (top) top.expectName = true;
        break;
      case COLON:
        if (top?.kind === 'object') top.expectName = false;
        break;
      default:
        if (c === MINUS || (c >= 0x30 && c <= 0x39)) {
          const start = i;
          while (i + 1 < length && isNumberChar(text.charCodeAt(i + 1))) i++;
          // Only integer literals claim exactness; beyond 2^53 a double rounds them (RFC 7493 §2.2).
          if (!problem && i + 1 - start > 15) {
            const literal = text.slice(start, i + 1);
            if (INTEGER_LITERAL.test(literal) && !Number.isSafeInteger(Number(literal))) {
              problem = { pointer: pointer(), reason: 'the integer is beyond ±(2^53−1) and would be rounded; send it as a string' };
            }
          }
        } else if (!isWhitespace(c)) {
          // true, false, null: skip the word.
          while (i + 1 < length && text.charCodeAt(i + 1) >= 0x61 && text.charCodeAt(i + 1) <= 0x7a) i++;
        }
    }
  }
  return problem ? { tooDeep: false, problem } : { tooDeep: false };
}

function parseName(token: string): string | undefined {
  try {
    return JSON.parse(token) as string;
  } catch {
    return undefined;
  }
}
