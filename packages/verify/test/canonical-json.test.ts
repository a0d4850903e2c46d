import referenceCanonicalize from 'canonicalize';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalize, canonicalizeToBuffer, JcsError, MAX_CANONICAL_DEPTH, VerifyError } from '../src/index.js';

function fromHex(hex: string): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setBigUint64(0, BigInt(`0x${hex}`));
  return view.getFloat64(0);
}

function jcsCode(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(JcsError);
    expect(err).toBeInstanceOf(VerifyError);
    return (err as JcsError).code;
  }
  return undefined;
}

// A lone surrogate makes a string unrepresentable in UTF-8 (RFC 8785 §3.2.2.2).
function hasLoneSurrogate(s: string): boolean {
  return /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s);
}

describe('canonicalize: RFC 8785 examples', () => {
  // RFC 8785 Appendix B: IEEE 754 bit patterns and their canonical text.
  it.each([
    ['0000000000000000', '0'],
    ['8000000000000000', '0'],
    ['0000000000000001', '5e-324'],
    ['8000000000000001', '-5e-324'],
    ['7fefffffffffffff', '1.7976931348623157e+308'],
    ['ffefffffffffffff', '-1.7976931348623157e+308'],
    ['4340000000000000', '9007199254740992'],
    ['c340000000000000', '-9007199254740992'],
    ['4430000000000000', '295147905179352830000'],
    ['44b52d02c7e14af5', '9.999999999999997e+22'],
    ['44b52d02c7e14af6', '1e+23'],
    ['44b52d02c7e14af7', '1.0000000000000001e+23'],
    ['444b1ae4d6e2ef4e', '999999999999999700000'],
    ['444b1ae4d6e2ef4f', '999999999999999900000'],
    ['444b1ae4d6e2ef50', '1e+21'],
    ['3eb0c6f7a0b5ed8c', '9.999999999999997e-7'],
    ['3eb0c6f7a0b5ed8d', '0.000001'],
    ['41b3de4355555553', '333333333.3333332'],
    ['41b3de4355555554', '333333333.33333325'],
    ['41b3de4355555555', '333333333.3333333'],
    ['41b3de4355555556', '333333333.3333334'],
    ['41b3de4355555557', '333333333.33333343'],
    ['becbf647612f3696', '-0.0000033333333333333333'],
    ['43143ff3c1cb0959', '1424953923781206.2'],
  ])('serialises the double %s as %s (Appendix B)', (hex, expected) => {
    expect(canonicalize(fromHex(hex))).toBe(expected);
    expect(canonicalize([fromHex(hex)])).toBe(`[${expected}]`);
  });

  it.each([
    [1e21, '1e+21'],
    [0.000001, '0.000001'],
    [1e-7, '1e-7'],
    [-0, '0'],
    // eslint-disable-next-line no-loss-of-precision -- the RFC's literal, which rounds to 333333333.3333333
    [333333333.33333329, '333333333.3333333'],
    [5e-324, '5e-324'],
    [1.7976931348623157e308, '1.7976931348623157e+308'],
    [2 ** 53 + 2, '9007199254740994'],
  ])('serialises %s as %s', (value, expected) => {
    expect(canonicalize(value)).toBe(expected);
  });

  it('rejects the Appendix B NaN and Infinity patterns', () => {
    expect(jcsCode(() => canonicalize(fromHex('7fffffffffffffff')))).toBe('SP_VERIFY_JCS_NON_FINITE');
    expect(jcsCode(() => canonicalize(fromHex('7ff0000000000000')))).toBe('SP_VERIFY_JCS_NON_FINITE');
  });

  it('canonicalises the §3.2.2 sample', () => {
    const input =
      '{\n  "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],\n' +
      '  "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",\n  "literals": [null, true, false]\n}';
    expect(canonicalize(JSON.parse(input))).toBe(
      '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
    );
  });

  it('orders the §3.2.3 sample by UTF-16 code units', () => {
    const input = {
      '\u20ac': 'Euro Sign',
      '\r': 'Carriage Return',
      '\ufb33': 'Hebrew Letter Dalet With Dagesh',
      '1': 'One',
      '\ud83d\ude00': 'Emoji: Grinning Face',
      '\u0080': 'Control',
      '\u00f6': 'Latin Small Letter O With Diaeresis',
    };
    // Object.values would list the integer-like key "1" first, so compare the text itself.
    expect(canonicalize(input)).toBe(
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis",' +
        '"\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    );
  });

  it('encodes the output as UTF-8 for hashing and signing', () => {
    expect(canonicalizeToBuffer({ '€': 1 }).toString('hex')).toBe('7b22e282ac223a317d');
  });
});

describe('canonicalize: refuses what RFC 8785 cannot represent', () => {
  it.each([
    ['a lone high surrogate', 'a\ud800b'],
    ['a lone low surrogate', '\udc00'],
    ['a trailing high surrogate', 'x\ud83d'],
    ['reversed surrogates', '\ude00\ud83d'],
  ])('rejects %s in a string and in a member name', (_label, s) => {
    expect(jcsCode(() => canonicalize(s))).toBe('SP_VERIFY_JCS_LONE_SURROGATE');
    expect(jcsCode(() => canonicalize({ ok: [s] }))).toBe('SP_VERIFY_JCS_LONE_SURROGATE');
    expect(jcsCode(() => canonicalize({ [s]: 1 }))).toBe('SP_VERIFY_JCS_LONE_SURROGATE');
  });

  it.each([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY])('rejects %s', (n) => {
    expect(jcsCode(() => canonicalize(n))).toBe('SP_VERIFY_JCS_NON_FINITE');
    expect(jcsCode(() => canonicalize({ a: [1, n] }))).toBe('SP_VERIFY_JCS_NON_FINITE');
  });

  it.each([
    ['undefined at the top level', undefined],
    ['a function', { f: () => 1 }],
    ['a function in an array', [() => 1]],
    ['a symbol', { s: Symbol('x') }],
    ['a symbol in an array', [Symbol('x')]],
    ['a bigint', { n: 1n }],
    ['a boxed number', { n: Object(1) as unknown }],
    ['a boxed string', { s: Object('ab') as unknown }],
    ['a toJSON that returns undefined', { d: { toJSON: () => undefined } }],
  ])('rejects %s as unsupported', (_label, value) => {
    expect(jcsCode(() => canonicalize(value))).toBe('SP_VERIFY_JCS_UNSUPPORTED');
  });

  it('rejects circular values and nesting past the limit with a typed error, not a stack overflow', () => {
    const circular: Record<string, unknown> = { a: 1 };
    circular.self = circular;
    expect(jcsCode(() => canonicalize(circular))).toBe('SP_VERIFY_JCS_TOO_DEEP');
    const selfJson = { toJSON: (): unknown => selfJson };
    expect(jcsCode(() => canonicalize(selfJson))).toBe('SP_VERIFY_JCS_TOO_DEEP');
    const deep = JSON.parse('['.repeat(100_000) + ']'.repeat(100_000)) as unknown;
    expect(jcsCode(() => canonicalize(deep))).toBe('SP_VERIFY_JCS_TOO_DEEP');
    const atLimit = JSON.parse('['.repeat(MAX_CANONICAL_DEPTH) + ']'.repeat(MAX_CANONICAL_DEPTH)) as unknown;
    expect(canonicalize(atLimit)).toBe('['.repeat(MAX_CANONICAL_DEPTH) + ']'.repeat(MAX_CANONICAL_DEPTH));
  });
});

describe('canonicalize: JSON.stringify conventions kept', () => {
  it('skips members whose value is undefined and writes undefined array items as null', () => {
    expect(canonicalize({ b: undefined, a: [undefined, 1] })).toBe('{"a":[null,1]}');
  });

  it('writes array holes as null (the reference would write "[,1]", which is not JSON)', () => {
    // eslint-disable-next-line no-sparse-arrays -- the hole is the point
    expect(canonicalize([, 1])).toBe('[null,1]');
  });

  it('honours toJSON as the reference does', () => {
    const value = { when: new Date(0), custom: { toJSON: () => ({ z: 1, a: [new Date(1000)] }) }, buf: Buffer.from('hi') };
    expect(canonicalize(value)).toBe(reference(value));
    expect(canonicalize(value)).toBe(
      '{"buf":{"data":[104,105],"type":"Buffer"},"custom":{"a":["1970-01-01T00:00:01.000Z"],"z":1},"when":"1970-01-01T00:00:00.000Z"}',
    );
  });

  it('treats objects without a prototype as plain objects', () => {
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, { b: 1, a: 2 });
    expect(canonicalize(bare)).toBe('{"a":2,"b":1}');
  });
});

