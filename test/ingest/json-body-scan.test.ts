import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_JSON_DEPTH, scanJson, type Scan } from '../../src/ingest/json-body.js';

// The scanner as first written (a regex per character), kept as the reference that the faster
// one must agree with on every text, valid JSON or not.
function escapePointer(name: string): string {
  return name.replace(/~/g, '~0').replace(/\//g, '~1');
}

type Frame = { readonly kind: 'object'; readonly names: Set<string>; name: string; expectName: boolean } | { readonly kind: 'array'; index: number };

const WHITESPACE = /[ \t\n\r]/;
const INTEGER_LITERAL = /^-?\d+$/;

function referenceScan(text: string): Scan {
  const stack: Frame[] = [];
  let problem: Scan['problem'];
  const pointer = (last?: string): string => {
    const parts = stack.map((f) => (f.kind === 'object' ? escapePointer(f.name) : String(f.index)));
    if (last !== undefined) parts[parts.length - 1] = escapePointer(last);
    return parts.length ? `/${parts.join('/')}` : '';
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    const top = stack[stack.length - 1];
    if (c === '"') {
      const start = i;
      let escaped = false;
      for (i++; i < text.length && text[i] !== '"'; i++) {
        if (text[i] === '\\') {
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
    } else if (c === '{' || c === '[') {
      if (stack.length >= MAX_JSON_DEPTH) return { tooDeep: true };
      stack.push(c === '{' ? { kind: 'object', names: new Set(), name: '', expectName: true } : { kind: 'array', index: 0 });
    } else if (c === '}' || c === ']') {
      stack.pop();
    } else if (c === ',') {
      if (top?.kind === 'array') top.index++;
      else if (top) top.expectName = true;
    } else if (c === ':') {
      if (top?.kind === 'object') top.expectName = false;
    } else if (c === '-' || (c >= '0' && c <= '9')) {
      const start = i;
      while (i + 1 < text.length && /[0-9eE+.-]/.test(text[i + 1]!)) i++;
      const literal = text.slice(start, i + 1);
      // Only integer literals claim exactness; beyond 2^53 a double rounds them (RFC 7493 §2.2).
      if (!problem && literal.length > 15 && INTEGER_LITERAL.test(literal) && !Number.isSafeInteger(Number(literal))) {
        problem = { pointer: pointer(), reason: 'the integer is beyond ±(2^53−1) and would be rounded; send it as a string' };
      }
    } else if (!WHITESPACE.test(c)) {
      // true, false, null: skip the word.
      while (i + 1 < text.length && /[a-z]/.test(text[i + 1]!)) i++;
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

// Texts that reach the scanner's corners: escaped quotes and backslash runs in names, repeated
// names, long integers, literals, whitespace, and cut-off or garbled JSON.
const jsonText = fc.oneof(
  fc.json({ maxDepth: 6 }),
  fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v, null, 2)),
  fc
    .tuple(fc.array(fc.constantFrom('a', 'b', '\\"', '\\\\', '\\u0061', '~', '/', 'é'), { maxLength: 4 }), fc.constantFrom('1', '12345678901234567890', '-9007199254740993', 'true', 'null', '"x\\""', '[1,{"a":2}]'))
    .map(([parts, value]) => { const name = parts.join(''); return `{"${name}":${value},"${name}":${value}, "z" : [ ${value} ]}`; }),
  fc.tuple(fc.json({ maxDepth: 3 }), fc.nat(), fc.string({ maxLength: 3 })).map(([text, at, junk]) => text.slice(0, at % (text.length + 1)) + junk),
);

describe('the JSON body scanner', () => {
  it('finds what the reference scanner finds on any text, valid JSON or not', () => {
    fc.assert(
      fc.property(jsonText, (text) => {
        expect(scanJson(text)).toEqual(referenceScan(text));
      }),
      { numRuns: 3000 },
    );
  });

  it('names a repeated member whose escapes differ, and an unsafe integer, as the reference does', () => {
    for (const text of ['{"a/b~":1,"a\\/b~":2}', '{"items":[{"x":1},{"x":-9007199254740993}]}', '{"q\\"":1,"q\\"":2}', '{"\\\\":1,"\\\\":2}']) {
      expect(scanJson(text)).toEqual(referenceScan(text));
      expect(scanJson(text).problem).toBeDefined();
    }
  });

  it('stops at the depth limit', () => {
    expect(scanJson('['.repeat(MAX_JSON_DEPTH + 1))).toEqual({ tooDeep: true });
    expect(scanJson('['.repeat(MAX_JSON_DEPTH) + ']'.repeat(MAX_JSON_DEPTH))).toEqual({ tooDeep: false });
  });
});
