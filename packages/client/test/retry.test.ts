import { describe, expect, it } from 'vitest';
import { backoffDelay, parseRetryAfter } from '../src/index.js';

describe('Retry-After', () => {
  it('reads delay-seconds and IMF-fixdate HTTP-dates', () => {
    expect(parseRetryAfter('7')).toBe(7000);
    expect(parseRetryAfter(' 0 ')).toBe(0);
    expect(parseRetryAfter('Wed, 21 Oct 2026 07:28:00 GMT', Date.parse('Wed, 21 Oct 2026 07:27:30 GMT'))).toBe(30_000);
    expect(parseRetryAfter('Wed, 21 Oct 2026 07:28:00 GMT', Date.parse('Wed, 21 Oct 2026 07:29:00 GMT'))).toBe(0);
  });

  it('ignores what is neither', () => {
    for (const value of [undefined, null, '', '-1', '1.5', 'soon', '2026-10-21T07:28:00Z']) expect(parseRetryAfter(value)).toBeUndefined();
  });
});

describe('back-off', () => {
  it('doubles its ceiling per attempt up to the cap, with full jitter', () => {
    const policy = { baseDelayMs: 500, maxDelayMs: 3000 };
    expect([1, 2, 3, 4, 5].map((n) => backoffDelay(n, policy, () => 0.999_999))).toEqual([499, 999, 1999, 2999, 2999]);
    expect(backoffDelay(4, policy, () => 0)).toBe(0);
  });
});
