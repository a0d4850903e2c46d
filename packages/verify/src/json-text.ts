// Helpers for JSON text received from the network. `hasDuplicateNames` is exported for
// tools that must refuse non-I-JSON input (RFC 7493 §2.3), such as `sealpost jcs`.
import { MAX_CANONICAL_DEPTH } from './canonical-json.js';

/**
 * Whether JSON text that parsed to `parsed` repeats a member name within an object.
 *
 * JSON.parse keeps the last of duplicate names and other parsers keep the first, so a
 * document with duplicates that verifies here could read differently elsewhere. Outside
 * strings every ':' separates exactly one member, so fewer parsed members than colons means
 * some name occurred twice. `text` must be the valid JSON that produced `parsed`. A value
 * nested deeper than {@link MAX_CANONICAL_DEPTH} counts as a duplicate: it cannot be
 * canonicalised anyway, and counting it would exhaust the stack.
 */
export function hasDuplicateNames(text: string, parsed: unknown): boolean {
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

// NaN (which equals no count) once deeper than MAX_CANONICAL_DEPTH.
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

/** A JSON object: not null, not an array. */
export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A null-prototype copy of the own members: reading a member never reaches Object.prototype. */
export function ownMembers(value: Record<string, unknown>): Record<string, unknown> {
  return Object.assign(Object.create(null) as Record<string, unknown>, value);
}
