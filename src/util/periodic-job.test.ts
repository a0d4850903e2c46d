import { describe, expect, it } from 'vitest';
import { startPeriodicJob } from './periodic-job.js';

describe('startPeriodicJob', () => {
  it('never runs two at once, carries on after a failure, and stop() waits for the run in progress', async () => {
    let active = 0;
    let maxActive = 0;
    let runs = 0;
    const errors: unknown[] = [];
    const job = startPeriodicJob({
      intervalMs: 1,
      runAtStart: true,
      jitter: 0.5,
      onError: (err) => errors.push(err),
      run: async () => {
        active++;
        maxActive = Math.max(maxActive, active);
        runs++;
        await new Promise((resolve) => setTimeout(resolve, 5));
        active--;
        if (runs === 2) throw new Error('injected');
      },
    });
    await Promise.all([job.runOnce(), job.runOnce()]);
    await expect.poll(() => runs, { timeout: 5_000 }).toBeGreaterThanOrEqual(5);
    await job.stop();
    const after = runs;
    expect(active).toBe(0);
    expect(maxActive).toBe(1);
    expect(errors).toHaveLength(1);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(runs).toBe(after);
  });
});
