/** A WAL datasync that the test completes by hand, counting the syncs started (src/db/wal-flusher.ts). */
export interface ManualSync {
  readonly datasync: () => Promise<void>;
  /** Syncs started so far. */
  readonly started: number;
  /** Syncs started and not yet finished. */
  pending(): number;
  /** Finishes the oldest pending sync, failed with `err` if given. */
  finish(err?: Error): void;
}

export function manualSync(): ManualSync {
  const waiting: { resolve: () => void; reject: (err: Error) => void }[] = [];
  let started = 0;
  return {
    datasync: () =>
      new Promise<void>((resolve, reject) => {
        started++;
        waiting.push({ resolve, reject });
      }),
    get started() {
      return started;
    },
    pending: () => waiting.length,
    finish(err) {
      const next = waiting.shift()!;
      if (err) next.reject(err);
      else next.resolve();
    },
  };
}

/** Whether `p` has settled after the current turn of the event loop. */
export async function settled<T>(p: Promise<T>): Promise<'pending' | 'resolved' | 'rejected'> {
  let state: 'pending' | 'resolved' | 'rejected' = 'pending';
  p.then(
    () => (state = 'resolved'),
    () => (state = 'rejected'),
  );
  await new Promise((r) => setImmediate(r));
  return state;
}
