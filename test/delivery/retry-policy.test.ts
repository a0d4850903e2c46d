import { describe, expect, it } from 'vitest';
import { forwardHeaders, validateCustomHeaders } from '../../src/delivery/forwarded-request.js';
import { parseRetryAfter } from '../../src/delivery/http-sender.js';
import { jittered, nextStep } from '../../src/delivery/retry-policy.js';

const SCHEDULE = [0, 5_000, 300_000];

describe('retry policy', () => {
  it('succeeds on 2xx and stops on 410 whatever the schedule says', () => {
    expect(nextStep({ kind: 'succeeded' }, 1, SCHEDULE, 1_000)).toEqual({ status: 'succeeded' });
    expect(nextStep({ kind: 'gone' }, 1, SCHEDULE, 1_000)).toEqual({ status: 'stopped' });
  });

  it('schedules attempt n+1 after schedule[n], and dead-letters after the last', () => {
    const mid = () => 0.5;
    expect(nextStep({ kind: 'failed' }, 1, SCHEDULE, 1_000, mid)).toEqual({ status: 'pending', nextAttemptAt: 6_000 });
    expect(nextStep({ kind: 'failed' }, 2, SCHEDULE, 1_000, mid)).toEqual({ status: 'pending', nextAttemptAt: 301_000 });
    expect(nextStep({ kind: 'failed' }, 3, SCHEDULE, 1_000, mid)).toEqual({ status: 'dead' });
    // A replayed delivery past its schedule gets exactly that one attempt.
    expect(nextStep({ kind: 'failed' }, 9, SCHEDULE, 1_000, mid)).toEqual({ status: 'dead' });
  });

  it('honours a longer Retry-After, bounded by the schedule\'s longest delay, and never retries sooner than planned', () => {
    const mid = () => 0.5;
    // Asked for a minute after attempt 1 (planned: 5 s): a minute.
    expect(nextStep({ kind: 'failed', retryAfterMs: 60_000 }, 1, SCHEDULE, 1_000, mid)).toEqual({ status: 'pending', nextAttemptAt: 61_000 });
    // Asked for a day: the schedule's longest delay (5 min) at most.
    expect(nextStep({ kind: 'failed', retryAfterMs: 86_400_000 }, 1, SCHEDULE, 1_000, mid)).toEqual({ status: 'pending', nextAttemptAt: 301_000 });
    // Asked for a second, when 5 min were planned: 5 min.
    expect(nextStep({ kind: 'failed', retryAfterMs: 1_000 }, 2, SCHEDULE, 1_000, mid)).toEqual({ status: 'pending', nextAttemptAt: 301_000 });
    // Past the schedule, Retry-After does not buy another attempt.
    expect(nextStep({ kind: 'failed', retryAfterMs: 1_000 }, 3, SCHEDULE, 1_000, mid)).toEqual({ status: 'dead' });
  });

  it('reads Retry-After as delay-seconds or an HTTP-date, and ignores anything else', () => {
    const now = Date.UTC(2026, 11, 5, 12, 0, 0);
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter('Sat, 05 Dec 2026 12:10:00 GMT', now)).toBe(600_000);
    expect(parseRetryAfter('Sat, 05 Dec 2026 11:00:00 GMT', now)).toBeUndefined();
    for (const bad of ['-1', '1.5', 'soon', '', '99999999999', undefined]) expect(parseRetryAfter(bad, now)).toBeUndefined();
    expect(parseRetryAfter(['30', '60'], now)).toBe(30_000);
  });

  it('jitters by at most 10 % either way and never below zero', () => {
    expect(jittered(10_000, () => 0)).toBe(9_000);
    expect(jittered(10_000, () => 0.999999)).toBe(11_000);
    expect(jittered(0, () => 0)).toBe(0);
    for (let i = 0; i < 1_000; i++) {
      const d = jittered(5_000);
      expect(d).toBeGreaterThanOrEqual(4_500);
      expect(d).toBeLessThanOrEqual(5_500);
    }
  });
});

describe('forwarded request headers', () => {
  it('puts Sealpost and signer headers over custom ones, whatever their case', () => {
    const headers = forwardHeaders({
      webhookId: 'msg_1',
      timestamp: 1_700_000_000,
      custom: { 'Webhook-Id': 'evil', 'USER-AGENT': 'evil', 'Webhook-Signature': 'forged', 'X-Team': 'ops', Authorization: 'Bearer t', 'Sealpost-Forwarded': '0' },
      signed: { 'webhook-signature': 'v1a,sig', 'sealpost-key-id': 'kid' },
    });
    expect(headers).toEqual({
      'x-team': 'ops',
      authorization: 'Bearer t',
      'webhook-signature': 'v1a,sig',
      'sealpost-key-id': 'kid',
      'content-type': 'application/json',
      'webhook-id': 'msg_1',
      'webhook-timestamp': '1700000000',
      'user-agent': 'Sealpost/0.1.0',
      // The loop marker: a Sealpost API refuses to ingest a request carrying it.
      'sealpost-forwarded': '1',
    });
  });

  it('refuses reserved, duplicate, malformed and too many custom headers', () => {
    expect(() => validateCustomHeaders({ Authorization: 'Bearer x', 'X-A': 'b' })).not.toThrow();
    const bads: Record<string, string>[] = [{ 'webhook-timestamp': '1' }, { Host: 'x' }, { 'Transfer-Encoding': 'chunked' }, { 'x-a': '1', 'X-A': '2' }, { 'a:b': 'x' }, { 'X-A': 'é' }];
    for (const bad of bads) {
      expect(() => validateCustomHeaders(bad), JSON.stringify(bad)).toThrow(expect.objectContaining({ code: 'SP_ERR_DESTINATION_HEADER_INVALID' }));
    }
    const many = Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`X-H${i}`, 'v']));
    expect(() => validateCustomHeaders(many)).toThrow(/At most 20/);
  });
});
