import { describe, expect, it } from 'vitest';
import { deliveryState } from './probes.js';

const healthy = { oldestDueLagMs: 0, liveWorkers: 1, recentAttempts: 100, recentInternalFailures: 0 };

describe('delivery state', () => {
  it('is operational with a worker and nothing late', () => {
    expect(deliveryState(healthy).state).toBe('operational');
  });
  it('degrades, then partly fails, as the oldest due delivery waits longer', () => {
    expect(deliveryState({ ...healthy, oldestDueLagMs: 90_000 }).state).toBe('degraded');
    expect(deliveryState({ ...healthy, oldestDueLagMs: 6 * 60_000 }).state).toBe('partial_outage');
  });
  it('is a major outage when no worker runs and deliveries wait', () => {
    expect(deliveryState({ ...healthy, liveWorkers: 0 }).state).toBe('degraded');
    expect(deliveryState({ ...healthy, liveWorkers: 0, oldestDueLagMs: 120_000 }).state).toBe('major_outage');
  });
  it("counts Sealpost's own failures, not a handful of attempts", () => {
    expect(deliveryState({ ...healthy, recentInternalFailures: 20 }).state).toBe('degraded');
    expect(deliveryState({ ...healthy, recentInternalFailures: 60 }).state).toBe('partial_outage');
    expect(deliveryState({ ...healthy, recentAttempts: 5, recentInternalFailures: 5 }).state).toBe('operational');
  });
});
