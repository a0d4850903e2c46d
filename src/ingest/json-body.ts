import { SealpostError } from '../errors/sealpost-error.js';

/** Deeper input only serves to exhaust the parser and every consumer after it. */
export const MAX_JSON_DEPTH = 64;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/**
 * Decodes and parses a JSON body, refusing what RFC 8259 or our limits do not allow, with an
 * error that says which rule failed: bytes that are not UTF-8 (§8.1), nesting deeper than
 * MAX_JSON_DEPTH (checked on the text before parsing, so a hostile body never reaches
 * JSON.parse), and syntax errors. Payloads must be JSON objects, the envelope's `data`.
 */
export function parseJsonBody(bytes: Buffer): Record<string, unknown> {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw new SealpostError('SP_ERR_INGEST_NOT_UTF8', 'The body is not valid UTF-8');
  }
  const depth = maxNesting(text);
  if (depth > MAX_JSON_DEPTH) {
    throw new SealpostError('SP_ERR_INGEST_TOO_DEEP', `JSON is nested ${depth > 10_000 ? 'more than 10000' : depth} levels deep; the limit is ${MAX_JSON_DEPTH}`);
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
  return value as Record<string, unknown>;
}

/** Deepest array/object nesting in JSON text, skipping string contents. Stops counting past 10,000. */
function maxNesting(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      depth++;
      if (depth > max) max = depth;
      if (max > 10_000) return max;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return max;
}
