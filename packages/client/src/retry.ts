/**
 * The back-off between attempts: exponential with full jitter (each delay uniform in
 * [0, min(cap, base·2^(attempt-1))]), so many senders that failed together do not retry together.
 *
 * @example
 * ```ts
 * import { backoffDelay } from '@sealpost/client';
 * backoffDelay(3, { baseDelayMs: 500, maxDelayMs: 30_000 }); // somewhere in 0–2000 ms
 * ```
 */
export function backoffDelay(attempt: number, policy: { baseDelayMs: number; maxDelayMs: number }, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(random() * ceiling);
}

/**
 * Reads a `Retry-After` header (RFC 9110 §10.2.3): delay-seconds or an HTTP-date. Returns
 * milliseconds from `now`, or undefined when the header is absent or unreadable.
 *
 * @example
 * ```ts
 * import { parseRetryAfter } from '@sealpost/client';
 * parseRetryAfter('7'); // 7000
 * parseRetryAfter('Wed, 21 Oct 2026 07:28:00 GMT', Date.parse('Wed, 21 Oct 2026 07:27:30 GMT')); // 30000
 * ```
 */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (value === null || value === undefined) return undefined;
  const text = value.trim();
  if (/^\d{1,10}$/.test(text)) return Number(text) * 1000;
  // Only the IMF-fixdate form servers must send; Date.parse alone would also read "1" or "2026" as dates.
  if (!/^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/.test(text)) return undefined;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