function reference(value: unknown): string | undefined {
  return referenceCanonicalize(value);
}

describe('canonicalize: byte-identical to the reference implementation (canonicalize@4)', () => {
  const binaryString = fc.string({ unit: 'binary', maxLength: 12 });
  const interestingNumber = fc.oneof(
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.constantFrom(-0, 0, 5e-324, -5e-324, Number.MAX_VALUE, -Number.MAX_VALUE, Number.MIN_VALUE, 1e21, 1e-7, 1e-6, 0.1, 1e20),
    fc.bigInt({ min: -(2n ** 53n) - 4096n, max: 2n ** 53n + 4096n }).map(Number),
    fc.integer({ min: -1_000_000, max: 1_000_000 }).chain((m) => fc.integer({ min: -330, max: 300 }).map((e) => Number(`${m}e${e}`))),
  );
  const leaf = fc.oneof(fc.constant(null), fc.boolean(), interestingNumber, binaryString);
  const { tree } = fc.letrec<{ tree: unknown }>((tie) => ({
    tree: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      leaf,
      fc.array(tie('tree'), { maxLength: 6 }),
      fc.dictionary(binaryString, tie('tree'), { maxKeys: 8 }),
    ),
  }));

  it('on fc.jsonValue()', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(canonicalize(value)).toBe(reference(value));
      }),
      { numRuns: 2000 },
    );
  });

  it('on fc.jsonValue() with full-Unicode strings', () => {
    fc.assert(
      fc.property(fc.jsonValue({ stringUnit: 'binary' }), (value) => {
        expect(canonicalize(value)).toBe(reference(value));
      }),
      { numRuns: 2000 },
    );
  });

  it('on objects with full-Unicode member names and extreme doubles', () => {
    fc.assert(
      fc.property(tree, (value) => {
        expect(canonicalize(value)).toBe(reference(value));
      }),
      { numRuns: 3000 },
    );
  });

  it('on numbers alone', () => {
    fc.assert(
      fc.property(interestingNumber, (n) => {
        expect(canonicalize(n)).toBe(reference(n));
      }),
      { numRuns: 5000 },
    );
  });

  it('re-canonicalising canonical text is the identity', () => {
    fc.assert(
      fc.property(tree, (value) => {
        const once = canonicalize(value);
        expect(canonicalize(JSON.parse(once))).toBe(once);
      }),
      { numRuns: 1000 },
    );
  });

  it('rejects exactly the strings with a lone surrogate, as the reference does', () => {
    const anyCodeUnits = fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 8 });
    const nearSurrogates = fc.string({ unit: fc.constantFrom('\ud83d', '\ude00', 'a', '\ud800', '\udfff'), maxLength: 6 });
    fc.assert(
      fc.property(fc.oneof(anyCodeUnits, nearSurrogates), fc.boolean(), (s, asKey) => {
        const value = asKey ? { [s]: 0 } : [s];
        if (hasLoneSurrogate(s)) {
          expect(jcsCode(() => canonicalize(value))).toBe('SP_VERIFY_JCS_LONE_SURROGATE');
          expect(() => reference(value)).toThrow();
        } else {
          expect(canonicalize(value)).toBe(reference(value));
        }
      }),
      { numRuns: 3000 },
    );
  });
});
