export interface PeriodicJob {
  /** Runs the job now, after any run in progress (never two at once); resolves when it is done. */
  runOnce(): Promise<void>;
  /** Stops the timer and waits for a run in progress; no run starts afterwards. */
  stop(): Promise<void>;
}

export interface PeriodicJobOptions {
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
}

/**
 * The one periodic-job runner: the next run is scheduled only when the previous one has
 * finished (no overlap, however long a run takes), the timer never keeps the process alive, and
 * `stop()` waits for the run in progress.
 */
export function startPeriodicJob(options: PeriodicJobOptions): PeriodicJob {
  const jitter = options.jitter ?? 0;
  const random = options.random ?? Math.random;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let running: Promise<void> = Promise.resolve();

  const runOnce = (): Promise<void> => {
    running = running.then(() => (stopped ? undefined : options.run().catch((err: unknown) => options.onError(err))));
    return running;
  };
  const schedule = (): void => {
    if (stopped) return;
    const delay = Math.max(0, Math.round(options.intervalMs * (1 + jitter * (2 * random() - 1))));
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
  };
}
