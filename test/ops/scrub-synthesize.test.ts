import { describe, expect, it } from 'vitest';
import { synthesize } from '../../src/ops/backup/scrub.js';

describe('scrubbed values', () => {
  it('never keep an original leaf, however short', () => {
    // One letter or digit: a random replacement of the same shape used to equal it 1 time in 26 (or 10).
    for (let i = 0; i < 500; i++) {
      const out = synthesize({ owner: 'b', n: 7, zero: 0, f: 1.5, neg: -3 }) as Record<string, unknown>;
      expect(out.owner).not.toBe('b');
      expect(out.n).not.toBe(7);
      expect(out.zero).not.toBe(0);
      expect(out.f).not.toBe(1.5);
      expect(out.neg).not.toBe(-3);
      expect(String(out.owner)).toMatch(/^[a-z]$/);
      expect(String(out.n)).toMatch(/^\d$/);
      expect(out.neg as number).toBeLessThanOrEqual(0);
    }
  });

  it('keeps empty strings empty and the shape of everything else', () => {
    expect(synthesize({ a: '', b: [1, 'xy'] })).toMatchObject({ a: '', b: [expect.any(Number), expect.stringMatching(/^[a-z]{2}$/)] });
  });
});
