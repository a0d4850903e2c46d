/** Rate limits count requests per wall-clock minute (fixed windows). */
export const WINDOW_MS = 60_000;

/**
 * Where fixed-window counts live. In process memory when one process serves the API (SQLite);
 * in the database when several may (PostgreSQL), so a client cannot multiply its limit by the
 * number of API processes.
 */
export interface WindowCounterStore {
  /** Adds `amount` to `bucket`'s count for the window starting at `windowStart`; resolves to the new count. */
  add(bucket: string, windowStart: number, amount: number): Promise<number>;
  /** Forgets windows that started before `before`. */
  sweep(before: number): Promise<void>;
}

/** Counts in this process only: exact, and free of I/O. */
export class MemoryCounterStore implements WindowCounterStore {
  private readonly windows = new Map<number, Map<string, number>>();

  async add(bucket: string, windowStart: number, amount: number): Promise<number> {
    let counts = this.windows.get(windowStart);
    if (!counts) {
      counts = new Map();
      this.windows.set(windowStart, counts);
    }
    const count = (counts.get(bucket) ?? 0) + amount;
    counts.set(bucket, count);
    return count;
  }

  async sweep(before: number): Promise<void> {
    for (const start of this.windows.keys()) if (start < before) this.windows.delete(start);
  }
}

/**
 * How many requests one process reserves from a shared store at a time, for a given limit: a
 * hundredth of it, at most 100. Limits up to 199/min are enforced exactly (one round trip per
 * request); above that each round trip covers up to 1 % of the limit. The shared count never
 * exceeds the limit; what a process has reserved but not used by the minute's end is lost, so a
 * client spread over P processes may be refused up to P × (lease − 1) requests early (≤ 1 % of
 * the limit per process).
 */
const LEASE_FRACTION = 100;
const MAX_LEASE = 100;

export function leaseFor(limitPerMinute: number): number {
  return Math.max(1, Math.min(MAX_LEASE, Math.floor(limitPerMinute / LEASE_FRACTION)));
}

interface BucketState {
  /** Requests reserved in the store and not yet used by this process. */
  remaining: number;
  /** The store's count reached the limit: refuse without asking it again this window. */
  exhausted: boolean;
  claiming?: Promise<void>;
}

export interface RateLimiterOptions {
  readonly limitPerMinute: number;
  /** Memory by default. */
  readonly store?: WindowCounterStore;
  /** Requests reserved per round trip to the store; 1 (exact) by default, see leaseFor. */
  readonly lease?: number;
  readonly now?: () => number;
  /**
   * Called when the store fails (database down). That round trip is then counted in this
   * process's memory instead: limits degrade to per-process rather than refusing all traffic,
   * and health probes keep answering.
   */
  readonly onStoreError?: (err: unknown) => void;
}

/**
 * Fixed-window request limiter per key (a client IP, an API key) over a WindowCounterStore. A
 * refused request costs no I/O: once the store reports the limit reached, the rest of the window
 * is refused locally.
 */
export class WindowRateLimiter {
  private readonly limit: number;
  private readonly store: WindowCounterStore;
  private readonly fallback = new MemoryCounterStore();
  private readonly lease: number;
  private readonly now: () => number;
  private readonly onStoreError: (err: unknown) => void;
  private windowStart = -1;
  private buckets = new Map<string, BucketState>();

  constructor(options: RateLimiterOptions) {
    this.limit = options.limitPerMinute;
    this.store = options.store ?? new MemoryCounterStore();
    this.lease = Math.max(1, options.lease ?? 1);
    this.now = options.now ?? Date.now;
    this.onStoreError = options.onStoreError ?? (() => {});
  }

  /** Counts one request; resolves to 0 if it is allowed, else the seconds until the window resets. */
  async hit(key: string): Promise<number> {
    const now = this.now();
    const windowStart = now - (now % WINDOW_MS);
    if (windowStart !== this.windowStart) this.startWindow(windowStart);
    let state = this.buckets.get(key);
    if (!state) {
      state = { remaining: 0, exhausted: false };
      this.buckets.set(key, state);
    }
    for (;;) {
      if (state.remaining > 0) {
        state.remaining -= 1;
        return 0;
      }
      if (state.exhausted) return Math.max(1, Math.ceil((windowStart + WINDOW_MS - now) / 1000));
      // Concurrent requests of one key share one round trip.
      const current: BucketState = state;
      current.claiming ??= this.claim(key, windowStart, current).finally(() => {
        current.claiming = undefined;
      });
      await current.claiming;
    }
  }

  /** Reserves up to `lease` requests; afterwards the bucket has some remaining or is exhausted. */
  private async claim(key: string, windowStart: number, state: BucketState): Promise<void> {
    let total: number;
    try {
      total = await this.store.add(key, windowStart, this.lease);
    } catch (err) {
      this.onStoreError(err);
      total = await this.fallback.add(key, windowStart, this.lease);
    }
    const before = total - this.lease;
    state.remaining += Math.max(0, Math.min(this.lease, this.limit - before));
    if (total >= this.limit) state.exhausted = true;
  }

  private startWindow(windowStart: number): void {
    this.windowStart = windowStart;
    this.buckets = new Map();
    const before = windowStart - WINDOW_MS;
    void this.fallback.sweep(windowStart);
    // Once per window and process; an old window left behind by a failure is swept next time.
    this.store.sweep(before).catch((err: unknown) => this.onStoreError(err));
  }
}

/**
 * Synchronous fixed-window counter per key, in this process only (the SMTP ingress's per-IP
 * message limit, whose per-process scope its setting documents). The HTTPS API uses
 * WindowRateLimiter, whose counts can be shared by several processes.
 */
export class RateLimiter {
  private windowStart = 0;
  private counts = new Map<string, number>();

  constructor(
    private readonly limitPerMinute: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Counts one request; returns 0 if allowed, else the seconds until the window resets. */
  hit(key: string): number {
    const now = this.now();
    if (now - this.windowStart >= 60_000) {
      this.windowStart = now - (now % 60_000);
      this.counts = new Map();
    }
    const count = (this.counts.get(key) ?? 0) + 1;
    this.counts.set(key, count);
    return count > this.limitPerMinute ? Math.max(1, Math.ceil((this.windowStart + 60_000 - now) / 1000)) : 0;
  }
}
