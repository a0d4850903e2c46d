import { createHash } from 'node:crypto';
import type { LoginThrottleRepository } from './login-throttle.repository.js';

/** Failures allowed before back-off starts: typing mistakes cost nothing. */
export const FREE_FAILURES = { account: 5, ip: 20 } as const;
/** The back-off doubles from 1 s with each failure past the free ones, up to this. */
export const MAX_BACKOFF_MS = 15 * 60_000;
/** A quiet account or address is forgiven after this long. */
const FORGET_AFTER_MS = 24 * 3_600_000;

/**
 * Exponential back-off on failed sign-ins, per account and per client IP. The account key is the
 * SHA-256 of the normalised e-mail, known or not, so the throttle answers alike for accounts
 * that do not exist (no enumeration) and stores no address.
 */
export class LoginThrottle {
  constructor(
    private readonly repository: LoginThrottleRepository,
    private readonly now: () => number,
  ) {}

  static accountKey(emailNormalized: string): string {
    return `acct:${createHash('sha256').update(emailNormalized, 'utf8').digest('hex')}`;
  }

  static ipKey(ip: string): string {
    return `ip:${ip}`;
  }

  /** Milliseconds until a sign-in may be tried again under any of `keys`; 0 when allowed now. */
  async waitMs(keys: readonly string[]): Promise<number> {
    const now = this.now();
    let wait = 0;
    for (const key of keys) {
      const state = await this.repository.find(key);
      if (state && state.blockedUntil > now) wait = Math.max(wait, state.blockedUntil - now);
    }
    return wait;
  }

  async failed(key: string, free: number): Promise<void> {
    const now = this.now();
    const previous = await this.repository.find(key);
    // A day without failures forgives the count; the back-off then starts afresh.
    const stale = previous !== undefined && previous.updatedAt + FORGET_AFTER_MS < now;
    const failures = (stale ? 0 : (previous?.failures ?? 0)) + 1;
    const over = failures - free;
    const blockedUntil = over > 0 ? now + Math.min(MAX_BACKOFF_MS, 1000 * 2 ** Math.min(over - 1, 20)) : 0;
    await this.repository.save(key, { failures, blockedUntil }, now);
  }

  async succeeded(key: string): Promise<void> {
    await this.repository.clear(key);
  }
}
