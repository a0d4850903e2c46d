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

  it('reports a job late when a run overstays its interval, and failing until a run succeeds', async () => {
    let clock = 1_000_000;
    const gate: { release?: () => void } = {};
    const release = (): void => gate.release?.();
    let fail = false;
    const job = startPeriodicJob({
      name: 'checkpoint',
      intervalMs: 60_000,
      now: () => clock,
      onError: () => undefined,
      run: async () => {
        if (fail) throw new Error('database unavailable');
        await new Promise<void>((resolve) => (gate.release = resolve));
      },
    });
    expect(job.health()).toMatchObject({ name: 'checkpoint', ok: true, late: false, lastSucceededAt: null });
    clock += 60_001 + 60_000;
    expect(job.health()).toMatchObject({ ok: false, late: true });
    const hung = job.runOnce();
    await expect.poll(() => gate.release !== undefined).toBe(true);
    expect(job.health().late).toBe(false);
    clock += 60_001;
    expect(job.health()).toMatchObject({ ok: false, late: true });
    release();
    await hung;
    fail = true;
    await job.runOnce();
    expect(job.health()).toMatchObject({ ok: false, lastError: 'database unavailable' });
    fail = false;
    delete gate.release;
    const next = job.runOnce();
    await expect.poll(() => gate.release !== undefined).toBe(true);
    release();
    await next;
    expect(job.health()).toMatchObject({ lastError: null, lastSucceededAt: new Date(clock).toISOString() });
    await job.stop();
  });
});
