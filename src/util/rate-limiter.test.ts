import { describe, expect, it } from 'vitest';
import { leaseFor, MemoryCounterStore, WindowRateLimiter, type WindowCounterStore } from './rate-limiter.js';

const T0 = 1_900_000_020_000 - (1_900_000_020_000 % 60_000) + 15_000;

async function allowed(limiter: WindowRateLimiter, key: string, times: number): Promise<number> {
  let ok = 0;
  for (let i = 0; i < times; i++) if ((await limiter.hit(key)) === 0) ok++;
  return ok;
}

describe('WindowRateLimiter', () => {
  it('never lets processes sharing a store exceed the limit, leases included', async () => {
    const store = new MemoryCounterStore();
    const a = new WindowRateLimiter({ limitPerMinute: 25, store, lease: 10, now: () => T0 });
    const b = new WindowRateLimiter({ limitPerMinute: 25, store, lease: 10, now: () => T0 });
    const got = (await allowed(a, 'ip:x', 12)) + (await allowed(b, 'ip:x', 30)) + (await allowed(a, 'ip:x', 30));
    // a holds 8 unused of its second lease: refused early, never late.
    expect(got).toBeLessThanOrEqual(25);
    expect(got).toBeGreaterThanOrEqual(25 - 9);
  });

  it('asks the store once per lease, and not at all once the window is full', async () => {
    let calls = 0;
    const inner = new MemoryCounterStore();
    const store: WindowCounterStore = { add: (...args) => ((calls += 1), inner.add(...args)), sweep: (before) => inner.sweep(before) };
    const limiter = new WindowRateLimiter({ limitPerMinute: 30, store, lease: 10, now: () => T0 });
    expect(await allowed(limiter, 'k', 1000)).toBe(30);
    expect(calls).toBe(3);
  });

  it('answers the seconds left in the window and starts afresh in the next one', async () => {
    let now = T0;
    const limiter = new WindowRateLimiter({ limitPerMinute: 1, now: () => now });
    expect(await limiter.hit('k')).toBe(0);
    expect(await limiter.hit('k')).toBe(45);
    now += 45_000;
    expect(await limiter.hit('k')).toBe(0);
  });

  it('counts in process memory while the store fails', async () => {
    const errors: unknown[] = [];
    const store: WindowCounterStore = { add: async () => Promise.reject(new Error('db down')), sweep: async () => {} };
    const limiter = new WindowRateLimiter({ limitPerMinute: 3, store, now: () => T0, onStoreError: (e) => errors.push(e) });
    expect(await allowed(limiter, 'k', 5)).toBe(3);
    expect(errors.length).toBeGreaterThan(0);
  });

  it('leases a hundredth of the limit, 1 to 100', () => {
    expect([leaseFor(50), leaseFor(199), leaseFor(6000), leaseFor(12_000), leaseFor(1_000_000)]).toEqual([1, 1, 60, 100, 100]);
  });
});
