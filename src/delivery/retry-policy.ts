/** Retry delays are spread by this fraction either way, so failures that happened together do not retry together. */
export const RETRY_JITTER = 0.1;

/** `retryAfterMs`: the receiver asked for this pause (a 429 or 503 with `Retry-After`). */
export type AttemptResult = { kind: 'succeeded' } | { kind: 'gone' } | { kind: 'failed'; retryAfterMs?: number };

export type NextStep =
  | { status: 'succeeded' }
  | { status: 'stopped' }
  | { status: 'dead' }
  | { status: 'pending'; nextAttemptAt: number };

/**
 * What follows attempt number `attempt` (1-based). `schedule[i]` is the delay before attempt
 * i + 1, so a schedule of n entries allows n attempts; the first attempt is due when the
 * delivery is written. 2xx succeeds, 410 Gone stops retrying, anything else retries until the
 * schedule is used up, then the delivery is dead-lettered. A replayed delivery (attempt > n)
 * gets that one attempt. A receiver's `Retry-After` is honoured when it asks for a longer pause
 * than the schedule's, but never beyond the schedule's longest delay: a receiver cannot park a
 * delivery for a year, nor make Sealpost retry sooner than planned.
 */
export function nextStep(result: AttemptResult, attempt: number, schedule: readonly number[], now: number, random: () => number = Math.random): NextStep {
  if (result.kind === 'succeeded') return { status: 'succeeded' };
  if (result.kind === 'gone') return { status: 'stopped' };
  const delay = schedule[attempt];
  if (delay === undefined) return { status: 'dead' };
  const planned = jittered(delay, random);
  const asked = result.retryAfterMs === undefined ? 0 : Math.min(result.retryAfterMs, Math.max(...schedule));
  return { status: 'pending', nextAttemptAt: now + Math.max(planned, asked) };
}

/** `delay` ± 10 %, never negative. */
export function jittered(delay: number, random: () => number = Math.random): number {
  return Math.max(0, Math.round(delay * (1 + RETRY_JITTER * (2 * random() - 1))));
}
