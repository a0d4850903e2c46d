import { decodeTime, isValid } from 'ulid';
import { describe, expect, it } from 'vitest';
import { pooledRandomBytes } from './random-pool.js';
import { ulid } from './ulid.js';

describe('ulid', () => {
  it('makes valid, distinct ULIDs carrying the given or current time', () => {
    const ids = new Set(Array.from({ length: 10_000 }, () => ulid()));
    expect(ids.size).toBe(10_000);
    for (const id of [...ids].slice(0, 50)) expect(isValid(id)).toBe(true);
    expect(decodeTime(ulid(1_700_000_000_123))).toBe(1_700_000_000_123);
    expect(Math.abs(decodeTime(ulid()) - Date.now())).toBeLessThan(5_000);
  });

  it('draws every random character evenly from the CSPRNG pool', () => {
    const counts = new Map<string, number>();
    for (let i = 0; i < 4_000; i++) for (const ch of ulid().slice(10)) counts.set(ch, (counts.get(ch) ?? 0) + 1);
    // 64,000 draws over 32 characters: 2,000 each on average; a stuck or biased source is far off.
    expect(counts.size).toBe(32);
    for (const n of counts.values()) expect(n).toBeGreaterThan(1_600);
  });
});

describe('pooledRandomBytes', () => {
  it('never hands out the same bytes twice, across pool refills', () => {
    const seen = new Set<string>();
    // 3,000 × 12 bytes spans several 8 KB refills.
    for (let i = 0; i < 3_000; i++) seen.add(pooledRandomBytes(12).toString('hex'));
    expect(seen.size).toBe(3_000);
    expect(() => pooledRandomBytes(257)).toThrow(RangeError);
  });

  it('returns copies that later draws do not overwrite', () => {
    const first = pooledRandomBytes(16);
    const snapshot = Buffer.from(first);
    for (let i = 0; i < 1_000; i++) pooledRandomBytes(16);
    expect(first.equals(snapshot)).toBe(true);
  });
});
