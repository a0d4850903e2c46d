export interface PeriodicJob {
  /** Runs the job now, after any run in progress (never two at once); resolves when it is done. */
  runOnce(): Promise<void>;
  /** Stops the timer and waits for a run in progress; no run starts afterwards. */
  stop(): Promise<void>;
  /** Whether the job runs on time and its last run succeeded (readiness of the roles that run it). */
  health(): PeriodicJobHealth;
}

export interface PeriodicJobHealth {
  readonly name: string;
  /** On time and the last run (if any) succeeded. */
  readonly ok: boolean;
  /** A run should have started, or the one in progress should have finished, more than one interval ago. */
  readonly late: boolean;
  readonly lastSucceededAt: string | null;
  /** The last run's error message when it failed (the log has the whole error). */
  readonly lastError: string | null;
}

export interface PeriodicJobOptions {
  /** Names the job in health reports. */
  readonly name?: string;
  /** Time from the end of one run to the start of the next. */
  readonly intervalMs: number;
  readonly run: () => Promise<void>;
  /** A failed run is reported here and the job carries on at the next interval. */
  readonly onError: (err: unknown) => void;
  /** Run once at start instead of after the first interval. */
  readonly runAtStart?: boolean;
  /**
   * Each interval is moved by up to this fraction either way (0.1 = ±10 %), so processes started
   * together do not all run a shared job at the same moment. 0 by default.
   */
  readonly jitter?: number;
  /** Jitter source, in [0, 1). */
  readonly random?: () => number;
  /** Clock of the health report. */
  readonly now?: () => number;
}

/**
 * The one periodic-job runner: the next run is scheduled only when the previous one has
 * finished (no overlap, however long a run takes), the timer never keeps the process alive (the
 * role that runs it does: see src/cli/commands/start.command.ts), and `stop()` waits for the
 * run in progress. `health()` says whether it keeps its schedule: a run that has not started
 * one interval after it was due, or has run for longer than one interval, is late.
 */
export function startPeriodicJob(options: PeriodicJobOptions): PeriodicJob {
  const jitter = options.jitter ?? 0;
  const random = options.random ?? Math.random;
  const now = options.now ?? Date.now;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let running: Promise<void> = Promise.resolve();
  // When the timer's next run is due, and when the run in progress (if any) started.
  let dueAt = now();
  let startedAt: number | undefined;
  let lastSucceededAt: number | undefined;
  let lastError: string | null = null;

  const runOnce = (): Promise<void> => {
    running = running.then(async () => {
      if (stopped) return;
      startedAt = now();
      try {
        await options.run();
        lastSucceededAt = now();
        lastError = null;
      } catch (err) {
        lastError = err instanceof Error ? err.message : String(err);
        options.onError(err);
      } finally {
        startedAt = undefined;
      }
    });
    return running;
  };
  const schedule = (): void => {
    if (stopped) return;
    const delay = Math.max(0, Math.round(options.intervalMs * (1 + jitter * (2 * random() - 1))));
    dueAt = now() + delay;
    timer = setTimeout(() => void runOnce().finally(schedule), delay);
    timer.unref();
  };

  if (options.runAtStart === true) void runOnce().finally(schedule);
  else schedule();

  return {
    runOnce,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
    health() {
      const late = !stopped && now() > (startedAt ?? dueAt) + options.intervalMs;
      return {
        name: options.name ?? 'job',
        ok: !late && lastError === null,
        late,
        lastSucceededAt: lastSucceededAt === undefined ? null : new Date(lastSucceededAt).toISOString(),
        lastError,
      };
    },
  };
}
