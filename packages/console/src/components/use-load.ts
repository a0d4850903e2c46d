import { useCallback, useEffect, useState } from 'react';

export type Loaded<T> = { readonly status: 'loading' } | { readonly status: 'error'; readonly error: unknown } | { readonly status: 'ready'; readonly value: T };

/**
 * Runs `load` when `deps` change, dropping answers that arrive after newer ones were asked for
 * (the AbortSignal cancels the stale fetch). `reload` runs it again.
 */
export function useLoad<T>(load: (signal: AbortSignal) => Promise<T>, deps: readonly unknown[]): Loaded<T> & { reload(): void } {
  const [state, setState] = useState<Loaded<T>>({ status: 'loading' });
  const [round, setRound] = useState(0);
  // The caller names what the load depends on, as with useEffect.
  const run = useCallback(load, deps);
  useEffect(() => {
    const controller = new AbortController();
    setState({ status: 'loading' });
    run(controller.signal).then(
      (value) => {
        if (!controller.signal.aborted) setState({ status: 'ready', value });
      },
      (error: unknown) => {
        if (!controller.signal.aborted) setState({ status: 'error', error });
      },
    );
    return () => controller.abort();
  }, [run, round]);
  const reload = useCallback(() => setRound((r) => r + 1), []);
  return { ...state, reload };
}
